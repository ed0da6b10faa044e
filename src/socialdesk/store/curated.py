"""Curated entries ("Save as FAQ"): the question and the answer that worked, from a resolved case.

A case has at most one *active* entry: saving it again updates that entry. A
withdrawn entry stays in the table (history, exports) and the case can be saved
again as a new entry. Every change writes a `curated` case event in the same
transaction, with payload {"entry_id": …, "action": "saved" | "edited" | "withdrawn"}.

Errors, all `CurationError` (a message a person can act on):
- `NotResolved`: only resolved cases can be curated;
- `EntryNotFound`: no entry with that id;
- `EntryWithdrawn`: the entry was withdrawn, it can no longer be edited or withdrawn;
- `EntryInvalid`: the question or the answer is empty.
`cases.CaseNotFound` comes through unchanged for an unknown case.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from socialdesk.domain import CaseStatus, EventKind
from socialdesk.networks import registry
from socialdesk.store.cases import get_case
from socialdesk.store.events import record_event
from socialdesk.store.models import CaseEventRow, CaseRow, CuratedEntryRow, PostRow, ReplyRow

ACTIVE = "active"
WITHDRAWN = "withdrawn"
STATUSES = (ACTIVE, WITHDRAWN)
ANSWERED = ("sent", "marked")  # replies that reached the customer
# "@acmephones @dana_k my phone…": replies start with whom they answer; a FAQ does not need that.
_LEADING_MENTIONS = re.compile(r"^(?:@\w{1,50}\s+)+")


class CurationError(Exception):
    """Base of what curating refuses; the message says what happened and what to do."""


class NotResolved(CurationError):
    def __init__(self, case_id: int, status: str) -> None:
        super().__init__(f"case #{case_id} is {status}, not resolved: only resolved cases can be saved as FAQ "
                         "entries; resolve it first")
        self.case_id, self.status = case_id, status


class EntryNotFound(CurationError):
    def __init__(self, entry_id: int) -> None:
        super().__init__(f"there is no FAQ entry #{entry_id}; `socialdesk faq list --all` shows them all")
        self.entry_id = entry_id


class EntryWithdrawn(CurationError):
    def __init__(self, entry: CuratedEntryRow) -> None:
        super().__init__(f"FAQ entry #{entry.id} was withdrawn by {entry.updated_by}; save the case as FAQ "
                         "again to make a new entry")
        self.entry = entry


class EntryInvalid(CurationError):
    """`field` names what is missing: "question" or "answer"."""

    def __init__(self, field: str) -> None:
        super().__init__(f"the {field} is empty: a FAQ entry needs a question and an answer")
        self.field = field


@dataclass(frozen=True)
class Draft:
    """What "Save as FAQ" starts from: the case as it happened, for an agent to edit."""

    case_id: int
    question: str  # the customer's posts, oldest first
    answer: str  # our replies that went out, oldest first
    notes: str  # the case's internal notes, oldest first
    tags: tuple[str, ...]


def without_leading_mentions(text: str) -> str:
    stripped = _LEADING_MENTIONS.sub("", text.strip(), count=1)
    return stripped or text.strip()  # a post of mentions only keeps them: something to edit


def draft_for_case(*, session: Session, case_id: int) -> Draft:
    case = get_case(session=session, case_id=case_id)
    posts = select(PostRow).where(PostRow.case_id == case_id, PostRow.removed_at.is_(None))  # type: ignore[union-attr]
    if case.customer_author_id is not None:
        posts = posts.where(PostRow.author_id == case.customer_author_id)
    question = [without_leading_mentions(p.text) for p in session.exec(posts.order_by(PostRow.created_at, PostRow.id))]
    replies = session.exec(
        select(ReplyRow)
        .where(ReplyRow.case_id == case_id, col(ReplyRow.status).in_(ANSWERED))
        .order_by(func.coalesce(ReplyRow.sent_at, ReplyRow.created_at), ReplyRow.id)
    )
    # A reply marked as sent from the network's own composer has no text here, only its link.
    where = registry.label(case.network)
    answer = [without_leading_mentions(r.text) if r.text.strip() else f"(replied on {where}: {r.url})" for r in replies]
    notes = session.exec(
        select(CaseEventRow).where(CaseEventRow.case_id == case_id, CaseEventRow.kind == EventKind.NOTE.value)
        .order_by(CaseEventRow.id)
    )
    note_texts = [str((n.payload or {}).get("text") or "").strip() for n in notes]
    return Draft(
        case_id=case_id,
        question="\n\n".join(q for q in question if q),
        answer="\n\n".join(a for a in answer if a),
        notes="\n\n".join(n for n in note_texts if n),
        tags=tuple(case.tags or ()),
    )


def get_entry(*, session: Session, entry_id: int) -> CuratedEntryRow:
    entry = session.get(CuratedEntryRow, entry_id, populate_existing=True)
    if entry is None:
        raise EntryNotFound(entry_id)
    return entry


def active_entry(*, session: Session, case_id: int) -> CuratedEntryRow | None:
    return session.exec(
        select(CuratedEntryRow)
        .where(CuratedEntryRow.case_id == case_id, CuratedEntryRow.status == ACTIVE)
        .order_by(col(CuratedEntryRow.id).desc())
    ).first()


def list_entries(*, session: Session, status: str | None = None) -> list[CuratedEntryRow]:
    """Oldest first; `status` None lists every entry."""
    query = select(CuratedEntryRow)
    if status is not None:
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r}; use one of {', '.join(STATUSES)}")
        query = query.where(CuratedEntryRow.status == status)
    return list(session.exec(query.order_by(CuratedEntryRow.id)))


def _clean(question: str, answer: str, notes: str, tags: Sequence[str]) -> tuple[str, str, str, list[str]]:
    question, answer = question.strip(), answer.strip()
    if not question:
        raise EntryInvalid("question")
    if not answer:
        raise EntryInvalid("answer")
    return question, answer, notes.strip(), list(dict.fromkeys(t.strip() for t in tags if t.strip()))


def save_entry(*, session: Session, case_id: int, question: str, answer: str, notes: str, tags: Sequence[str],
               actor: str, now: datetime) -> CuratedEntryRow:
    """Curate a resolved case: a new active entry, or the case's active entry updated."""
    question, answer, notes, clean_tags = _clean(question, answer, notes, tags)
    # Lock the case row: two agents saving at once make one entry, the second save edits it.
    # (SQLite: BEGIN IMMEDIATE already serializes writers.)
    case = session.exec(select(CaseRow).where(CaseRow.id == case_id).with_for_update()
                        .execution_options(populate_existing=True)).first()
    if case is None:
        get_case(session=session, case_id=case_id)  # raises CaseNotFound
    assert case is not None
    if case.status != CaseStatus.RESOLVED.value:
        raise NotResolved(case_id, case.status)
    entry = active_entry(session=session, case_id=case_id)
    if entry is not None:
        return _update(session, entry, question, answer, notes, clean_tags, actor, now)
    entry = CuratedEntryRow(case_id=case_id, question=question, answer=answer, notes=notes, tags=clean_tags,
                            status=ACTIVE, created_by=actor, created_at=now, updated_by=actor, updated_at=now)
    session.add(entry)
    session.flush()
    record_event(session, case_id, EventKind.CURATED, actor, now, entry_id=entry.id, action="saved")
    return entry


def update_entry(*, session: Session, entry_id: int, question: str, answer: str, notes: str, tags: Sequence[str],
                 actor: str, now: datetime) -> CuratedEntryRow:
    """Edit an active entry, whatever its case became since (a reopened case keeps its FAQ)."""
    question, answer, notes, clean_tags = _clean(question, answer, notes, tags)
    entry = session.exec(select(CuratedEntryRow).where(CuratedEntryRow.id == entry_id).with_for_update()
                         .execution_options(populate_existing=True)).first()
    if entry is None:
        raise EntryNotFound(entry_id)
    if entry.status != ACTIVE:
        raise EntryWithdrawn(entry)
    return _update(session, entry, question, answer, notes, clean_tags, actor, now)


def _update(session: Session, entry: CuratedEntryRow, question: str, answer: str, notes: str, tags: list[str],
            actor: str, now: datetime) -> CuratedEntryRow:
    entry.question, entry.answer, entry.notes, entry.tags = question, answer, notes, tags
    entry.updated_by, entry.updated_at = actor, now
    session.add(entry)
    session.flush()
    record_event(session, entry.case_id, EventKind.CURATED, actor, now, entry_id=entry.id, action="edited")
    return entry


def withdraw_entry(*, session: Session, entry_id: int, actor: str, now: datetime) -> CuratedEntryRow:
    """Conditional: of two withdrawals at once, one wins; the other gets `EntryWithdrawn`."""
    won = session.execute(
        update(CuratedEntryRow)
        .where(CuratedEntryRow.id == entry_id, CuratedEntryRow.status == ACTIVE)
        .values(status=WITHDRAWN, updated_by=actor, updated_at=now)
    ).rowcount == 1
    entry = get_entry(session=session, entry_id=entry_id)
    if not won:
        raise EntryWithdrawn(entry)
    record_event(session, entry.case_id, EventKind.CURATED, actor, now, entry_id=entry.id, action="withdrawn")
    return entry
