"""Slack Web API calls for cards: post, find after a crash, update, thread lines."""

from __future__ import annotations

from datetime import datetime, timedelta

from slack_sdk import WebClient

from socialdesk.domain import CaseView
from socialdesk.slack import ids
from socialdesk.slack.blocks.card import case_card

HISTORY_PAGES = 5  # how far back to look for a card posted just before a crash


def post_card(client: WebClient, view: CaseView) -> str:
    """Post the card; returns its ts."""
    response = client.chat_postMessage(channel=view.channel_id, unfurl_links=False, unfurl_media=False, **case_card(view).as_kwargs())
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
        client.chat_update(channel=view.channel_id, ts=view.message_ts, **case_card(view).as_kwargs())


def thread_note(client: WebClient, view: CaseView, text: str) -> None:
    if view.message_ts:
        client.chat_postMessage(channel=view.channel_id, thread_ts=view.message_ts, text=text)
