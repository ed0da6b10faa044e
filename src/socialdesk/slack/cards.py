"""Slack Web API calls for cards: post, find after a crash, update, thread lines."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from typing import Any

from slack_sdk import WebClient
from slack_sdk.models.blocks import ContextBlock, MarkdownTextObject, SectionBlock
from slack_sdk.models.metadata import Metadata

from socialdesk.domain import CaseView, Post
from socialdesk.networks import registry
from socialdesk.slack import ids
from socialdesk.slack.blocks.incident import card_for, split_notice
from socialdesk.slack.text import escape, escape_within, link

HISTORY_PAGES = 5  # how far back to look for a card posted just before a crash
# Message metadata on each follow-up in a card's thread (finds it after a crash).
FOLLOW_UP_METADATA_TYPE = "socialdesk_follow_up"
SECTION_TEXT_LIMIT = 3000
FALLBACK_LIMIT = 300


def post_card(client: WebClient, view: CaseView) -> str:
    """Post the card (a member of an incident: its message in the incident card's thread); returns its ts."""
    thread = {"thread_ts": view.thread_ts} if view.in_incident_thread else {}
    response = client.chat_postMessage(channel=view.channel_id, unfurl_links=False, unfurl_media=False, **thread,
                                       **card_for(view).as_kwargs())
    return str(response["ts"])


def find_card(client: WebClient, *, channel_id: str, case_id: int, since: datetime) -> str | None:
    """The ts of a card already posted for `case_id` (by its message metadata), if any."""
    cursor = None
    oldest = f"{(since - timedelta(minutes=2)).timestamp():.6f}"
    for _ in range(HISTORY_PAGES):
        response = client.conversations_history(
            channel=channel_id, oldest=oldest, include_all_metadata=True, limit=200, cursor=cursor
        )
        for message in response.get("messages") or []:
            meta = message.get("metadata") or {}
            if meta.get("event_type") == ids.CASE_METADATA_TYPE and (meta.get("event_payload") or {}).get("case_id") == case_id:
                return str(message["ts"])
        cursor = (response.get("response_metadata") or {}).get("next_cursor")
        if not cursor:
            return None
    return None


def update_card(client: WebClient, view: CaseView) -> None:
    if view.message_ts:
        client.chat_update(channel=view.channel_id, ts=view.message_ts, **card_for(view).as_kwargs())


def find_member(client: WebClient, *, channel_id: str, thread_ts: str, case_id: int, since: datetime) -> str | None:
    """The ts of a member's message already in the incident card's thread (by its metadata), if any."""
    return _find_in_thread(client, channel_id=channel_id, thread_ts=thread_ts, since=since,
                           event_type=ids.INCIDENT_MEMBER_METADATA_TYPE, key="case_id", value=case_id)


def mark_split(client: WebClient, *, channel_id: str, ts: str, user: str, case_id: int) -> None:
    """A member's old message in the thread says it was split out, and loses its buttons."""
    client.chat_update(channel=channel_id, ts=ts, **split_notice(user, case_id))


REDRAWS = 3


def redraw(client: WebClient, load: Callable[[], CaseView | None]) -> CaseView | None:
    """Update the card from `load()` (the case as stored now) until what was drawn is still current.

    Two updaters race: one that read the case just before another's change can reach Slack
    after it, and its older card would stay. So each updater reads the case again after its
    update and draws again if it changed meanwhile: the last to finish draws the newest.
    """
    drawn = None
    for _ in range(REDRAWS):
        view = load()
        if view is None or view == drawn:
            break
        update_card(client, view)
        drawn = view
    return drawn


def thread_note(client: WebClient, view: CaseView, text: str) -> None:
    if view.message_ts and view.thread_ts:  # a member's notes go in the incident card's thread
        client.chat_postMessage(channel=view.channel_id, thread_ts=view.thread_ts, text=text)


def follow_up_message(*, case_id: int, post_id: int, post: Post) -> dict[str, Any]:
    """chat.postMessage arguments for a customer's follow-up, escaped and cut to fit."""
    head = f"💬 *New reply from @{escape(post.author.handle)}*: "
    body, cut = escape_within(post.text, SECTION_TEXT_LIMIT - len(head) - 1)
    short, short_cut = escape_within(post.text, FALLBACK_LIMIT)
    where = registry.label(post.network)
    blocks = [
        SectionBlock(text=MarkdownTextObject(text=head + body + ("…" if cut else "")), block_id="follow_up"),
        ContextBlock(elements=[MarkdownTextObject(text=link(post.url, f"Open on {where}"))], block_id="follow_up_link"),
    ]
    return {
        "text": f"New reply from @{escape(post.author.handle)}: {short}{'…' if short_cut else ''}",
        "blocks": [b.to_dict() for b in blocks],
        "metadata": Metadata(event_type=FOLLOW_UP_METADATA_TYPE,
                             event_payload={"case_id": case_id, "post_id": post_id}),
    }


def post_follow_up(client: WebClient, *, channel_id: str, thread_ts: str, case_id: int, post_id: int, post: Post) -> str:
    """Post the follow-up into the card's thread; returns its ts."""
    response = client.chat_postMessage(channel=channel_id, thread_ts=thread_ts, unfurl_links=False, unfurl_media=False,
                                       **follow_up_message(case_id=case_id, post_id=post_id, post=post))
    return str(response["ts"])


def find_follow_up(client: WebClient, *, channel_id: str, thread_ts: str, post_id: int, since: datetime) -> str | None:
    """The ts of a follow-up already in the thread for `post_id` (by its metadata), if any."""
    return _find_in_thread(client, channel_id=channel_id, thread_ts=thread_ts, since=since,
                           event_type=FOLLOW_UP_METADATA_TYPE, key="post_id", value=post_id)


def _find_in_thread(client: WebClient, *, channel_id: str, thread_ts: str, since: datetime, event_type: str,
                    key: str, value: int) -> str | None:
    cursor = None
    oldest = f"{(since - timedelta(minutes=2)).timestamp():.6f}"
    for _ in range(HISTORY_PAGES):
        response = client.conversations_replies(
            channel=channel_id, ts=thread_ts, oldest=oldest, include_all_metadata=True, limit=200, cursor=cursor
        )
        for message in response.get("messages") or []:
            meta = message.get("metadata") or {}
            if meta.get("event_type") == event_type and (meta.get("event_payload") or {}).get(key) == value:
                return str(message["ts"])
        cursor = (response.get("response_metadata") or {}).get("next_cursor")
        if not cursor:
            return None
    return None
