"""The SLA sweep: nudge a case's thread when its first reply is at risk (mentioning its owner, or
on-call when nobody owns it), and on a breach tell the thread and DM the team lead a link to the
card. Either way the card itself is updated in place (chat.update, the same builder as every
other refresh) so its deadline reads "SLA at risk" or "overdue" to whoever looks at the channel.

Each nudge is *marked* (`store.sla.mark`, a conditional UPDATE) and its messages queued as
notices (store.notices) in one committed transaction, then sent by the notifier (jobs.notices),
which takes each before posting it. At most once beats at least once here: a crash between
taking and posting loses that one message, while the other order would repeat it on every
sweep (and on every replica) until the post succeeded. The nudge is also recorded as a case
event, so it shows up in history and figures anyway. Quiet hours hold the messages, not the
card's redraw.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import Engine
from sqlmodel import Session

from socialdesk import sla
from socialdesk.domain import CaseView
from socialdesk.jobs.notices import Notifier
from socialdesk.slack import cards
from socialdesk.store import cases as case_store
from socialdesk.store import notices as notice_store
from socialdesk.store import sla as sla_store
from socialdesk.store.db import session_scope

log = logging.getLogger(__name__)


class SlaSweep:
    def __init__(self, *, engine: Engine, slack: WebClient, clock: Callable[[], datetime], policy: sla.Policy,
                 lead: str | None = None, oncall: str | None = None, notifier: Notifier | None = None) -> None:
        self._engine = engine
        self._slack = slack
        self._now = clock
        self._policy = policy
        self._lead = lead or None
        # app.build hands in the one notifier; on its own (tests, scripts) the sweep sends through its own.
        self._notifier = notifier or Notifier(engine=engine, slack=slack, clock=clock, policy=policy, oncall=oncall)
        self._lock = threading.Lock()

    def run_once(self) -> int:
        """Send what is due; returns how many nudges this sweep took (at risk + breached)."""
        if not self._lock.acquire(blocking=False):
            return 0
        try:
            now = self._now()
            with session_scope(self._engine) as session:
                nudges = sla_store.due_nudges(session=session, now=now, policy=self._policy)
            taken = 0
            for nudge in nudges:
                with session_scope(self._engine) as session:  # committed before anything is posted
                    won = sla_store.mark(session=session, case_id=nudge.case_id, which=nudge.which, now=now, due=nudge.due)
                    if won:
                        self._queue(session, nudge, now)
                if not won:
                    continue  # another sweep (replica) took it, or the case was answered meanwhile
                taken += 1
                self._refresh_card(nudge)
            self._notifier.run_once()  # these, and any held through quiet hours that are due now
            return taken
        finally:
            self._lock.release()

    def _refresh_card(self, n: sla_store.Nudge) -> None:
        """Redraw the card from the store: it now carries the mark just taken."""
        try:
            def load() -> CaseView:
                with session_scope(self._engine) as session:
                    return case_store.case_view(session=session, case_id=n.case_id, policy=self._policy)

            cards.redraw(self._slack, load)
        except case_store.CaseNotFound:
            log.warning("case %s: gone before its card could show the SLA %s", n.case_id, n.which)
        except (SlackApiError, OSError) as exc:
            error = exc.response.get("error") if isinstance(exc, SlackApiError) else exc
            log.error("case %s: card not updated for the SLA %s (%s); the next change to the case redraws it",
                      n.case_id, n.which, error)

    def _queue(self, session: Session, n: sla_store.Nudge, now: datetime) -> None:
        """The nudge's messages, one per mark (the mark's time names it: a re-armed clock is a new event)."""
        stamp = now.isoformat()
        if n.which == "at_risk":
            notice_store.queue(session=session, key=f"{notice_store.SLA_AT_RISK}:{n.case_id}:{stamp}",
                               kind=notice_store.SLA_AT_RISK, case_id=n.case_id, channel_id=n.channel_id, now=now,
                               payload={"due": n.due.isoformat()})
            return
        payload = {"due": n.due.isoformat(), "target": n.target.total_seconds(), "priority": n.priority}
        notice_store.queue(session=session, key=f"{notice_store.SLA_BREACHED}:{n.case_id}:{stamp}",
                           kind=notice_store.SLA_BREACHED, case_id=n.case_id, channel_id=n.channel_id, now=now,
                           payload=payload)
        if self._lead:
            notice_store.queue(session=session, key=f"{notice_store.SLA_LEAD}:{n.case_id}:{stamp}",
                               kind=notice_store.SLA_LEAD, case_id=n.case_id, channel_id=self._lead, now=now,
                               payload=payload)
