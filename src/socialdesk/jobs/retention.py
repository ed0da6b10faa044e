"""Retention jobs: purge old data on schedule, and hide posts deleted or withheld on X.

`RetentionJob` applies SOCIALDESK_RETENTION_RAW_DAYS and SOCIALDESK_RETENTION_CLOSED_DAYS
(0 keeps forever), committing between batches so a large first purge never holds
the database for long.

`SourceCheck` asks X which posts of live cases (open, or opened within the last 7
days) still exist: GET /2/tweets?ids=… (up to 100 ids, app bearer token). A deleted
post comes back in `errors` as a "Not Found Error" (resource-not-found); a withheld one
carries a `withheld` object. Either is marked in the store (text and raw dropped, as
X's developer terms require) and its card, or its follow-up message in the card's
thread, is updated in Slack. Every lookup counts against the X app's monthly read
cap, so a post is first checked `first_check` after it was fetched, then at most once
per `recheck` (posts.source_checked_at, shared by replicas and kept across restarts), and
each run makes at most `max_requests` lookups.

Also here: the Slack side of `socialdesk forget` (remove or blank the messages that
showed a person; refresh cards whose text was redacted).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import httpx
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.models.blocks import SectionBlock
from slack_sdk.models.metadata import Metadata
from sqlalchemy import Engine
from sqlmodel import Session

from socialdesk.config import Settings
from socialdesk.domain import Network
from socialdesk.jobs.scheduler import PeriodicJob
from socialdesk.slack import cards
from socialdesk.store import cases as case_store
from socialdesk.store import retention as store
from socialdesk.store.db import session_scope
from socialdesk.store.models import PostRow
from socialdesk.networks.base import RateLimited, SourceError
from socialdesk.networks.x.search import get as x_get

log = logging.getLogger(__name__)

LOOKUP_PATH = "/2/tweets"
LOOKUP_IDS = 100  # X's maximum per request
RECENT_CASES = timedelta(days=7)
FIRST_CHECK = timedelta(hours=1)
CLOSED_BATCH = 200
RAW_BATCH = 5000
NOT_FOUND_TYPE = "resource-not-found"
REMOVED_TEXT = "Removed at the customer's request."
REMOVED_METADATA_TYPE = "socialdesk_removed"  # replaces the card's metadata: no case id to find it by


@dataclass
class RetentionCounts:
    raw_payloads: int = 0
    deleted: dict[str, int] = field(default_factory=lambda: dict.fromkeys(store.TABLES, 0))

    def add(self, counts: dict[str, int]) -> None:
        for table, n in counts.items():
            self.deleted[table] = self.deleted.get(table, 0) + n


class RetentionJob:
    """Purges per settings; `run_once(dry_run=True)` counts what would go and changes nothing."""

    def __init__(self, *, engine: Engine, clock: Callable[[], datetime], raw_days: int, closed_days: int) -> None:
        self._engine = engine
        self._now = clock
        self._raw_days = raw_days
        self._closed_days = closed_days
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings, *, engine: Engine, clock: Callable[[], datetime]) -> RetentionJob:
        return cls(engine=engine, clock=clock, raw_days=settings.retention_raw_days,
                   closed_days=settings.retention_closed_days)

    def run_once(self, *, dry_run: bool = False) -> RetentionCounts:
        counts = RetentionCounts()
        if not self._lock.acquire(blocking=False):
            return counts
        try:
            now = self._now()
            if dry_run:  # one transaction, rolled back: the counts are exactly what a run would do
                with Session(self._engine) as session:
                    self._purge(session, now, counts)
                    session.rollback()
            else:
                self._purge(None, now, counts)
            if any(counts.deleted.values()) or counts.raw_payloads:
                log.info("retention: raw payloads dropped from %d posts; deleted %s", counts.raw_payloads,
                         ", ".join(f"{n} {t}" for t, n in counts.deleted.items() if n) or "no rows")
            return counts
        finally:
            self._lock.release()

    def _purge(self, session: Session | None, now: datetime, counts: RetentionCounts) -> None:
        """Batches; each in its own committed transaction, or all in `session` (dry run)."""
        def batches(step: Callable[[Session], bool]) -> None:
            while True:
                if session is not None:
                    done = step(session)
                else:
                    with session_scope(self._engine) as own:
                        done = step(own)
                if not done:
                    return

        if self._raw_days:
            older = now - timedelta(days=self._raw_days)

            def raw(s: Session) -> bool:
                n = store.purge_raw(session=s, older_than=older, limit=RAW_BATCH)
                counts.raw_payloads += n
                return n == RAW_BATCH

            batches(raw)
        if self._closed_days:
            older = now - timedelta(days=self._closed_days)

            def closed(s: Session) -> bool:
                done = store.purge_closed_cases(session=s, older_than=older, limit=CLOSED_BATCH)
                counts.add(done)
                return done["cases"] == CLOSED_BATCH

            batches(closed)


@dataclass(frozen=True)
class Verdict:
    """What X said about the posts asked for: deleted ids, and withheld ids with their countries."""

    deleted: list[str]
    withheld: dict[str, list[str]]


def parse_lookup(body: dict[str, Any], asked: Sequence[str]) -> Verdict:
    """Read GET /2/tweets?ids=…: only a resource-not-found error for a post counts as deleted.

    Other errors (e.g. "not authorized" for a protected account) say nothing about deletion.
    """
    asked_set = set(asked)
    deleted = []
    for error in body.get("errors") or []:
        kind = str(error.get("type") or "")
        post_id = str(error.get("resource_id") or error.get("value") or "")
        if (kind.endswith(NOT_FOUND_TYPE) or error.get("title") == "Not Found Error") and post_id in asked_set \
                and error.get("resource_type", "tweet") in ("tweet", "post"):
            deleted.append(post_id)
    withheld = {}
    for post in body.get("data") or []:
        held = post.get("withheld")
        if isinstance(held, dict) and str(post.get("id")) in asked_set:
            withheld[str(post["id"])] = [str(c) for c in held.get("country_codes") or []]
    return Verdict(deleted=sorted(set(deleted)), withheld=withheld)


class SourceCheck:
    """Marks posts of live cases that X no longer shows, and updates their Slack messages."""

    def __init__(self, *, engine: Engine, slack: WebClient, http: httpx.Client, api_url: str, bearer_token: str,
                 clock: Callable[[], datetime], recheck: timedelta = timedelta(hours=24),
                 first_check: timedelta = FIRST_CHECK, max_requests: int = 10) -> None:
        self._engine = engine
        self._slack = slack
        self._http = http
        self._url = api_url.rstrip("/") + LOOKUP_PATH
        self._headers = {"Authorization": f"Bearer {bearer_token}"}
        self._now = clock
        self._recheck = recheck
        self._first_check = first_check
        self._max_requests = max_requests
        self._not_before: datetime | None = None
        self._lock = threading.Lock()

    def run_once(self) -> list[store.RemovedPost]:
        """Check what is due; returns the posts marked removed by this run."""
        if not self._lock.acquire(blocking=False):
            return []
        try:
            now = self._now()
            if self._not_before and now < self._not_before:
                return []
            with session_scope(self._engine) as session:
                due = store.posts_to_check(session=session, network=Network.X.value,
                                           opened_since=now - RECENT_CASES, checked_before=now - self._recheck,
                                           fetched_before=now - self._first_check,
                                           limit=LOOKUP_IDS * self._max_requests)
            removed: list[store.RemovedPost] = []
            for start in range(0, len(due), LOOKUP_IDS):
                batch = due[start:start + LOOKUP_IDS]
                try:
                    verdict = self._lookup([external for _, external in batch])
                except RateLimited as exc:
                    self._not_before = exc.reset_at
                    log.warning("source check: %s; next check after %s", exc, exc.reset_at.isoformat())
                    break
                except SourceError as exc:
                    log.warning("source check stopped: %s; it tries again next run", exc)
                    break
                with session_scope(self._engine) as session:
                    store.mark_checked(session=session, post_ids=[post_id for post_id, _ in batch], now=now)
                removed += self._mark(verdict, now)
            for post in removed:
                self._refresh(post)
            return removed
        finally:
            self._lock.release()

    def _lookup(self, external_ids: list[str]) -> Verdict:
        params = {"ids": ",".join(external_ids), "tweet.fields": "withheld"}
        response = x_get(self._http, self._url, params, self._headers, what="post lookup")
        return parse_lookup(response.json(), external_ids)

    def _mark(self, verdict: Verdict, now: datetime) -> list[store.RemovedPost]:
        with session_scope(self._engine) as session:
            removed = store.mark_removed_at_source(session=session, network=Network.X.value,
                                                   external_ids=verdict.deleted, reason=store.DELETED, now=now)
            for external_id, countries in verdict.withheld.items():
                removed += store.mark_removed_at_source(session=session, network=Network.X.value,
                                                        external_ids=[external_id], reason=store.WITHHELD,
                                                        now=now, countries=countries)
        for post in removed:
            log.info("post %s %s at the source; case %s updated", post.external_id, post.reason, post.case_id)
        return removed

    def _refresh(self, post: store.RemovedPost) -> None:
        try:
            if post.first_post and post.card_ts and post.case_id is not None:
                refresh_card(self._slack, self._engine, post.case_id, removed=post.reason)
            elif post.thread_ts and post.channel_id and post.case_id is not None:
                with session_scope(self._engine) as session:
                    view = case_store.case_view(session=session, case_id=post.case_id)
                shown = replace(view.post, text=post.notice, external_id=post.external_id)
                message = cards.follow_up_message(case_id=post.case_id, post_id=post.post_id, post=shown)
                self._slack.chat_update(channel=post.channel_id, ts=post.thread_ts, **message)
        except (SlackApiError, OSError, case_store.CaseNotFound) as exc:
            error = exc.response.get("error") if isinstance(exc, SlackApiError) else exc
            log.error("case %s: the Slack message of removed post %s was not updated (%s); its text is gone "
                      "from the database, edit or delete the message in Slack", post.case_id, post.external_id, error)


def refresh_card(slack: WebClient, engine: Engine, case_id: int, *, removed: str | None = None) -> None:
    """Rebuild the case's card from the store and chat.update it (`removed`: its first post's reason)."""
    with session_scope(engine) as session:
        view = case_store.case_view(session=session, case_id=case_id)
        if removed is None:
            first = session.get(PostRow, case_store.get_case(session=session, case_id=case_id).first_post_id)
            removed = first.removed_reason if first is not None else None
    cards.update_card(slack, replace(view, post_removed=removed or view.post_removed))


# --- the Slack side of `socialdesk forget` ----------------------------------------------


def _error(exc: Exception) -> str:
    return str(exc.response.get("error")) if isinstance(exc, SlackApiError) else f"{type(exc).__name__}: {exc}"


def remove_messages(slack: WebClient, messages: Sequence[store.SlackMessage]) -> list[str]:
    """Delete each message (a card with our thread messages under it); where Slack refuses, blank it.

    Returns one line per message saying what happened.
    """
    try:
        bot_user = str(slack.auth_test().get("user_id") or "")
    except (SlackApiError, OSError) as exc:
        return [f"Slack: could not sign in ({_error(exc)}); nothing was changed in Slack. Remove these messages "
                f"yourself: " + ", ".join(f"{m.what} {m.channel_id}/{m.ts}" for m in messages)]
    lines = []
    for message in messages:
        extra = _clear_thread(slack, message, bot_user) if message.what == "card" else ""
        try:
            slack.chat_delete(channel=message.channel_id, ts=message.ts)
            lines.append(f"{message.what} {message.channel_id}/{message.ts} (case #{message.case_id}): deleted{extra}")
            continue
        except (SlackApiError, OSError) as exc:
            refused = _error(exc)
        try:
            slack.chat_update(channel=message.channel_id, ts=message.ts, text=REMOVED_TEXT,
                              blocks=[SectionBlock(text=f"_{REMOVED_TEXT}_").to_dict()],
                              metadata=Metadata(event_type=REMOVED_METADATA_TYPE, event_payload={}))
            lines.append(f"{message.what} {message.channel_id}/{message.ts} (case #{message.case_id}): could not be "
                         f"deleted ({refused}), replaced with \"{REMOVED_TEXT}\"{extra}")
        except (SlackApiError, OSError) as exc:
            lines.append(f"{message.what} {message.channel_id}/{message.ts} (case #{message.case_id}): NOT changed "
                         f"(delete: {refused}; update: {_error(exc)}): delete it in Slack yourself{extra}")
    return lines


def _clear_thread(slack: WebClient, card: store.SlackMessage, bot_user: str) -> str:
    """Delete our messages in the card's thread (follow-ups, notes, notices); say what is left."""
    try:
        replies = slack.conversations_replies(channel=card.channel_id, ts=card.ts, limit=1000).get("messages") or []
    except (SlackApiError, OSError) as exc:
        return f"; its thread could not be read ({_error(exc)}): check it in Slack"
    ours = theirs = failed = 0
    for reply in replies:
        if reply.get("ts") == card.ts:
            continue
        if reply.get("user") != bot_user and not reply.get("bot_id"):
            theirs += 1
            continue
        try:
            slack.chat_delete(channel=card.channel_id, ts=reply["ts"])
            ours += 1
        except (SlackApiError, OSError):
            failed += 1
    parts = [f"{ours} thread message{'s' if ours != 1 else ''} deleted"] if ours else []
    if failed:
        parts.append(f"{failed} of ours could not be deleted")
    if theirs:
        parts.append(f"{theirs} written by people remain in the thread: delete them in Slack (a workspace admin can)")
    return ("; " + ", ".join(parts)) if parts else ""


def refresh_cards(slack: WebClient, engine: Engine, case_ids: Sequence[int]) -> list[str]:
    """Rebuild other cases' cards whose text had the person's handle redacted."""
    lines = []
    for case_id in case_ids:
        try:
            refresh_card(slack, engine, case_id)
            lines.append(f"card of case #{case_id}: updated (their handle is redacted in it)")
        except (SlackApiError, OSError, case_store.CaseNotFound) as exc:
            lines.append(f"card of case #{case_id}: NOT updated ({_error(exc)}); it still shows their handle")
    return lines


RETENTION_SECONDS = 6 * 3600
SOURCE_CHECK_SECONDS = 15 * 60


def periodic_jobs(settings: Settings, *, engine: Engine, slack: WebClient, http: httpx.Client,
                  clock: Callable[[], datetime]) -> list[PeriodicJob]:
    """The retention purge, and the X source check when an X bearer token is configured."""
    jobs = [PeriodicJob("retention", RetentionJob.from_settings(settings, engine=engine, clock=clock).run_once,
                        RETENTION_SECONDS)]
    if settings.x_bearer_token:
        check = SourceCheck(engine=engine, slack=slack, http=http, api_url=settings.x_api_url,
                            bearer_token=settings.x_bearer_token.get_secret_value(), clock=clock)
        jobs.append(PeriodicJob("source-check", check.run_once, SOURCE_CHECK_SECONDS))
    return jobs
