"""Storms → one incident: near-duplicate posts on one rule share one card.

Storms are found as a page is stored (store.storms, called by store.ingest.store_page):
near-duplicate new cases of one rule join an incident whose anchor's card becomes the
incident card; each member, still its own case (it is its own customer), is posted in that
card's thread (jobs.publish). This module is the incident card's side.

The changes to cases are conditional, like every other transition: a member splits out
only while it is still in the incident; "resolve all" and "ignore all" are one audited
transition per case (store.lifecycle), so an agent acting on one of them at that moment
wins or loses cleanly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import delete, func, update
from sqlalchemy import case as sql_case
from sqlmodel import Session, col, select

from socialdesk.domain import DUPLICATE, CaseStatus, EventKind
from socialdesk.store import lifecycle
from socialdesk.store.events import record_event
from socialdesk.store.incident_views import CLOSED
from socialdesk.store.models import AuthorRow, CaseRow, IncidentRow, PostRow

OPEN = tuple(s.value for s in CaseStatus if s.value not in CLOSED)
# Reply to all answers the customers still waiting for one: a replied case has its answer.
AWAITING_REPLY = (CaseStatus.NEW.value, CaseStatus.REOPENED.value, CaseStatus.CLAIMED.value)


# --- from the incident card ---


def incident_of(*, session: Session, case_id: int) -> IncidentRow | None:
    """The incident the case is in (as anchor or member), if any."""
    incident_id = session.exec(select(CaseRow.incident_id).where(CaseRow.id == case_id)).first()
    return session.get(IncidentRow, incident_id, populate_existing=True) if incident_id else None


def member_ids(*, session: Session, incident_id: int, statuses: Sequence[str] = OPEN) -> list[int]:
    """The incident's cases in these statuses (the anchor's included), oldest first."""
    return list(session.exec(select(CaseRow.id).where(CaseRow.incident_id == incident_id,
                                                      col(CaseRow.status).in_(statuses)).order_by(CaseRow.id)))


def awaiting_reply(*, session: Session, incident_id: int, case_ids: Sequence[int] | None = None) -> list[tuple[int, str]]:
    """The incident's customers still waiting for an answer (`case_ids`: of those only), as
    (case id, their handle), oldest first: whom a reply to all goes to."""
    statement = (
        select(CaseRow.id, AuthorRow.handle)
        .join(PostRow, col(PostRow.id) == col(CaseRow.first_post_id))
        .join(AuthorRow, col(AuthorRow.id) == col(PostRow.author_id))
        .where(CaseRow.incident_id == incident_id, col(CaseRow.status).in_(AWAITING_REPLY))
        .order_by(CaseRow.id)
    )
    if case_ids is not None:
        statement = statement.where(col(CaseRow.id).in_(list(case_ids)))
    return [(case_id, handle) for case_id, handle in session.exec(statement).all()]


@dataclass(frozen=True)
class BulkResult:
    """What "resolve all" / "ignore all" did: the cases changed, and those an agent had changed meanwhile."""

    changed: list[int]
    skipped: list[int]
    owners: dict[int, str] = field(default_factory=dict)  # changed case → its owner (an agent, or none)


def resolve_all(*, session: Session, incident_id: int, user_id: str, now: datetime,
                outcome: str | None = None) -> BulkResult:
    """Resolve each open case of the incident with `outcome` (lifecycle.OUTCOMES but a duplicate;
    None: not said), one audited, conditional transition each."""
    if outcome == DUPLICATE:
        raise lifecycle.OutcomeError("a whole incident is not a duplicate of one case; resolve its cases one by one")
    return _each(session, incident_id, now, lambda case_id: lifecycle.resolve(
        session=session, case_id=case_id, user_id=user_id, now=now, outcome=outcome))


def ignore_all(*, session: Session, incident_id: int, user_id: str, reason: str, now: datetime) -> BulkResult:
    """Ignore each open case of the incident with `reason` (see lifecycle.IGNORE_REASONS)."""
    if reason not in lifecycle.IGNORE_REASONS:
        raise ValueError(f"unknown reason {reason!r}")
    return _each(session, incident_id, now, lambda case_id: lifecycle.ignore(
        session=session, case_id=case_id, user_id=user_id, reason=reason, now=now))


def _each(session: Session, incident_id: int, now: datetime, change) -> BulkResult:  # type: ignore[no-untyped-def]
    changed, skipped, owners = [], [], {}
    for case_id in member_ids(session=session, incident_id=incident_id):
        result = change(case_id)
        (changed if result.ok else skipped).append(case_id)
        if result.ok and result.case.assignee:
            owners[case_id] = result.case.assignee
    if not member_ids(session=session, incident_id=incident_id):
        session.execute(update(IncidentRow).where(IncidentRow.id == incident_id, IncidentRow.closed_at.is_(None))
                        .values(closed_at=now, version=IncidentRow.version + 1))
    return BulkResult(changed, skipped, owners)


@dataclass(frozen=True)
class SplitResult:
    """`ok` when the case left the incident; `message_ts`: its message in the incident card's thread."""

    ok: bool
    incident_id: int | None = None
    anchor_case_id: int | None = None
    message_ts: str | None = None
    dissolved: bool = False  # the anchor was left alone: its card is a plain card again


def split(*, session: Session, case_id: int, user_id: str, now: datetime) -> SplitResult:
    """Take a member out of its incident: it is published again, as a card of its own."""
    incident = incident_of(session=session, case_id=case_id)
    if incident is None or incident.anchor_case_id == case_id:
        return SplitResult(False, incident.id if incident else None)
    message_ts = session.exec(select(CaseRow.message_ts).where(CaseRow.id == case_id)).first()
    won = session.execute(
        update(CaseRow).where(CaseRow.id == case_id, CaseRow.incident_id == incident.id)
        .values(incident_id=None, message_ts=None, publish_attempted_at=None, publish_lease_until=None,
                publish_failures=0, publish_error=None, updated_at=now, version=CaseRow.version + 1,
                last_action=f"split out of incident #{incident.id} by <@{user_id}>")
    ).rowcount == 1
    if not won:
        return SplitResult(False, incident.id, incident.anchor_case_id)
    record_event(session, case_id, EventKind.INCIDENT_SPLIT, user_id, now, incident_id=incident.id,
                 message_ts=message_ts)
    alone = not session.exec(select(CaseRow.id).where(CaseRow.incident_id == incident.id,
                                                      CaseRow.id != incident.anchor_case_id)).first()
    if alone:
        session.execute(update(CaseRow).where(CaseRow.id == incident.anchor_case_id,
                                              CaseRow.incident_id == incident.id).values(incident_id=None))
        session.execute(update(IncidentRow).where(IncidentRow.id == incident.id)
                        .values(closed_at=now, version=IncidentRow.version + 1))
    return SplitResult(True, incident.id, incident.anchor_case_id, message_ts, dissolved=alone)


# --- lists and figures ---


@dataclass(frozen=True)
class IncidentSummary:
    """An incident as `/social incidents` lists it."""

    incident_id: int
    anchor_case_id: int
    channel_id: str
    message_ts: str | None  # the incident card
    count: int
    open_count: int
    first_at: datetime
    last_at: datetime
    handle: str  # the anchor's author
    text: str  # the anchor's post

    @property
    def case_id(self) -> int:
        """The case whose card is the incident card (what a list's card links are fetched for)."""
        return self.anchor_case_id


def open_incidents(*, session: Session, limit: int = 20) -> list[IncidentSummary]:
    """Incidents with a case still open, the latest joined first."""
    open_case = sql_case((col(CaseRow.status).in_(CLOSED), 0), else_=1)
    figures = (
        select(CaseRow.incident_id.label("incident_id"), func.count(col(CaseRow.id)).label("n"),  # type: ignore[union-attr]
               func.sum(open_case).label("open_n"), func.min(PostRow.created_at).label("first_at"),
               func.max(PostRow.created_at).label("last_at"))
        .join(PostRow, col(PostRow.id) == col(CaseRow.first_post_id))
        .where(CaseRow.incident_id.is_not(None))
        .group_by(CaseRow.incident_id)
        .subquery()
    )
    anchor_post = select(PostRow.text, AuthorRow.handle, PostRow.id).join(
        AuthorRow, col(AuthorRow.id) == col(PostRow.author_id)).subquery()
    rows = session.exec(
        select(IncidentRow.id, IncidentRow.anchor_case_id, IncidentRow.channel_id, CaseRow.message_ts,
               figures.c.n, figures.c.open_n, figures.c.first_at, figures.c.last_at, anchor_post.c.handle,
               anchor_post.c.text)
        .join(figures, figures.c.incident_id == IncidentRow.id)
        .join(CaseRow, col(CaseRow.id) == col(IncidentRow.anchor_case_id))
        .join(anchor_post, anchor_post.c.id == col(CaseRow.first_post_id))
        .where(figures.c.open_n > 0, figures.c.n > 1)
        .order_by(col(IncidentRow.last_joined_at).desc(), col(IncidentRow.id).desc())
        .limit(limit)
    ).all()
    return [IncidentSummary(incident_id=i, anchor_case_id=a, channel_id=ch, message_ts=ts, count=int(n),
                            open_count=int(o), first_at=first, last_at=last, handle=h, text=t)
            for i, a, ch, ts, n, o, first, last, h, t in rows]


def storm_counts(*, session: Session, start: datetime, end: datetime) -> tuple[int, int]:
    """Incidents opened in [start, end) and the posts (cases) in them: "3 incidents (17 posts)"."""
    n, posts = session.exec(
        select(func.count(func.distinct(IncidentRow.id)), func.count(col(CaseRow.id)))
        .join(CaseRow, col(CaseRow.incident_id) == col(IncidentRow.id))
        .where(IncidentRow.opened_at >= start, IncidentRow.opened_at < end)
    ).one()
    return int(n or 0), int(posts or 0)


def forget_cases(*, session: Session, case_ids: Sequence[int]) -> None:
    """Cases are being deleted (retention, forget): incidents left without cases go too, and an
    incident whose anchor goes has no card any more: its cases are plain cases again."""
    if not case_ids:
        return
    touched: list[int] = []
    ids = sorted(set(case_ids))
    for start in range(0, len(ids), 500):
        touched += session.exec(select(IncidentRow.id).where(col(IncidentRow.anchor_case_id).in_(ids[start:start + 500])))
    if touched:  # the incident card is gone: its open members are published again, each on a card of its own
        session.execute(update(CaseRow).where(col(CaseRow.incident_id).in_(touched), col(CaseRow.status).in_(OPEN))
                        .values(incident_id=None, message_ts=None, publish_attempted_at=None,
                                publish_lease_until=None, publish_failures=0, publish_error=None))
        # Closed ones keep the message they had in the thread (gone with it): no new card for old news.
        session.execute(update(CaseRow).where(col(CaseRow.incident_id).in_(touched)).values(incident_id=None))
    emptied = select(CaseRow.id).where(CaseRow.incident_id == IncidentRow.id).exists()
    session.execute(delete(IncidentRow).where(~emptied))
