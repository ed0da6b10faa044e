"""Storms at ingest: which of a page's new cases join an incident (store.incidents), decided
before the page is written, so each new case is inserted with its incident already set.

Each case the page opens is compared with the open cases of the same rule and channel
whose first post was written within the window before it (the page's own earlier cases
included): the candidates are read in one query per page and compared in Python
(triage.similarity), each new post with the few that share its telling words (_Pool:
cheap per post at ingest). A near duplicate joins the most similar candidate's incident,
made on the first join with that older case as its anchor: the anchor's card becomes the
incident card, and each member, still its own case (it is its own customer), is posted in
that card's thread (jobs.publish).

The decision is the one made had the page been written first and its cases read back with
the stored ones: the same candidates (the page's open cases are ranked with the stored ones,
newest first, under one limit), and stored cases the page's follow-ups reopen count as open.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, or_, text, update
from sqlmodel import Session, col, select

from socialdesk.domain import CaseStatus, EventKind
from socialdesk.store.bulk import insert_rows
from socialdesk.store.events import event_row
from socialdesk.store.ids import take_ids
from socialdesk.store.incidents import OPEN
from socialdesk.store.models import CaseEventRow, CaseRow, IncidentRow, PostRow
from socialdesk.triage.similarity import near_duplicates, text_key

SYSTEM = "system"
CANDIDATES = 200  # the newest open cases of the rule read per page (a firehose rule has many; storms are bursts)
MEMBERS_COMPARED = 3  # of each incident, its newest cases are compared (see _representatives)
SHORTLIST = 8  # candidates compared with each new post, those sharing the most telling words (see _Pool)
COMMON_FLOOR, COMMON_SHARE = 16, 0.1  # a word in more candidates than both tells nothing


@dataclass(frozen=True)
class Joined:
    """A case the page opened that joined an incident (`like`: the case it is most like)."""

    case_id: int
    incident_id: int
    like: int


@dataclass(frozen=True)
class Opening:
    """A case the page is about to open: its row's id, channel and status, and its first post."""

    case_id: int
    channel_id: str
    status: str
    text: str
    written_at: datetime
    key: str | None = None  # triage.similarity.text_key(text) when the caller has it (None: computed here)


@dataclass(slots=True)
class _Candidate:
    case_id: int
    incident_id: int | None
    channel_id: str
    text: str
    written_at: datetime
    key: str | None = None


class Storms:
    """What the page's joins write: `incident_of` goes into the new cases' rows; `before_cases`
    (the new incidents, which they point at) is written before them, `after_cases` after."""

    def __init__(self, now: datetime | None = None) -> None:
        self.incident_of: dict[int, int] = {}  # a new case → its incident
        self.joined: list[Joined] = []
        self._now = now
        self._incidents: list[dict[str, Any]] = []
        self._anchors: list[dict[str, int]] = []  # stored cases that anchor a new incident
        self._grown: list[int] = []  # stored incidents a new case joined
        self._events: list[dict[str, Any]] = []

    def before_cases(self, session: Session) -> None:
        if self._incidents:
            insert_rows(session.connection(), _INCIDENTS, self._incidents)  # type: ignore[arg-type]

    def after_cases(self, session: Session) -> None:
        connection = session.connection()
        if self._anchors:
            connection.execute(_SET_INCIDENT, self._anchors)
        if self._grown:
            connection.execute(_JOINED, [{"incident": i, "now": self._now} for i in self._grown])
        insert_rows(connection, _EVENTS, self._events)  # type: ignore[arg-type]


# Advisory lock keys: this namespace (an arbitrary constant) and the rule's id.
_RULE_LOCK = text("SELECT pg_advisory_xact_lock(1769, :rule)")
_CASES = CaseRow.__table__
_INCIDENTS = IncidentRow.__table__
_EVENTS = CaseEventRow.__table__
# Built once (a page's read is then a cache hit): the rule's open cases written since then, newest
# first; opened_at (when stored) is never before the post was written: the index narrows, created_at decides.
_COLUMNS = (CaseRow.id, CaseRow.incident_id, CaseRow.channel_id, PostRow.text, PostRow.created_at, CaseRow.opened_at)


def _candidates_query(reopening: bool):  # type: ignore[no-untyped-def]
    status = col(CaseRow.status).in_(OPEN)
    if reopening:  # the page's follow-ups reopen these if resolved (store.conversations.attach)
        status = or_(status, and_(col(CaseRow.id).in_(bindparam("reopening", expanding=True)),
                                  CaseRow.status == CaseStatus.RESOLVED.value))
    return (select(*_COLUMNS)
            .join(PostRow, col(PostRow.id) == col(CaseRow.first_post_id))
            .where(CaseRow.rule_id == bindparam("rule"), CaseRow.opened_at >= bindparam("since"),
                   PostRow.created_at >= bindparam("since"), status)
            .order_by(col(CaseRow.opened_at).desc(), col(CaseRow.id).desc())
            .limit(bindparam("limit")))


_CANDIDATES = {reopening: _candidates_query(reopening) for reopening in (False, True)}
# Executed for all the page's rows (one executemany each, whatever the page holds).
_SET_INCIDENT = update(_CASES).where(_CASES.c.id == bindparam("case")).values(incident_id=bindparam("incident"))
_JOINED = (update(_INCIDENTS).where(_INCIDENTS.c.id == bindparam("incident"))
           .values(last_joined_at=bindparam("now"), closed_at=None, version=_INCIDENTS.c.version + 1))


def plan_storms(*, session: Session, rule_id: int | None, opening: Sequence[Opening], since: datetime,
                window: timedelta | None, now: datetime, reopening: Sequence[int] = ()) -> Storms:
    """Which of the cases the page is about to open (`opening`, opened at `now`) join incidents.

    `since`: the page's oldest post's time less the window; `reopening`: stored cases the page's
    follow-ups join (a resolved one is reopened, so it is a candidate). `window` None or zero:
    incidents are off. A case opening as ignored (noise) joins nothing.
    """
    if rule_id is None or not opening or not window:
        return Storms()
    if session.get_bind().dialect.name == "postgresql":
        # Two pages of one rule stored at once (a poll and the stream) would both see a candidate
        # in no incident and each make one for it: one at a time per rule, until commit. (SQLite's
        # writers are one at a time already: BEGIN IMMEDIATE.)
        session.connection().execute(_RULE_LOCK, {"rule": rule_id})
    limit = CANDIDATES + len(opening)
    params: dict[str, Any] = {"rule": rule_id, "since": since, "limit": limit}
    if reopening:
        params["reopening"] = sorted(set(reopening))
    rows = [(opened_at, cid, _Candidate(cid, incident, channel, text, written))
            for cid, incident, channel, text, written, opened_at
            in session.connection().execute(_CANDIDATES[bool(reopening)], params)]
    # The page's open cases, as the same query would rank them once written.
    rows += [(now, o.case_id, _Candidate(o.case_id, None, o.channel_id, o.text, o.written_at, o.key))
             for o in opening if o.status in OPEN and now >= since and o.written_at >= since]
    rows.sort(key=lambda row: (row[0], row[1]), reverse=True)
    known = {candidate.case_id: candidate for _, _, candidate in rows[:limit]}
    new = {o.case_id for o in opening}
    fresh = sorted((known[c] for c in new if c in known), key=lambda c: (c.written_at, c.case_id))
    pool = _Pool(_representatives([c for c in known.values() if c.case_id not in new]))
    joins: list[tuple[_Candidate, _Candidate]] = []  # (member, the case it is most like)
    for case in fresh:
        key = case.key if case.key is not None else text_key(case.text)
        if not key:
            continue
        words = _words(key)
        eligible = _eligible(known, case, window)
        # The same text (a copied post) is as similar as can be: nothing to compare.
        similar = eligible(pool.same_text(key)) or eligible(near_duplicates(case.text, pool.shortlist(key, words)))
        like = _best(similar, known)
        if like is not None:
            joins.append((case, like))
            if like.incident_id is None:
                like.incident_id = -like.case_id  # placeholder: the incident is made below, anchored on `like`
            case.incident_id = like.incident_id
        pool.add(case.case_id, case.text, key, words)  # the page's later posts may be like it
    return _storms(session, joins, new, rule_id=rule_id, now=now)


def _eligible(known: Mapping[int, _Candidate], case: _Candidate,
              window: timedelta) -> Callable[[Sequence[int]], list[int]]:
    def eligible(ids: Sequence[int]) -> list[int]:
        return [c for c in ids if known[c].channel_id == case.channel_id
                and known[c].written_at >= case.written_at - window]
    return eligible


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
        for case_id, body in texts.items():
            key = text_key(body)
            self.add(case_id, body, key, _words(key))

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


def _storms(session: Session, joins: Sequence[tuple[_Candidate, _Candidate]], new: set[int], *, rule_id: int,
            now: datetime) -> Storms:
    """The page's joins as rows: new incidents, each case's incident, the incidents' times, events."""
    if not joins:
        return Storms()
    anchors = list(dict.fromkeys(-like.incident_id for _, like in joins  # type: ignore[operator]
                                 if like.incident_id is not None and like.incident_id < 0))
    ids = take_ids(session, _INCIDENTS, len(anchors))  # type: ignore[arg-type]
    made = dict(zip((-a for a in anchors), ids))  # placeholder → the new incident's id
    channels = {like.case_id: like.channel_id for _, like in joins}
    storms = Storms(now)
    storms._incidents = [
        {"id": incident_id, "rule_id": rule_id, "channel_id": channels[-placeholder],
         "anchor_case_id": -placeholder, "opened_at": now, "last_joined_at": now, "closed_at": None, "version": 1}
        for placeholder, incident_id in made.items()]
    storms._events = [event_row(-placeholder, EventKind.INCIDENT_JOINED, SYSTEM, now, incident_id=incident_id,
                                anchor=True) for placeholder, incident_id in made.items()]
    memberships = [(-placeholder, incident_id) for placeholder, incident_id in made.items()]
    for member, like in joins:
        incident_id: int = made.get(member.incident_id, member.incident_id)  # type: ignore[arg-type, assignment]
        memberships.append((member.case_id, incident_id))
        storms.joined.append(Joined(member.case_id, incident_id, like.case_id))
        storms._events.append(event_row(member.case_id, EventKind.INCIDENT_JOINED, SYSTEM, now,
                                        incident_id=incident_id, like=like.case_id))
    for case_id, incident_id in memberships:
        if case_id in new:
            storms.incident_of[case_id] = incident_id  # written with the case
        else:
            storms._anchors.append({"case": case_id, "incident": incident_id})
    # The new incidents are written as they are.
    storms._grown = sorted({j.incident_id for j in storms.joined} - set(made.values()))
    return storms
