"""Reading an incident as its card shows it (store.cases.case_view adds it to each case's view).

Apart from store.incidents, which changes incidents through store.lifecycle: the case
view is read by lifecycle's own callers, and this module needs nothing but the tables.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import case as sql_case
from sqlalchemy import func
from sqlmodel import Session, col, select

from socialdesk.domain import CaseStatus, IncidentMember, IncidentView
from socialdesk.store.models import AuthorRow, CaseRow, IncidentRow, PostRow

CLOSED = (CaseStatus.RESOLVED.value, CaseStatus.IGNORED.value)
LATEST = 5  # members (the anchor aside) listed on the incident card, newest first


def incident_view(*, session: Session, incident_id: int) -> IncidentView | None:
    """The incident with its live count; None when it is gone or holds its anchor alone."""
    incident = session.get(IncidentRow, incident_id)
    if incident is None:
        return None
    open_case = sql_case((col(CaseRow.status).in_(CLOSED), 0), else_=1)
    count, open_count, first_at, last_at = session.exec(
        select(func.count(col(CaseRow.id)), func.coalesce(func.sum(open_case), 0),
               func.min(PostRow.created_at), func.max(PostRow.created_at))
        .join(PostRow, col(PostRow.id) == col(CaseRow.first_post_id))
        .where(CaseRow.incident_id == incident_id)
    ).one()
    if count < 2:
        return None
    rows = session.exec(
        select(CaseRow.id, CaseRow.status, AuthorRow.handle, PostRow.text, PostRow.url, PostRow.created_at)
        .join(PostRow, col(PostRow.id) == col(CaseRow.first_post_id))
        .join(AuthorRow, col(AuthorRow.id) == col(PostRow.author_id))
        .where(CaseRow.incident_id == incident_id, CaseRow.id != incident.anchor_case_id)  # the card shows the anchor
        .order_by(col(PostRow.created_at).desc(), col(CaseRow.id).desc())
        .limit(LATEST)
    ).all()
    latest = tuple(IncidentMember(case_id=cid, handle=handle, text=text, url=url, status=CaseStatus(status),
                                  written_at=written) for cid, status, handle, text, url, written in rows)
    anchor_ts = session.exec(select(CaseRow.message_ts).where(CaseRow.id == incident.anchor_case_id)).first()
    return IncidentView(incident_id=incident_id, anchor_case_id=incident.anchor_case_id, count=int(count),
                        open_count=int(open_count), first_at=first_at, last_at=last_at, latest=latest,
                        thread_ts=anchor_ts)


def incident_threads(*, session: Session, cases: Sequence[CaseRow]) -> dict[int, str | None]:
    """For the members among `cases`: the incident card's ts, the thread their messages are in."""
    incident_ids = {c.incident_id for c in cases if c.incident_id is not None}
    if not incident_ids:
        return {}
    rows = session.exec(
        select(IncidentRow.id, IncidentRow.anchor_case_id, CaseRow.message_ts)
        .join(CaseRow, col(CaseRow.id) == col(IncidentRow.anchor_case_id))
        .where(col(IncidentRow.id).in_(incident_ids))
    ).all()
    anchors = {incident_id: (anchor, ts) for incident_id, anchor, ts in rows}
    return {c.id: anchors[c.incident_id][1] for c in cases  # type: ignore[misc]
            if c.incident_id in anchors and anchors[c.incident_id][0] != c.id}
