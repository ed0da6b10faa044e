"""Sending notices (store.notices): the assignee's DM, the owner's ping on a follow-up, the SLA nudges.

Each notice is taken (a conditional UPDATE, committed) before it is posted: of several
senders (threads, replicas) one posts it, and a crash between taking and posting loses that
one notice rather than repeating it. What it says is drawn from the case as it is when it
is sent, so a notice that no longer applies is skipped, with the reason recorded: the case
was assigned to someone else since, answered before its at-risk nudge went out, or gone.

Quiet hours follow SOCIALDESK_BUSINESS_HOURS: outside them nothing is sent, and what is due
waits until they open. A customer's follow-ups waiting together (a burst, a night) are one
ping. Slack refusing a notice posted nothing, so it is tried again a little later, a few
times; a connection error may have posted it, so it is not.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import Engine

from socialdesk import sla
from socialdesk.domain import CaseStatus, CaseView
from socialdesk.jobs.every import HOURLY, Every
from socialdesk.slack.blocks import notices as say
from socialdesk.store import cases as case_store
from socialdesk.store import notices as store
from socialdesk.store.db import session_scope

log = logging.getLogger(__name__)
BATCH = 100
MAX_ATTEMPTS = 4  # Slack refused it this often: given up, the reason logged and kept on the row
RETRY = timedelta(seconds=30)  # doubled each time
WAITING = {CaseStatus.NEW, CaseStatus.REOPENED, CaseStatus.CLAIMED}  # no first response yet (store.sla.WAITING)
CLOSED = {CaseStatus.RESOLVED, CaseStatus.IGNORED}
# What to do when Slack refuses a notice for a reason a person must fix.
HINTS = {
    "not_in_channel": "invite the socialdesk app to the case's channel (/invite @socialdesk)",
    "channel_not_found": "the channel or user no longer exists, or the app cannot see it",
    "user_not_found": "check the Slack user id (SOCIALDESK_SLA_LEAD, SOCIALDESK_ONCALL)",
    "cannot_dm_bot": "a bot was named as the person to tell; name a person",
    "missing_scope": "the app lacks a scope; reinstall it from manifest.yml",
}

Delivery = tuple[str, str | None, say.Message]  # channel, thread ts, what it says


class Notifier:
    def __init__(self, *, engine: Engine, slack: WebClient, clock: Callable[[], datetime],
                 policy: sla.Policy | None = None, oncall: str | None = None) -> None:
        self._engine = engine
        self._slack = slack
        self._now = clock
        self._policy = policy
        self._quiet = policy.business_hours if policy is not None else None
        self._oncall = oncall or None
        self._lock = threading.Lock()
        self._wanted = threading.Event()
        self._pruning = Every(HOURLY)

    def run_once(self) -> int:
        """Send what is due; how many messages went out. A call while another runs makes that one look again."""
        self._wanted.set()
        if not self._lock.acquire(blocking=False):
            return 0
        try:
            sent = 0
            while self._wanted.is_set():
                self._wanted.clear()
                sent += self._drain()
            return sent
        finally:
            self._lock.release()

    def _drain(self) -> int:
        now = self._now()
        if self._quiet is not None and not self._quiet.is_open(now):
            opens = self._quiet.next_open(now)
            with session_scope(self._engine) as session:
                held = store.hold_until(session=session, now=now, until=opens)
            if held:
                log.info("%d notice(s) held for quiet hours (SOCIALDESK_BUSINESS_HOURS) until %s", held,
                         opens.isoformat(timespec="minutes"))
            return 0
        self._pruning.run(lambda: self._prune(now))
        with session_scope(self._engine) as session:
            due = store.due(session=session, now=now, limit=BATCH)
        if len(due) == BATCH:
            self._wanted.set()  # more behind these
        groups: dict[tuple[str, int], list[store.Notice]] = {}
        for notice in due:  # a case's follow-ups waiting together are one ping; anything else is its own
            key = (notice.kind, notice.case_id) if notice.kind == store.FOLLOW_UP else (notice.kind, -notice.id)
            groups.setdefault(key, []).append(notice)
        sent = 0
        for group in groups.values():
            with session_scope(self._engine) as session:
                won = set(store.take(session=session, notice_ids=[n.id for n in group], now=now))
            taken = [n for n in group if n.id in won]
            if taken:
                sent += self._send(taken, now)
        return sent

    def _prune(self, now: datetime) -> None:
        with session_scope(self._engine) as session:
            store.prune(session=session, before=now - store.KEEP)

    def _finish(self, notices: list[store.Notice], status: str, error: str | None = None) -> None:
        with session_scope(self._engine) as session:
            store.finish(session=session, notice_ids=[n.id for n in notices], status=status, now=self._now(),
                         error=error)

    def _send(self, notices: list[store.Notice], now: datetime) -> int:
        first = notices[0]
        try:
            with session_scope(self._engine) as session:
                view = case_store.case_view(session=session, case_id=first.case_id, policy=self._policy)
        except case_store.CaseNotFound:
            self._finish(notices, store.SKIPPED, "the case is gone")
            return 0
        try:
            try:
                what = self._compose(first, notices, view, now)
            except (KeyError, TypeError, ValueError) as exc:  # a hand-edited or foreign row: never stops the rest
                what = f"its payload is not what socialdesk writes ({type(exc).__name__}: {exc})"
            if isinstance(what, str):
                log.info("case %s: %s notice skipped: %s", first.case_id, first.kind, what)
                self._finish(notices, store.SKIPPED, what)
                return 0
            channel, thread_ts, message = what
            self._slack.chat_postMessage(channel=channel, thread_ts=thread_ts, unfurl_links=False, unfurl_media=False,
                                         **message.as_kwargs())
        except SlackApiError as exc:  # Slack answered: nothing was posted, so it may be tried again
            self._refused(notices, exc, now)
            return 0
        except OSError as exc:  # it may have been posted: not tried again (at most once)
            log.error("case %s: %s notice not sent (could not reach Slack: %s); it is not retried, as it may have "
                      "gone out", first.case_id, first.kind, exc)
            self._finish(notices, store.FAILED, f"could not reach Slack: {exc}")
            return 0
        self._finish(notices, store.SENT)
        return 1

    def _refused(self, notices: list[store.Notice], exc: SlackApiError, now: datetime) -> None:
        first = notices[0]
        error = str(exc.response.get("error") or exc)
        hint = HINTS.get(error)
        said = f"{error}: {hint}" if hint else f"Slack refused it: {error}"
        attempts = max(n.attempts for n in notices) + 1
        if attempts >= MAX_ATTEMPTS:
            log.error("case %s: %s notice to %s not sent (%s); given up after %d tries", first.case_id, first.kind,
                      first.channel_id, said, attempts)
            self._finish(notices, store.FAILED, said)
            return
        delay = RETRY * 2 ** (attempts - 1)
        if exc.response.status_code == 429:
            delay = timedelta(seconds=float(exc.response.headers.get("Retry-After", "1") or 1))
        log.warning("case %s: %s notice to %s not sent (%s); trying again in %s", first.case_id, first.kind,
                    first.channel_id, said, delay)
        with session_scope(self._engine) as session:
            store.retry_later(session=session, notice_ids=[n.id for n in notices], at=now + delay, error=said)

    def _compose(self, notice: store.Notice, group: list[store.Notice], view: CaseView, now: datetime) -> Delivery | str:
        """Where the notice goes and what it says, or why it no longer applies."""
        p = notice.payload
        if notice.kind == store.ASSIGNED:
            if view.assignee != p.get("to"):
                return "the case was given to someone else since"
            if view.status in CLOSED:
                return f"the case is {view.status.value} since"
            return notice.channel_id, None, say.assigned_dm(view, by=str(p.get("by")), permalink=self._permalink(view))
        if notice.kind == store.REASSIGNED:
            if view.assignee == p.get("from"):
                return "the case is theirs again since"
            return notice.channel_id, None, say.reassigned_dm(view, by=str(p.get("by")), to=str(p.get("to")),
                                                              permalink=self._permalink(view))
        if notice.kind == store.FOLLOW_UP:
            if not view.assignee:
                return "nobody owns the case now"
            if view.status is CaseStatus.IGNORED or not view.thread_ts:
                return "the case is ignored" if view.thread_ts else "the case has no card"
            return view.channel_id, view.thread_ts, say.follow_up_ping(
                owner=view.assignee, handle=view.post.author.handle, posts=len(group),
                reopened=view.status is CaseStatus.REOPENED)
        due = datetime.fromisoformat(str(p["due"]))
        if notice.kind == store.SLA_AT_RISK:
            # sla_due is the current clock's (a reopen re-arms it); first_response_at is the case's first reply ever.
            if view.sla_due is None or view.status not in WAITING:
                return "the case was answered or closed before its nudge went out"
            if view.sla_state == "breached":
                return "the case is overdue since: the breach notice says so"
            left = self._policy.remaining(now, due) if self._policy else max(due - now, timedelta(0))
            return view.channel_id, view.thread_ts, say.at_risk(due=due, left=left, owner=view.assignee,
                                                                oncall=self._oncall)
        if notice.kind == store.SLA_BREACHED:
            return view.channel_id, view.thread_ts, say.breached(
                due=due, target=timedelta(seconds=float(p["target"])), priority=str(p["priority"]),
                owner=view.assignee, oncall=self._oncall)
        if notice.kind == store.SLA_LEAD:
            return notice.channel_id, None, say.lead_dm(
                case_id=view.case_id, channel_id=view.channel_id, permalink=self._permalink(view),
                priority=str(p["priority"]), due=due, owner=view.assignee)
        return f"unknown kind {notice.kind!r}"  # a newer version's notice, read by an older one

    def _permalink(self, view: CaseView) -> str | None:
        if not view.message_ts:
            return None
        try:
            return str(self._slack.chat_getPermalink(channel=view.channel_id, message_ts=view.message_ts)["permalink"])
        except (SlackApiError, OSError, KeyError) as exc:
            log.warning("case %s: no permalink for the card (%s); the notice says where it is instead",
                        view.case_id, exc)
            return None
