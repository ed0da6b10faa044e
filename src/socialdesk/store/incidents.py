"""Storms → one incident: near-duplicate posts on one rule share one card.

After a page is stored (store.ingest.store_page), each case it opened is compared with
the open cases of the same rule and channel whose first post was written within the
window before it (the page's own earlier cases included): the candidates are read in
one query per page and compared in Python (triage.similarity), each new post with the few
that share its telling words (_Pool: cheap per post at ingest). A near duplicate joins the
most similar candidate's incident, made on the first join with that older case as its
anchor: the anchor's card becomes the incident card, and each member, still its own
case (it is its own customer), is posted in that card's thread (jobs.publish).

The changes to cases are conditional, like every other transition: a member splits out
only while it is still in the incident; "resolve all" and "ignore all" are one audited
transition per case (store.lifecycle), so an agent acting on one of them at that moment
wins or loses cleanly.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import bindparam, delete, func, insert, text, update
from sqlalchemy import case as sql_case
from sqlmodel import Session, col, select

from socialdesk.domain import DUPLICATE, CaseStatus, EventKind, Post
from socialdesk.store import lifecycle
from socialdesk.store.events import event_row, record_event, record_events
from socialdesk.store.ids import take_ids
from socialdesk.store.incident_views import CLOSED
from socialdesk.store.models import AuthorRow, CaseRow, IncidentRow, PostRow
from socialdesk.triage.similarity import near_duplicates, text_key

SYSTEM = "system"
CANDIDATES = 200  # the newest open cases of the rule read per page (a firehose rule has many; storms are bursts)
MEMBERS_COMPARED = 3  # of each incident, its newest cases are compared (see _representatives)
SHORTLIST = 8  # candidates compared with each new post, those sharing the most telling words (see _Pool)
COMMON_FLOOR, COMMON_SHARE = 16, 0.1  # a word in more candidates than both tells nothing
OPEN = tuple(s.value for s in CaseStatus if s.value not in CLOSED)
# Reply to all answers the customers still waiting for one: a replied case has its answer.
AWAITING_REPLY = (CaseStatus.NEW.value, CaseStatus.REOPENED.value, CaseStatus.CLAIMED.value)


@dataclass(frozen=True)
class Joined:
    """A case the page opened that joined an incident (`like`: the case it is most like)."""

    case_id: int
    incident_id: int
    like: int


@dataclass(slots=True)
class _Candidate:
    case_id: int
    incident_id: int | None
    channel_id: str
    text: str
    written_at: datetime


# Advisory lock keys: this namespace (an arbitrary constant) and the rule's id.
_RULE_LOCK = text("SELECT pg_advisory_xact_lock(1769, :rule)")


def join_storms(*, session: Session, rule_id: int | None, case_ids: Sequence[int], posts: Sequence[Post],
                window: timedelta | None, now: datetime) -> list[Joined]:
    """Join the page's new cases (`case_ids`; `posts`: the page's posts) to incidents; returns who joined.

    `window` None or zero: incidents are off. A case the page opened as ignored (noise) joins nothing.
    """
    if rule_id is None or not case_ids or not window or not posts:
        return []
    if session.get_bind().dialect.name == "postgresql":
        # Two pages of one rule stored at once (a poll and the stream) would both see a candidate
        # in no incident and each make one for it: one at a time per rule, until commit. (SQLite's
        # writers are one at a time already: BEGIN IMMEDIATE.)
        session.connection().execute(_RULE_LOCK, {"rule": rule_id})
    since = min(p.created_at for p in posts) - window
    rows = session.exec(
        select(CaseRow.id, CaseRow.incident_id, CaseRow.channel_id, PostRow.text, PostRow.created_at)
        .join(PostRow, col(PostRow.id) == col(CaseRow.first_post_id))
        # opened_at (when stored) is never before the post was written: the index narrows, created_at decides.
        .where(CaseRow.rule_id == rule_id, CaseRow.opened_at >= since, PostRow.created_at >= since,
               col(CaseRow.status).in_(OPEN))
        .order_by(col(CaseRow.opened_at).desc(), col(CaseRow.id).desc())
        .limit(CANDIDATES + len(case_ids))
    ).all()
    known = {cid: _Candidate(cid, incident, channel, text, written) for cid, incident, channel, text, written in rows}
    new = set(case_ids)
    fresh = sorted((known[c] for c in new if c in known), key=lambda c: (c.written_at, c.case_id))
    pool = _Pool(_representatives([c for c in known.values() if c.case_id not in new]))
    joins: list[tuple[_Candidate, _Candidate]] = []  # (member, the case it is most like)
    for case in fresh:
        key = text_key(case.text)
        if not key:
            continue
        words = _words(key)
        def eligible(ids: Sequence[int], case: _Candidate = case) -> list[int]:
            return [c for c in ids if known[c].channel_id == case.channel_id
                    and known[c].written_at >= case.written_at - window]  # type: ignore[operator]

        # The same text (a copied post) is as similar as can be: nothing to compare.
        similar = eligible(pool.same_text(key)) or eligible(near_duplicates(case.text, pool.shortlist(key, words)))
        like = _best(similar, known)
        if like is not None:
            joins.append((case, like))
            if like.incident_id is None:
                like.incident_id = -like.case_id  # placeholder: the incident is made below, anchored on `like`
            case.incident_id = like.incident_id
        pool.add(case.case_id, case.text, key, words)  # the page's later posts may be like it
    return _write_joins(session, joins, rule_id=rule_id, now=now)


def _representatives(cases: Sequence[_Candidate]) -> dict[int, str]:
    """The candidates worth comparing: every case in no incident, and of each incident its anchor's
    kin, the newest few (a storm of 500 is not compared 500 times: its newest say what it is about)."""
    chosen: dict[int, str] = {}
    by_incident: dict[int, list[_Candidate]] = {}
    for case in cases:
        if case.incident_id is None:
            chosen[case.case_id] = case.text
        else:
            by_incident.setdefault(case.incident_id, []).append(case)
    for members in by_incident.values():
        for case in sorted(members, key=lambda c: (c.written_at, c.case_id))[-MEMBERS_COMPARED:]:
            chosen[case.case_id] = case.text
    return chosen


class _Pool:
    """The page's candidates by word: a post is compared (triage.similarity) with the few that share
    its telling words, not with all of them. Near duplicates share most of their content, so they
    share some word that few other candidates use; a word in many of them (the rule's own "acme")
    tells nothing and is not looked up, and the same text is always found by its key."""

    def __init__(self, texts: Mapping[int, str]) -> None:
        self._texts: dict[int, str] = {}
        self._postings: dict[str, list[int]] = {}
        self._by_key: dict[str, list[int]] = {}
        for case_id, text in texts.items():
            key = text_key(text)
            self.add(case_id, text, key, _words(key))

    def add(self, case_id: int, text: str, key: str, words: set[str]) -> None:
        """`key`: the text's triage.similarity.text_key, `words`: its words (_words)."""
        if not key:
            return
        self._texts[case_id] = text
        self._by_key.setdefault(key, []).append(case_id)
        for word in words:
            self._postings.setdefault(word, []).append(case_id)

    def same_text(self, key: str) -> list[int]:
        """The candidates with this very text, newest first."""
        return self._by_key.get(key, [])[::-1][:SHORTLIST]

    def shortlist(self, key: str, words: set[str]) -> dict[int, str]:
        """The candidates most like the text whose text_key is `key`, by their telling words."""
        common = max(COMMON_FLOOR, len(self._texts) * COMMON_SHARE)
        shared: Counter[int] = Counter()
        for word in words:
            ids = self._postings.get(word)
            if ids and len(ids) <= common:
                weight = 1.0 / len(ids)  # a rarer word says more
                for case_id in ids:
                    shared[case_id] += weight
        return {c: self._texts[c] for c, _ in shared.most_common(SHORTLIST)}


def _words(key: str) -> set[str]:
    return {w for w in key.split() if len(w) > 2 or w.isdigit()}


def _best(similar: Sequence[int], known: Mapping[int, _Candidate]) -> _Candidate | None:
    """The most similar case already in an incident (the storm goes on), else the most similar one."""
    if not similar:
        return None
    in_one = [known[c] for c in similar if known[c].incident_id is not None]
    return in_one[0] if in_one else known[similar[0]]


_CASES = CaseRow.__table__
_INCIDENTS = IncidentRow.__table__
# Built once, executed for all the page's rows (one executemany each, whatever the page holds).
_SET_INCIDENT = update(_CASES).where(_CASES.c.id == bindparam("case")).values(incident_id=bindparam("incident"))
_JOINED = (update(_INCIDENTS).where(_INCIDENTS.c.id == bindparam("incident"))
           .values(last_joined_at=bindparam("now"), closed_at=None, version=_INCIDENTS.c.version + 1))


def _write_joins(session: Session, joins: Sequence[tuple[_Candidate, _Candidate]], *, rule_id: int,
                 now: datetime) -> list[Joined]:
    """The page's joins in a few statements: new incidents, each case's incident, the incidents' times, events."""
    if not joins:
        return []
    anchors = list(dict.fromkeys(-like.incident_id for _, like in joins  # type: ignore[operator]
                                 if like.incident_id is not None and like.incident_id < 0))
    ids = take_ids(session, _INCIDENTS, len(anchors))  # type: ignore[arg-type]
    made = dict(zip((-a for a in anchors), ids))  # placeholder → the new incident's id
    channels = {like.case_id: like.channel_id for _, like in joins}
    connection = session.connection()
    if made:
        connection.execute(insert(_INCIDENTS), [
            {"id": incident_id, "rule_id": rule_id, "channel_id": channels[-placeholder],
             "anchor_case_id": -placeholder, "opened_at": now, "last_joined_at": now, "closed_at": None,
             "version": 1} for placeholder, incident_id in made.items()])
    events = [event_row(-placeholder, EventKind.INCIDENT_JOINED, SYSTEM, now, incident_id=incident_id, anchor=True)
              for placeholder, incident_id in made.items()]
    memberships = [{"case": -placeholder, "incident": incident_id} for placeholder, incident_id in made.items()]
    joined = []
    for member, like in joins:
        incident_id: int = made.get(member.incident_id, member.incident_id)  # type: ignore[arg-type, assignment]
        memberships.append({"case": member.case_id, "incident": incident_id})
        joined.append(Joined(member.case_id, incident_id, like.case_id))
        events.append(event_row(member.case_id, EventKind.INCIDENT_JOINED, SYSTEM, now, incident_id=incident_id,
                                like=like.case_id))
    connection.execute(_SET_INCIDENT, memberships)
    grown = sorted({j.incident_id for j in joined} - set(made.values()))  # the new ones were written as they are
    if grown:
        connection.execute(_JOINED, [{"incident": i, "now": now} for i in grown])
    record_events(session, events)
    return joined


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
