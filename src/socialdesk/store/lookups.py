"""Read-only lookups behind `/social`: my cases, the queue, one customer's cases.

The queue is worked in order: soonest first-response due first, then priority, then age.
A due time comes from the SLA policy (business hours included), which SQL cannot compute;
but within one target and priority a case opened later is never due sooner, so SQL hands
over each such run in opening order, a page deep, and the runs are merged here (`_streams`):
20,000 waiting cases are ordered in tens of milliseconds, not by reading them all.

Team figures (`/social stats`) come from store.figures, the same counting as the digests."""

from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, cast, exists, func, or_
from sqlalchemy import case as sql_case
from sqlalchemy.dialects import postgresql
from sqlmodel import Session, select

from socialdesk import sla
from socialdesk.domain import CaseStatus
from socialdesk.queue_filter import PRIORITIES, QueueFilter
from socialdesk.store.models import AuthorRow, CaseRow, PostRow
from socialdesk.store.sla import with_rule_targets

S = CaseStatus
WAITING = (S.NEW.value, S.REOPENED.value)
HELD = (S.CLAIMED.value, S.REPLIED.value)
MAX_LIMIT = 50
NO_DUE = datetime(1970, 1, 1, tzinfo=UTC)  # stands in for "no due time" in the sort (those come last anyway)


@dataclass(frozen=True)
class CaseItem:
    """One line of a case list: enough to show it and link to its card."""

    case_id: int
    status: CaseStatus
    assignee: str | None
    priority: str
    opened_at: datetime
    updated_at: datetime
    channel_id: str
    message_ts: str | None
    handle: str
    name: str
    text: str
    url: str
    due: datetime | None = None  # when its first reply is due (queue only; None: no target, or answered)


@dataclass(frozen=True)
class CasePage:
    items: list[CaseItem]
    total: int
    offset: int
    limit: int

    @property
    def has_more(self) -> bool:
        return self.offset + len(self.items) < self.total

    @property
    def has_previous(self) -> bool:
        return self.offset > 0


@dataclass(frozen=True)
class AuthorPage(CasePage):
    """An author's cases, and how many of their posts we hold (cases and follow-ups)."""

    handle: str = ""
    name: str | None = None
    followers: int | None = None
    post_count: int = 0


def _bounds(limit: int, offset: int) -> tuple[int, int]:
    return max(1, min(int(limit), MAX_LIMIT)), max(0, int(offset))


def _case_page(session: Session, conditions: list[Any], order: list[Any], limit: int, offset: int) -> CasePage:
    limit, offset = _bounds(limit, offset)
    total = session.exec(select(func.count()).select_from(CaseRow).where(*conditions)).one()
    rows = session.exec(
        select(CaseRow, PostRow, AuthorRow)
        .join(PostRow, PostRow.id == CaseRow.first_post_id)
        .join(AuthorRow, AuthorRow.id == PostRow.author_id)
        .where(*conditions)
        .order_by(*order)
        .limit(limit)
        .offset(offset)
    ).all()
    return CasePage(items=_items(rows), total=int(total), offset=offset, limit=limit)


def _items(rows: Any, due: dict[int, datetime | None] | None = None) -> list[CaseItem]:
    return [
        CaseItem(
            case_id=case.id,  # type: ignore[arg-type]
            status=CaseStatus(case.status),
            assignee=case.assignee,
            priority=case.priority,
            opened_at=case.opened_at,
            updated_at=case.updated_at,
            channel_id=case.channel_id,
            message_ts=case.message_ts,
            handle=author.handle,
            name=author.name,
            text=post.text,
            url=post.url,
            due=(due or {}).get(case.id),  # type: ignore[arg-type]
        )
        for case, post, author in rows
    ]


def my_cases(*, session: Session, user_id: str, limit: int, offset: int) -> CasePage:
    """Open cases `user_id` holds (claimed, replied, or reopened by the customer), newest activity first."""
    return _case_page(
        session,
        # A case its customer reopened stays its owner's (store.conversations): theirs, not the queue's.
        [CaseRow.assignee == user_id, CaseRow.status.in_((*HELD, S.REOPENED.value))],
        [CaseRow.updated_at.desc(), CaseRow.id.desc()],
        limit,
        offset,
    )


def tag_condition(session: Session, tags: frozenset[str]) -> Any:
    """Cases carrying any of `tags` (a JSON list column: each database reads it its own way)."""
    if session.get_bind().dialect.name == "postgresql":
        # jsonb's ?| is false for a JSON null or an empty list, where json_array_elements would fail.
        return cast(CaseRow.tags, postgresql.JSONB).has_any(postgresql.array(sorted(tags)))
    each = func.json_each(CaseRow.tags).table_valued("value")
    return exists(select(1).select_from(each).where(each.c.value.in_(sorted(tags)))).correlate(CaseRow)


def unowned() -> Any:
    """Waiting for a claim: new, or reopened with nobody holding it (a customer's reopen keeps the owner)."""
    return or_(CaseRow.status != S.REOPENED.value, CaseRow.assignee.is_(None))


def filter_conditions(session: Session, filters: QueueFilter) -> list[Any]:
    conditions: list[Any] = []
    if filters.priorities:
        conditions.append(CaseRow.priority.in_(sorted(filters.priorities)))
    if filters.rule_ids:
        conditions.append(CaseRow.rule_id.in_(sorted(filters.rule_ids)))
    if filters.networks:
        conditions.append(CaseRow.network.in_(sorted(filters.networks)))
    if filters.intents:
        conditions.append(CaseRow.intent.in_(sorted(filters.intents)))
    if filters.tags:
        conditions.append(tag_condition(session, filters.tags))
    return conditions


def due_at(case: Any, policy: sla.Policy | None) -> datetime | None:
    """When a waiting case's reply is due (as its card says: from its last reopen, if any); None once
    the current clock is answered, or without a target."""
    if policy is None or sla.answered_at(case) is not None:
        return None
    return sla.case_deadline(case, policy)


def _urgency(case: Any, due: datetime | None) -> tuple[Any, ...]:
    """The queue's order: a due time before none, sooner first; then priority; then the oldest."""
    rank = PRIORITIES.index(case.priority) if case.priority in PRIORITIES else len(PRIORITIES)
    return (due is None, due or NO_DUE, rank, case.opened_at, case.id)


def _streams(session: Session, conditions: list[Any], policy: sla.Policy | None, wanted: int) -> list[Any]:
    """The waiting cases split into runs already in the queue's order, each read `wanted` rows deep.

    Within one (target, priority) run a later opening is never due sooner (working time only
    moves forward), so ORDER BY opened_at is due order there; what has no due time is one
    run by priority then age. Merging the runs' heads gives the order with a due time
    computed for the cases shown, not for the whole backlog."""
    combos = session.exec(select(CaseRow.priority, CaseRow.rule_id).where(*conditions)
                          .group_by(CaseRow.priority, CaseRow.rule_id)).all()
    runs: dict[tuple[Any, str], list[int | None]] = {}
    for priority, rule_id in combos:
        target = policy.target(priority, rule_id) if policy is not None else None
        runs.setdefault((target, priority), []).append(rule_id)

    def of_rules(rule_ids: list[int | None]) -> Any:
        known = [r for r in rule_ids if r is not None]
        either = [CaseRow.rule_id.in_(known)] if known else []
        return or_(*either, CaseRow.rule_id.is_(None)) if None in rule_ids else either[0]

    columns = (CaseRow.id, CaseRow.opened_at, CaseRow.priority, CaseRow.rule_id, CaseRow.first_response_at,
               CaseRow.responded_at, CaseRow.sla_started_at)
    # The clock starts at the opening, or at the last reopen (sla_started_at): each is a run of its own,
    # in its start's order (the few reopened ones apart, so the opened ones keep their index order).
    selects = [select(*columns).where(*conditions, CaseRow.responded_at.is_(None), CaseRow.priority == priority,
                                      of_rules(rule_ids), started).order_by(start, CaseRow.id)
               for (target, priority), rule_ids in runs.items() if target is not None
               for started, start in ((CaseRow.sla_started_at.is_(None), CaseRow.opened_at),
                                      (CaseRow.sla_started_at.is_not(None), CaseRow.sla_started_at))]
    # Nothing due: the current clock answered already, or no target for its priority and rule.
    untimed = [and_(CaseRow.priority == priority, of_rules(rule_ids))
               for (target, priority), rule_ids in runs.items() if target is None]
    rank = sql_case(*[(CaseRow.priority == p, n) for n, p in enumerate(PRIORITIES)], else_=len(PRIORITIES))
    selects.append(select(*columns).where(*conditions, or_(CaseRow.responded_at.is_not(None), *untimed))
                   .order_by(rank, CaseRow.opened_at, CaseRow.id))
    return [session.exec(statement.limit(wanted)).all() for statement in selects]


def queue(*, session: Session, limit: int, offset: int, policy: sla.Policy | None = None,
          filters: QueueFilter | None = None) -> CasePage:
    """Cases nobody has claimed (new or reopened) that match `filters`, most urgent first.

    Soonest first-response due first (`policy` with the rules' own targets; None: no due
    times), then priority (high first), then age (oldest first)."""
    limit, offset = _bounds(limit, offset)
    conditions = [CaseRow.status.in_(WAITING), unowned(), *filter_conditions(session, filters or QueueFilter())]
    total = session.exec(select(func.count()).select_from(CaseRow).where(*conditions)).one()
    if policy is not None:
        policy = with_rule_targets(session=session, policy=policy)
    dues: dict[int, datetime | None] = {}

    def ordered(run: list[Any]) -> Any:
        for key in run:
            dues[key.id] = due_at(key, policy)
            yield _urgency(key, dues[key.id])

    merged = heapq.merge(*(ordered(run) for run in _streams(session, conditions, policy, offset + limit)))
    wanted = [urgency[-1] for urgency in itertools.islice(merged, offset, offset + limit)]
    rows = session.exec(
        select(CaseRow, PostRow, AuthorRow)
        .join(PostRow, PostRow.id == CaseRow.first_post_id)
        .join(AuthorRow, AuthorRow.id == PostRow.author_id)
        .where(CaseRow.id.in_(wanted))
    ).all() if wanted else []
    place = {case_id: n for n, case_id in enumerate(wanted)}
    rows = sorted(rows, key=lambda r: place[r[0].id])
    return CasePage(items=_items(rows, dues), total=int(total), offset=offset, limit=limit)


def normalize_handle(handle: str) -> str:
    return handle.strip().lstrip("@").strip().lower()


def author_cases(*, session: Session, handle: str, limit: int, offset: int) -> AuthorPage:
    """The cases opened by the author with this handle (`@` optional, any case), newest first."""
    wanted = normalize_handle(handle)
    authors = list(session.exec(select(AuthorRow).where(func.lower(AuthorRow.handle) == wanted).order_by(AuthorRow.id)))
    author_ids = [a.id for a in authors]
    if not author_ids:
        limit, offset = _bounds(limit, offset)
        return AuthorPage(items=[], total=0, offset=offset, limit=limit, handle=wanted)
    page = _case_page(
        session,
        [CaseRow.customer_author_id.in_(author_ids)],
        [CaseRow.opened_at.desc(), CaseRow.id.desc()],
        limit,
        offset,
    )
    post_count = session.exec(select(func.count()).select_from(PostRow).where(PostRow.author_id.in_(author_ids))).one()
    newest = max(authors, key=lambda a: a.updated_at)
    return AuthorPage(items=page.items, total=page.total, offset=page.offset, limit=page.limit,
                      handle=newest.handle, name=newest.name, followers=newest.followers, post_count=int(post_count))
