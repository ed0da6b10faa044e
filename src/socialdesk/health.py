"""Source health: the state of each rule and each stream, and the conditions the ops channel hears of.

A state is computed from what the `rules` and `streams` rows already hold (the poller and the
stream worker keep them), by pure functions; nothing is stored for it. For a rule, in order:

    paused            an admin paused it
    paused by budget  its spend reached its budget (the spend meter decides: `budget_paused`)
    rate-limited      the network said not before …, and the rule waits for it
    failing since …   its polls fail (the first failure of the run started the clock), with the last error
    behind            its last successful poll (or the end of a budget pause) is older than twice its interval
    ok

A rule whose posts arrive by its network's live stream (`streamed`) is as healthy as that stream.
A stream is `failing` (its connections fail), `behind` (connected, but its cursor has not moved for
the network's `stream_behind_after`), `idle` (no replica holds it: it has no rules to carry) or `ok`.
A `Condition` may also come as a plain (key, text, fix) tuple from a check.

Conditions (`Condition`) are what jobs.ops_alerts tells the ops channel: a source failing for longer
than SOCIALDESK_ALERT_AFTER, behind for that long, or a gap that could not be filled. Each key names
one incident (the time its run began), so the alert is told once and its recovery once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlmodel import Session

from socialdesk.jobs.poll_leases import carried  # the poller's own test: whether a network's live stream carries a rule
from socialdesk.networks.base import Network
from socialdesk.store import rules as rule_store
from socialdesk.store import streams as stream_store
from socialdesk.store.db import as_utc

OK, BEHIND, RATE_LIMITED, FAILING, PAUSED, BUDGET, IDLE = (
    "ok", "behind", "rate-limited", "failing", "paused", "paused by budget", "idle")
BEHIND_FACTOR = 2  # a rule is behind when its last success is older than this many intervals
STAMP = "%Y-%m-%d %H:%M UTC"
RATE_LIMIT_KIND, REJECTED_KIND = "rate_limited", "rejected"  # store.rules' failure kinds
GAP_TOLD_WITHIN = timedelta(days=7)  # a gap is a condition this long after it was found (ops_alerts keep theirs longer)


@dataclass(frozen=True)
class SourceState:
    """A rule's or stream's state; `since` for failing and behind, `until` for rate-limited."""

    state: str
    since: datetime | None = None
    until: datetime | None = None
    error: str | None = None

    def text(self) -> str:
        """One line, plain: "failing since 2026-12-02 01:00 UTC: the network answered 503"."""
        if self.state == RATE_LIMITED and self.until is not None:
            return f"rate-limited until {self.until.strftime(STAMP)}"
        if self.state == FAILING:
            since = f" since {self.since.strftime(STAMP)}" if self.since else ""
            return f"failing{since}" + (f": {' '.join(self.error.split())}" if self.error else "")
        if self.state == BEHIND and self.since is not None:
            return f"behind (last read {self.since.strftime(STAMP)})"
        return self.state


def _utc(value: datetime | None) -> datetime | None:
    return as_utc(value) if value is not None else None


def rule_state(rule: Any, *, now: datetime, budget_paused: bool = False, streamed: bool = False) -> SourceState:
    """The state of a rule from its row's polling fields (a RuleRow, or anything with those attributes).

    `budget_paused`: the spend meter paused it; `streamed`: a live stream brings its posts (it is
    not polled while that lasts, so its last poll says nothing)."""
    if rule.paused:
        return SourceState(PAUSED)
    if budget_paused:
        return SourceState(BUDGET)
    if streamed:  # its polls only fill gaps; one that failed before the stream came back says nothing now
        return SourceState(OK)
    not_before = _utc(rule.not_before)
    failures = rule.consecutive_failures or 0
    kind = getattr(rule, "failure_kind", None)
    failing_since = _utc(getattr(rule, "failing_since", None))
    waiting = not_before is not None and not_before > now
    # Rate-limited: a 429 waited out, or a page that said its quota is spent (a success with a not-before).
    # A 429 in the middle of a failing run does not end it (only a success does): the run goes on.
    if waiting and (kind == RATE_LIMIT_KIND or not failures) and failing_since is None:
        return SourceState(RATE_LIMITED, until=not_before)
    if failures and (kind != RATE_LIMIT_KIND or failing_since is not None):
        since = failing_since or _utc(rule.last_error_at)
        return SourceState(FAILING, since=since, error=rule.last_error)
    # From the later of its last success, the last time it was found paused by budget and its last resume: a
    # pause that ended (the month turned, the budget was raised, an admin resumed it) leaves weeks since the
    # last success, and the rule is not behind.
    last = read_from(rule) or _utc(rule.created_at)
    if last is not None and now - last > timedelta(seconds=BEHIND_FACTOR * rule.every_seconds):
        return SourceState(BEHIND, since=last)
    return SourceState(OK)


def read_from(rule: Any) -> datetime | None:
    """Since when the rule should have been read: the later of its last success, the last time the poller
    found it paused by budget, and an admin's last resume (None: none of them yet)."""
    return max((t for t in (_utc(rule.last_success_at), _utc(getattr(rule, "budget_paused_at", None)),
                            _utc(getattr(rule, "resumed_at", None))) if t is not None), default=None)


def resume_notice(rule: Any, *, network: Network | None, now: datetime) -> str | None:
    """What resuming a rule paused longer than its network's search reaches back cannot bring back
    (None: nothing is lost). Said to the admin who resumes it, instead of an ops alert later."""
    limit = network.gap_limit if network is not None else None
    last = _utc(rule.last_success_at)
    if limit is None or last is None or rule.cursor is None or now - last <= limit or carried(network, rule):
        return None  # (a streamed rule is read by its stream from now on, not by a walk from its cursor)
    # Roughly (a network may keep a margin, a few minutes short of a week); the end of the loss is exact.
    reach = (f"{round(limit / timedelta(days=1))} days" if limit >= timedelta(days=2)
             else f"{round(limit / timedelta(hours=1))} hours")
    return (f"It last read posts {last.strftime(STAMP)}, and {network.info.label}'s search reaches back {reach}: "
            f"posts from then to {(now - limit).strftime(STAMP)} cannot be read, and get no cards.")


def stream_state(row: Any, *, now: datetime, behind_after: timedelta | None = None) -> SourceState:
    """The state of a network's stream from its `streams` row; `behind_after`: Network.stream_behind_after."""
    lease = _utc(row.lease_until)
    # A worker holds the lease while it tries, failing or not; none holds it when it has no rules to carry
    # (an error left on the row from before says nothing then).
    if not row.holder or lease is None or lease <= now:
        return SourceState(IDLE)
    failing_since = _utc(getattr(row, "failing_since", None))
    # Failing until a connection proves good (a post, or long enough up: jobs.stream), not as soon as one
    # is made: a stream that connects and drops at once, again and again, is one incident that goes on.
    if row.last_error or failing_since is not None:
        return SourceState(FAILING, since=failing_since or _utc(row.updated_at),
                           error=row.last_error or "connected again, not yet for long")
    moved = max((t for t in (_utc(row.cursor_at), _utc(row.connected_at)) if t is not None), default=None)
    if behind_after is not None and row.connected_at is not None and moved is not None and now - moved > behind_after:
        return SourceState(BEHIND, since=moved)
    return SourceState(OK)


# --- conditions for the ops channel -------------------------------------------------------------------------------


class Condition(NamedTuple):
    """Something the ops channel is told of: `key` names the incident (told once), `text` what happened,
    `fix` what to do. `recovers`: False for an event that is over once told (a gap: its posts are lost).
    A tuple, so a check may return plain (key, text, fix) tuples."""

    key: str
    text: str
    fix: str
    recovers: bool = True
    # False: it holds, but not for long enough to tell yet. An alert already told stays open while its
    # condition holds at all: only its end (not a threshold, nor a restart's grace) is a recovery.
    due: bool = True


# Called as check(session=…, now=…): positional (session, now) callables and keyword-only ones both fit.
Check = Callable[..., Sequence[Condition | tuple[str, str, str]]]

FIX_FAILING = {
    REJECTED_KIND: "The network refuses the rule as it is: read the error, then fix the rule's query or the "
                   "network's credentials (`socialdesk rules list`, `socialdesk doctor`), or pause the rule.",
    None: "socialdesk keeps retrying with backoff. Check the network's status page and this server's connection "
          "to it; if the error names credentials, set them again and restart.",
}
FIX_BEHIND = ("Polls are not keeping up: check that a socialdesk replica is running and its log for errors; "
              "a rule polled more often than the network allows falls behind, so raise its interval.")
FIX_STREAM_BEHIND = ("The stream is connected but nothing moves: check the stream's server and this replica's log; "
                     "restarting the replica reconnects it.")
FIX_GAP = ("Those posts cannot be read any more, so no cards were made for them. Search for them on the network "
           "itself if they matter; keep socialdesk running (or its replicas) to avoid another gap.")


def _fresh(found_at: datetime | None, now: datetime) -> bool:
    """A gap found this recently is still a condition (told once; forgotten later, so it is never told again)."""
    return found_at is not None and now - as_utc(found_at) < GAP_TOLD_WITHIN


def _iso(when: datetime) -> str:
    return when.isoformat(timespec="seconds")


def _rule_name(rule: Any, label: str) -> str:
    query = " ".join(str(rule.query).split())
    query = query if len(query) <= 60 else query[:59] + "…"
    return f"rule {rule.id} ({label} {rule.kind} “{query}”)"


def rule_conditions(rule: Any, state: SourceState, *, now: datetime, alert_after: timedelta,
                    label: str, started_at: datetime | None = None) -> list[Condition]:
    """What the ops channel hears of a rule in this state (failing or behind, `due` once for `alert_after`; a gap).

    `started_at`: when this process began watching; "behind" is due from then at the earliest (a
    restart after downtime gives its first polls their chance before anyone is told)."""
    name = _rule_name(rule, label)
    title = name[:1].upper() + name[1:]  # "Rule 3 (…" (str.capitalize would lower the label)
    found: list[Condition] = []
    since = state.since
    if state.state == FAILING and since is not None:
        kind = REJECTED_KIND if getattr(rule, "failure_kind", None) == REJECTED_KIND else None
        found.append(Condition(f"failing:rule:{rule.id}:{_iso(since)}",
                               f"{title} has failed since {since.strftime(STAMP)} "
                               f"({rule.consecutive_failures} polls in a row): {' '.join((state.error or '?').split())}",
                               FIX_FAILING[kind], due=now - since >= alert_after))
    if state.state == BEHIND and since is not None:
        grace = alert_after + timedelta(seconds=BEHIND_FACTOR * rule.every_seconds)
        found.append(Condition(f"behind:rule:{rule.id}:{_iso(since)}",
                               f"{title} is behind: last read {since.strftime(STAMP)}, though it is "
                               f"polled every {rule.every_seconds} s.", FIX_BEHIND,
                               due=now - max(since, started_at or since) >= grace))
    gap_from, gap_to = _utc(getattr(rule, "gap_from", None)), _utc(getattr(rule, "gap_to", None))
    if gap_from is not None and gap_to is not None and _fresh(getattr(rule, "gap_at", None), now):
        found.append(Condition(f"gap:rule:{rule.id}:{_iso(gap_from)}",
                               f"{title} missed posts from {gap_from.strftime(STAMP)} to "
                               f"{gap_to.strftime(STAMP)}: polling stopped longer ago than {label}'s search "
                               "reaches back.", FIX_GAP, recovers=False))
    return found


def stream_conditions(row: Any, state: SourceState, *, now: datetime, alert_after: timedelta,
                      label: str) -> list[Condition]:
    """What the ops channel hears of a network's stream in this state."""
    found: list[Condition] = []
    since = state.since
    if state.state == FAILING and since is not None:
        found.append(Condition(f"failing:stream:{row.network}:{_iso(since)}",
                               f"The {label} stream has been down since {since.strftime(STAMP)}: "
                               f"{' '.join((state.error or '?').split())}. Its rules are polled meanwhile.",
                               FIX_FAILING[None], due=now - since >= alert_after))
    if state.state == BEHIND and since is not None:
        found.append(Condition(f"behind:stream:{row.network}:{_iso(since)}",
                               f"The {label} stream is connected but has not moved since {since.strftime(STAMP)}.",
                               FIX_STREAM_BEHIND, due=now - since >= alert_after))
    gap_from, gap_to = _utc(getattr(row, "gap_from", None)), _utc(getattr(row, "gap_to", None))
    if gap_from is not None and gap_to is not None and _fresh(getattr(row, "gap_at", None), now):
        found.append(Condition(f"gap:stream:{row.network}:{_iso(gap_from)}",
                               f"The {label} stream missed posts from {gap_from.strftime(STAMP)} to "
                               f"{gap_to.strftime(STAMP)}: it was down longer than {label}'s search reaches back.",
                               FIX_GAP, recovers=False))
    return found


# --- reading them -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Health:
    """Every rule's and stream's state, read at one moment (for App Home, `rules list`, the alerts)."""

    rules: list[tuple[Any, SourceState]]  # (the RuleRow, its state), by rule id
    streams: list[tuple[Any, SourceState]]  # (the StreamRow, its state), by network


BudgetPaused = Callable[..., set[int]]  # (session=, now=) -> rule ids the spend meter paused


def read_health(*, session: Session, networks: Mapping[str, Network], now: datetime,
                budget_paused: BudgetPaused | None = None) -> Health:
    """The states of every rule and stream as the database holds them now."""
    paused = budget_paused(session=session, now=now) if budget_paused is not None else set()
    streams = []
    live: set[str] = set()
    for row in stream_store.list_streams(session=session):
        network = networks.get(row.network)
        state = stream_state(row, now=now, behind_after=network.stream_behind_after if network else None)
        streams.append((row, state))
        if state.state in (OK, BEHIND):
            live.add(row.network)
    rules = []
    for rule in rule_store.list_rules(session=session):
        network = networks.get(rule.network)
        streamed = (network is not None and rule.network in live and rule.cursor is not None
                    and carried(network, rule))
        rules.append((rule, rule_state(rule, now=now, budget_paused=rule.id in paused, streamed=streamed)))
    return Health(rules=rules, streams=streams)


def label_of(networks: Mapping[str, Network], name: str) -> str:
    network = networks.get(name)
    return network.info.label if network is not None else name


class SourceChecks:
    """The alert job's check of the sources: conditions for every rule and stream (see `Check`)."""

    def __init__(self, *, networks: Mapping[str, Network], alert_after: timedelta,
                 budget_paused: BudgetPaused | None = None, started_at: datetime | None = None) -> None:
        self._networks, self._after, self._budget = networks, alert_after, budget_paused
        self._started = started_at

    def __call__(self, session: Session, now: datetime) -> list[Condition]:
        health = read_health(session=session, networks=self._networks, now=now, budget_paused=self._budget)
        found: list[Condition] = []
        for rule, state in health.rules:
            found += rule_conditions(rule, state, now=now, alert_after=self._after,
                                     label=label_of(self._networks, rule.network), started_at=self._started)
        for row, state in health.streams:
            found += stream_conditions(row, state, now=now, alert_after=self._after,
                                       label=label_of(self._networks, row.network))
        return found
