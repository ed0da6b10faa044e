"""Telling the ops channel (SOCIALDESK_OPS_CHANNEL) when a source is in trouble, and when it recovers.

Every run asks each check (`health.Check`: `check(session=, now=) -> [Condition or (key, text, fix)]`)
what holds now.
A condition due (it has held long enough) whose key was never told is taken (store.ops_alerts: of several replicas one wins,
and a restart finds it taken) and posted; an alert told whose condition no longer holds is
taken for its recovery and that is posted to the channel the alert went to (a condition that still
holds, due or not, is no recovery: a replica just started holds "behind" back, and still knows it holds). So an
incident is one message and one recovery, however many polls fail meanwhile. A check that
raises this run recovers nothing (what it would have said is unknown), and the others go on.

Checks are plugged in by `app.build`: the sources' (health.SourceChecks), and others such as a
spend budget's. Slack refusing a message loses it (at most once, like notices): the reason is
logged with what to do and kept on the row.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from datetime import datetime

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import Engine

from socialdesk.health import Check, Condition
from socialdesk.jobs.every import HOURLY, Every
from socialdesk.jobs.notices import HINTS
from socialdesk.slack.blocks import ops as say
from socialdesk.store import ops_alerts as store
from socialdesk.store.db import read_scope, session_scope

log = logging.getLogger(__name__)


class OpsAlerts:
    def __init__(self, *, engine: Engine, slack: WebClient, channel: str, checks: Sequence[Check],
                 clock: Callable[[], datetime]) -> None:
        self._engine, self._slack, self._channel = engine, slack, channel
        self._checks = list(checks)
        self._now = clock
        self._lock = threading.Lock()
        self._pruning = Every(HOURLY)

    def run_once(self) -> int:
        """Tell what began and what ended since the last run; how many messages went out."""
        if not self._lock.acquire(blocking=False):
            return 0  # a run is under way: it sees the same
        try:
            return self._run(self._now())
        finally:
            self._lock.release()

    def _conditions(self, now: datetime) -> tuple[dict[str, Condition], bool]:
        """What holds now, by key; and whether every check answered."""
        found: dict[str, Condition] = {}
        complete = True
        for check in self._checks:
            try:
                with read_scope(self._engine) as session:
                    for said in check(session=session, now=now):
                        condition = said if isinstance(said, Condition) else Condition(*said)
                        found.setdefault(condition.key, condition)
            except Exception:  # noqa: BLE001 - one check's bug must not silence the others
                complete = False
                log.exception("ops alerts: the check %r failed; its alerts neither start nor recover this run",
                              getattr(check, "__name__", check))
        return found, complete

    def _run(self, now: datetime) -> int:
        self._pruning.run(lambda: self._prune(now))
        # What was told is read before what holds: an alert another replica tells meanwhile is not
        # among `told`, so this run cannot take its condition's absence (read earlier) for a recovery.
        with read_scope(self._engine) as session:
            told = {a.key: a for a in store.open_alerts(session=session)}
        conditions, complete = self._conditions(now)
        sent = 0
        for condition in conditions.values():
            if condition.key in told or not condition.due:
                continue
            with session_scope(self._engine) as session:
                won = store.take_alert(session=session, key=condition.key, text=condition.text, fix=condition.fix,
                                       channel_id=self._channel, now=now, recovers=condition.recovers)
            if won:
                log.warning("ops alert: %s", condition.text)
                ts, error = self._post(say.alert(text=condition.text, fix=condition.fix))
                with session_scope(self._engine) as session:
                    store.posted(session=session, key=condition.key, message_ts=ts, error=error)
                sent += ts is not None
        if not complete:
            return sent
        for key, alert in told.items():
            if key in conditions:
                continue
            with session_scope(self._engine) as session:
                won = store.take_recovery(session=session, key=key, now=now)
            if won:
                log.info("ops alert recovered: %s", alert.text)
                ts, _ = self._post(say.recovery(text=alert.text, opened_at=alert.opened_at, now=now),
                                   channel=alert.channel_id)
                sent += ts is not None
        return sent

    def _post(self, message: say.Message, *, channel: str | None = None) -> tuple[str | None, str | None]:
        """Post it to the channel (a recovery too: whoever watches the channel sees it); (its ts, or why not)."""
        channel = channel or self._channel
        try:
            response = self._slack.chat_postMessage(channel=channel, unfurl_links=False, unfurl_media=False,
                                                    **message.as_kwargs())
        except SlackApiError as exc:
            error = str(exc.response.get("error") or exc)
            hint = HINTS.get(error, "check SOCIALDESK_OPS_CHANNEL and the app's access to that channel")
            log.error("ops alert not posted to %s (%s: %s); it is not retried: %s", channel, error, hint,
                      message.text)
            return None, f"{error}: {hint}"
        except OSError as exc:  # it may have been posted: not retried (at most once)
            log.error("ops alert not posted to %s (could not reach Slack: %s): %s", channel, exc, message.text)
            return None, f"could not reach Slack: {exc}"
        return str(response.get("ts") or "") or None, None

    def _prune(self, now: datetime) -> None:
        with session_scope(self._engine) as session:
            store.prune(session=session, before=now - store.KEEP)
