"""Retention jobs: purge old data on schedule (the removal check is in jobs.removal).

`RetentionJob` applies SOCIALDESK_RETENTION_RAW_DAYS and SOCIALDESK_RETENTION_CLOSED_DAYS
(0 keeps forever), committing between batches so a large first purge never holds
the database for long.

Also here: the Slack side of `socialdesk forget` (remove or blank the messages that
showed a person; refresh cards whose text was redacted).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.models.blocks import SectionBlock
from slack_sdk.models.metadata import Metadata
from sqlalchemy import Engine
from sqlmodel import Session

from socialdesk.config import Settings
from socialdesk.domain import CaseView

from socialdesk.jobs.scheduler import PeriodicJob
from socialdesk.slack import cards
from socialdesk.store import cases as case_store
from socialdesk.spend import month_of
from socialdesk.store import retention as store
from socialdesk.store import spend as spend_store
from socialdesk.store.db import session_scope
from socialdesk.store.forget import SlackMessage
from socialdesk.store.models import PostRow

log = logging.getLogger(__name__)

CLOSED_BATCH = 200
RAW_BATCH = 5000
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
        # The resources billed in months that are over: the spend meter de-duplicates within a day only.
        month_start = month_of(now)[0]

        def billed(s: Session) -> bool:
            n = spend_store.prune_seen(session=s, before=month_start)
            if n:
                counts.add({"billed_seen": n})
            return n > 0

        batches(billed)


def refresh_card(slack: WebClient, engine: Engine, case_id: int, *, removed: str | None = None) -> None:
    """Rebuild the case's card from the store and chat.update it (`removed`: its first post's reason)."""
    def load() -> CaseView:
        with session_scope(engine) as session:
            view = case_store.case_view(session=session, case_id=case_id)
            first = session.get(PostRow, case_store.get_case(session=session, case_id=case_id).first_post_id)
            stored = first.removed_reason if first is not None else None
        return replace(view, post_removed=removed or stored or view.post_removed)

    cards.redraw(slack, load)


# --- the Slack side of `socialdesk forget` ----------------------------------------------


def _error(exc: Exception) -> str:
    return str(exc.response.get("error")) if isinstance(exc, SlackApiError) else f"{type(exc).__name__}: {exc}"


def remove_messages(slack: WebClient, messages: Sequence[SlackMessage]) -> list[str]:
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


def _clear_thread(slack: WebClient, card: SlackMessage, bot_user: str) -> str:
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


def periodic_jobs(settings: Settings, *, engine: Engine, clock: Callable[[], datetime]) -> list[PeriodicJob]:
    """The retention purge."""
    return [PeriodicJob("retention", RetentionJob.from_settings(settings, engine=engine, clock=clock).run_once,
                        RETENTION_SECONDS)]
