"""Saved searches and their polling state."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, case, func, or_, update
from sqlmodel import Session, select

from socialdesk.store import spend, storable
from socialdesk.store.db import as_utc
from socialdesk.store.models import CaseRow, PostRow, RuleRow

# A rule's last_error when the network's stream refused it (it is polled instead). A poll that
# succeeds keeps it: it says why the rule is not streamed until the stream takes it.
STREAM_REFUSED = "not streamed: "


class RuleNotFound(LookupError):
    def __init__(self, rule_id: int) -> None:
        super().__init__(f"there is no rule {rule_id}; `socialdesk rules list` shows the rules")
        self.rule_id = rule_id


def add_rule(
    *,
    session: Session,
    network: str,
    query: str,
    channel_id: str,
    every_seconds: int,
    lang: str | None,
    include_reposts: bool,
    now: datetime,
    backfill: bool = False,
    kind: str = "search",
    priority_keywords: list[str] | None = None,
    priority_followers: int | None = None,
    sla_targets: str | None = None,
    stream: bool = False,
    ignore_spam: bool = False,
    routes: dict[str, str] | None = None,
    monthly_budget: float | None = None,
) -> RuleRow:
    """A new rule starts from the newest page (cursor None); `backfill` walks every page instead.

    `stream`: carried by the network's stream where it takes only the rules marked so.
    `ignore_spam`: likely spam opens as ignored; `routes`: intent or `tag:<tag>` → channel
    (rules.parse_routes checks them); `monthly_budget`: dollars a month its billed reads may cost."""
    rule = RuleRow(
        monthly_budget=monthly_budget,
        stream=stream,
        ignore_spam=ignore_spam,
        routes=dict(routes) if routes else None,
        sla_targets=sla_targets or None,
        network=network,
        kind=kind,
        priority_keywords=priority_keywords or None,
        priority_followers=priority_followers,
        query=query,
        channel_id=channel_id,
        every_seconds=every_seconds,
        lang=lang,
        include_reposts=include_reposts,
        created_at=now,
        cursor={} if backfill else None,
    )
    session.add(rule)
    session.flush()
    return rule


def list_rules(*, session: Session) -> list[RuleRow]:
    return list(session.exec(select(RuleRow).order_by(RuleRow.id)))


def last_successes(*, session: Session) -> list[tuple[int, str, datetime]]:
    """Each active rule's id, network and last successful poll (its creation, if it never had one),
    or the last time the poller found it paused by budget or an admin resumed it, if later: a pause
    that has ended left no polls behind it to count as lag (health.rule_state counts "behind" the same way)."""
    rows = session.exec(select(RuleRow.id, RuleRow.network, RuleRow.last_success_at, RuleRow.created_at,
                               RuleRow.budget_paused_at, RuleRow.resumed_at)
                        .where(RuleRow.paused == False).order_by(RuleRow.id))  # noqa: E712
    return [(rule_id, network, max(as_utc(t or created) for t in (success, budget_paused, resumed)))
            for rule_id, network, success, created, budget_paused, resumed in rows]  # type: ignore[misc]


def get_rule(*, session: Session, rule_id: int) -> RuleRow:
    rule = session.get(RuleRow, rule_id)
    if rule is None:
        raise RuleNotFound(rule_id)
    return rule


def set_paused(*, session: Session, rule_id: int, paused: bool, now: datetime) -> RuleRow:
    """Pause or resume the rule; a resume is recorded (`resumed_at`: a pause leaves no polls behind it)."""
    rule = get_rule(session=session, rule_id=rule_id)
    if rule.paused and not paused:
        rule.resumed_at = now
    rule.paused = paused
    session.add(rule)
    return rule


def set_budget(*, session: Session, rule_id: int, monthly_budget: float | None) -> RuleRow:
    """The rule's monthly budget in dollars (None: no limit of its own)."""
    rule = get_rule(session=session, rule_id=rule_id)
    rule.monthly_budget = monthly_budget
    session.add(rule)
    session.flush()
    return rule


def set_stream(*, session: Session, rule_id: int, stream: bool) -> RuleRow:
    """Mark the rule to be carried by its network's stream (or polled only); a refusal noted goes."""
    rule = get_rule(session=session, rule_id=rule_id)
    rule.stream = stream
    if not stream and rule.stream_refused is not None:
        _unrefuse(rule)
    session.add(rule)
    session.flush()
    return rule


def streamed_count(*, session: Session, network: str, excluding: int | None = None) -> int:
    """How many of the network's rules are marked `stream` (paused ones too: resuming one needs its place)."""
    query = select(func.count()).select_from(RuleRow).where(RuleRow.network == network,
                                                            RuleRow.stream == True)  # noqa: E712
    if excluding is not None:
        query = query.where(RuleRow.id != excluding)
    return int(session.exec(query).one())


def record_stream_refusal(*, session: Session, rule_id: int, reason: str, now: datetime) -> bool:
    """The network's stream refused the rule: it is polled instead, and its last error says why.

    False when that was already noted (or the rule is gone)."""
    rule = session.get(RuleRow, rule_id)
    reason = storable.text(reason)  # a network's words: NUL would fail the write on PostgreSQL
    if rule is None or rule.stream_refused == reason[:2000]:
        return False
    rule.stream_refused = reason[:2000]
    rule.last_error, rule.last_error_at = (STREAM_REFUSED + reason)[:2000], now
    session.add(rule)
    return True


def clear_stream_refusal(*, session: Session, rule_ids: list[int]) -> list[int]:
    """The stream carries these rules now: the refusals noted on them go (other errors stay); which did."""
    cleared = []
    for rule in session.exec(select(RuleRow).where(RuleRow.id.in_(rule_ids),  # type: ignore[union-attr]
                                                   RuleRow.stream_refused.is_not(None))):  # type: ignore[union-attr]
        _unrefuse(rule)
        session.add(rule)
        cleared.append(rule.id)
    return cleared


def _unrefuse(rule: RuleRow) -> None:
    rule.stream_refused = None
    if rule.last_error and rule.last_error.startswith(STREAM_REFUSED):
        rule.last_error = rule.last_error_at = None


def update_rule(
    *,
    session: Session,
    rule_id: int,
    query: str,
    channel_id: str,
    every_seconds: int,
    priority_keywords: list[str] | None,
    priority_followers: int | None,
    sla_targets: str | None = None,
    ignore_spam: bool | None = None,
    routes: dict[str, str] | None = None,
) -> RuleRow:
    """Change what an existing rule searches and where its cards go; its cursor and history stay.

    `ignore_spam`, `routes`: None leaves them as they are; `routes={}` removes them."""
    rule = get_rule(session=session, rule_id=rule_id)
    _set_triage(rule, ignore_spam, routes)
    rule.query = query
    rule.channel_id = channel_id
    rule.every_seconds = every_seconds
    rule.priority_keywords = priority_keywords or None
    rule.priority_followers = priority_followers
    rule.sla_targets = sla_targets or None
    session.add(rule)
    session.flush()
    return rule


def set_triage(*, session: Session, rule_id: int, ignore_spam: bool | None = None,
               routes: dict[str, str] | None = None) -> RuleRow:
    """Whether likely spam opens as ignored, and where intents and tags are routed (None: as it is; {}: no routes)."""
    rule = get_rule(session=session, rule_id=rule_id)
    _set_triage(rule, ignore_spam, routes)
    session.add(rule)
    session.flush()
    return rule


def _set_triage(rule: RuleRow, ignore_spam: bool | None, routes: dict[str, str] | None) -> None:
    if ignore_spam is not None:
        rule.ignore_spam = ignore_spam
    if routes is not None:
        rule.routes = dict(routes) or None


def set_sla_targets(*, session: Session, rule_id: int, sla_targets: str | None) -> RuleRow:
    """The rule's own first-response targets ("high=15m,normal=1h"), or None for the global ones."""
    rule = get_rule(session=session, rule_id=rule_id)
    rule.sla_targets = sla_targets or None
    session.add(rule)
    session.flush()
    return rule


def remove_rule(*, session: Session, rule_id: int) -> RuleRow:
    """Delete the rule; its cases and posts stay, no longer linked to it, and its spend becomes no rule's."""
    rule = get_rule(session=session, rule_id=rule_id)
    spend.forget_rule(session=session, rule_id=rule_id)
    session.execute(update(CaseRow).where(CaseRow.rule_id == rule_id).values(rule_id=None))
    session.execute(update(PostRow).where(PostRow.rule_id == rule_id).values(rule_id=None))
    session.delete(rule)
    return rule


def take_lease(*, session: Session, rule_id: int, now: datetime, seconds: float, min_gap: float) -> RuleRow | None:
    """Claim the right to poll the rule now, or None when it should not be polled.

    Not when paused, held back (`not_before`), leased by another worker, or polled
    less than `min_gap` seconds ago (two replicas' timers firing close together).
    The UPDATE is conditional on what was read, so two workers never both win.
    """
    rule = session.get(RuleRow, rule_id, populate_existing=True)
    if rule is None or rule.paused:
        return None
    if (rule.not_before and rule.not_before > now) or (rule.lease_until and rule.lease_until > now):
        return None
    if rule.last_polled_at and rule.last_polled_at > now - timedelta(seconds=min_gap):
        return None
    last = RuleRow.last_polled_at
    result = session.execute(
        update(RuleRow)
        .where(
            RuleRow.id == rule_id,
            last.is_(None) if rule.last_polled_at is None else last == rule.last_polled_at,
            or_(RuleRow.lease_until.is_(None), RuleRow.lease_until <= now),
        )
        .values(lease_until=now + timedelta(seconds=seconds), last_polled_at=now)
    )
    if result.rowcount != 1:
        return None
    return session.get(RuleRow, rule_id, populate_existing=True)


def renew_lease(*, session: Session, rule_id: int, taken_at: datetime, now: datetime, seconds: float) -> bool:
    """Keep a lease this worker took (`taken_at`: its `last_polled_at`, the lease's token) while it works."""
    result = session.execute(update(RuleRow).where(RuleRow.id == rule_id, RuleRow.last_polled_at == taken_at)
                             .values(lease_until=now + timedelta(seconds=seconds)))
    return result.rowcount == 1


def release_lease(*, session: Session, rule_id: int, taken_at: datetime | None = None) -> None:
    """Give the lease back; with `taken_at`, only if it is still the one this worker took."""
    query = update(RuleRow).where(RuleRow.id == rule_id)
    if taken_at is not None:
        query = query.where(RuleRow.last_polled_at == taken_at)
    session.execute(query.values(lease_until=None))


# Built once (a page's cursor is saved with every stored page): executing it costs a cache hit.
_SAVE_CURSOR = (
    update(RuleRow)
    .where(RuleRow.id == bindparam("rule"))
    .values(cursor=bindparam("new_cursor", type_=RuleRow.__table__.c.cursor.type),
            last_success_at=bindparam("now", type_=RuleRow.__table__.c.last_success_at.type), consecutive_failures=0,
            not_before=bindparam("new_not_before", type_=RuleRow.__table__.c.not_before.type),
            failing_since=None, failure_kind=None,
            last_error=case((RuleRow.last_error.like(STREAM_REFUSED + "%"),  # type: ignore[union-attr]
                             RuleRow.last_error), else_=None))
)


def save_cursor(*, session: Session, rule_id: int, cursor: dict[str, Any], not_before: datetime | None, now: datetime) -> None:
    # Core, not the ORM's update: that one first reads the row back to refresh a loaded copy
    # (it cannot evaluate the CASE in Python). Callers hold no loaded copy.
    session.connection().execute(_SAVE_CURSOR, {"rule": rule_id, "new_cursor": cursor, "now": now,
                                                "new_not_before": not_before})


def reset_cursor_walk(*, session: Session, rule_id: int, cursor: dict[str, Any]) -> None:
    """Replace a refused cursor with the one its network restarts from (nothing is skipped)."""
    session.execute(update(RuleRow).where(RuleRow.id == rule_id).values(cursor=cursor))


def skip_poll(*, session: Session, rule_id: int, now: datetime) -> None:
    """The rule's posts arrive by stream: count this turn as polled so it is not due again at once."""
    session.execute(update(RuleRow).where(RuleRow.id == rule_id).values(last_polled_at=now))


def note_budget_pause(*, session: Session, rule_id: int, now: datetime) -> None:
    """The poller found the rule paused by budget now: once the pause ends, "behind" counts from here (health)."""
    session.execute(update(RuleRow).where(RuleRow.id == rule_id).values(budget_paused_at=now))


RATE_LIMITED, UNAVAILABLE, REJECTED = "rate_limited", "unavailable", "rejected"  # failure kinds


def record_failure(*, session: Session, rule_id: int, error: str, not_before: datetime | None, now: datetime,
                   kind: str = UNAVAILABLE) -> int:
    """Note a failed poll; returns how many polls in a row have failed.

    `kind`: RATE_LIMITED, UNAVAILABLE or REJECTED. A rate limit is waited out, not a failure:
    it does not start `failing_since` (the ops alert's clock); the first other failure does."""
    rule = get_rule(session=session, rule_id=rule_id)
    rule.consecutive_failures += 1
    rule.last_error = storable.text(error)[:2000]  # a network's words: NUL would fail recording the failure
    rule.last_error_at = now
    rule.not_before = not_before
    rule.failure_kind = kind
    if kind != RATE_LIMITED and rule.failing_since is None:
        rule.failing_since = now
    session.add(rule)
    return rule.consecutive_failures


def record_gap(*, session: Session, rule_id: int, start: datetime, end: datetime, now: datetime) -> None:
    """Posts between `start` and `end` could not be read for the rule (older than its network's search reaches)."""
    session.execute(update(RuleRow).where(RuleRow.id == rule_id).values(gap_from=start, gap_to=end, gap_at=now))
