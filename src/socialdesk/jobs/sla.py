"""The SLA sweep: nudge a case's thread when its first reply is at risk, and on a breach
tell the thread and DM the team lead a link to the card. Either way the card itself is
updated in place (chat.update, the same builder as every other refresh) so its deadline
reads "SLA at risk" or "overdue" to whoever looks at the channel.

Each nudge is *marked before it is posted* (`store.sla.mark`, a conditional UPDATE in
its own committed transaction). At most once beats at least once here: a crash or a
Slack error between the mark and the post loses that one nudge, while the other order
would repeat it on every sweep (and on every replica) until the post succeeded. The
nudge is also recorded as a case event, so it shows up in history and figures anyway.
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
from socialdesk.domain import CaseView
from socialdesk.slack import cards
from socialdesk.slack.blocks.card import slack_date
from socialdesk.store import cases as case_store
from socialdesk.store import sla as sla_store
from socialdesk.store.db import session_scope

log = logging.getLogger(__name__)
DUE_FORMAT = "{date_short_pretty} at {time}"


def _minutes(delta: timedelta) -> str:
    minutes = max(0, int(delta.total_seconds() // 60))
    if minutes < 120:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"


class SlaSweep:
    def __init__(self, *, engine: Engine, slack: WebClient, clock: Callable[[], datetime], policy: sla.Policy,
                 lead: str | None = None) -> None:
        self._engine = engine
        self._slack = slack
        self._now = clock
        self._policy = policy
        self._lead = lead or None
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
                if not won:
                    continue  # another sweep (replica) took it, or the case was answered meanwhile
                taken += 1
                if nudge.which == "at_risk":
                    self._at_risk(nudge, now)
                else:
                    self._breached(nudge, now)
                self._refresh_card(nudge)
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

    def _post(self, what: str, case_id: int, **kwargs: object) -> dict | None:
        try:
            return self._slack.chat_postMessage(**kwargs).data  # type: ignore[return-value]
        except (SlackApiError, OSError) as exc:
            error = exc.response.get("error") if isinstance(exc, SlackApiError) else exc
            log.error("case %s: SLA %s not sent (%s); it is not retried (see jobs.sla)", case_id, what, error)
            return None

    def _at_risk(self, n: sla_store.Nudge, now: datetime) -> None:
        left = _minutes(self._policy.remaining(now, n.due))
        due = slack_date(n.due, DUE_FORMAT, "%Y-%m-%d %H:%M UTC")
        who = f" <@{n.assignee}>" if n.assignee else ""
        text = f"⏰ First-response SLA at risk: due {due} ({left} left){who}"
        self._post("at-risk nudge", n.case_id, channel=n.channel_id, thread_ts=n.thread_ts or n.message_ts, text=text)

    def _breached(self, n: sla_store.Nudge, now: datetime) -> None:
        due = slack_date(n.due, DUE_FORMAT, "%Y-%m-%d %H:%M UTC")
        target = _minutes(n.target)
        who = f" <@{n.assignee}>" if n.assignee else ""
        text = f"🚨 SLA breached: no first response within {target} ({n.priority} priority, was due {due}){who}"
        self._post("breach notice", n.case_id, channel=n.channel_id, thread_ts=n.thread_ts or n.message_ts, text=text)
        if self._lead:
            link = self._permalink(n)
            card = f"<{link}|case #{n.case_id}>" if link else f"case #{n.case_id} in <#{n.channel_id}>"
            self._post("lead DM", n.case_id, channel=self._lead,
                       text=f"🚨 First-response SLA breached on {card}: {n.priority} priority, due {due}, "
                            f"{'owned by <@' + n.assignee + '>' if n.assignee else 'unclaimed'}.")

    def _permalink(self, n: sla_store.Nudge) -> str | None:
        try:
            return str(self._slack.chat_getPermalink(channel=n.channel_id, message_ts=n.message_ts)["permalink"])
        except (SlackApiError, OSError, KeyError) as exc:
            log.warning("case %s: no permalink for the card (%s); the DM names the channel instead", n.case_id, exc)
            return None
