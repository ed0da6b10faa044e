"""What an export reads: cases (or curated entries) in id batches, and each batch's posts,
answers, notes and rule queries, one query each.

Only columns are selected (rows, not ORM objects), so nothing accumulates in the
session over a million cases. The rows keep the selected columns' names; each
function's docstring lists them. The records built from them live in
`socialdesk.export`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Row, func
from sqlmodel import Session, select

from socialdesk.domain import EventKind
from socialdesk.store.models import AuthorRow, CaseEventRow, CaseRow, CuratedEntryRow, PostRow, ReplyRow, RuleRow
from socialdesk.store.replies import ANSWERED


class CaseWindow(Protocol):
    """Which cases: opened in [since, until), with one of `statuses` (any if empty), from one rule."""

    @property
    def since(self) -> datetime | None: ...

    @property
    def until(self) -> datetime | None: ...

    @property
    def statuses(self) -> frozenset[str]: ...

    @property
    def rule_id(self) -> int | None: ...


def _conditions(window: CaseWindow) -> list[Any]:
    conditions: list[Any] = []
    if window.since is not None:
        conditions.append(CaseRow.opened_at >= window.since)
    if window.until is not None:
        conditions.append(CaseRow.opened_at < window.until)
    if window.statuses:
        conditions.append(CaseRow.status.in_(sorted(window.statuses)))
    if window.rule_id is not None:
        conditions.append(CaseRow.rule_id == window.rule_id)
    return conditions


def count_cases(*, session: Session, window: CaseWindow) -> int:
    return int(session.exec(select(func.count()).select_from(CaseRow).where(*_conditions(window))).one())


def count_curated(*, session: Session, window: CaseWindow) -> int:
    """Active curated entries whose case is in the window."""
    return int(session.exec(
        select(func.count()).select_from(CuratedEntryRow).join(CaseRow, CaseRow.id == CuratedEntryRow.case_id)
        .where(CuratedEntryRow.status == "active", *_conditions(window))).one())


_CASE_COLUMNS = (CaseRow.id, CaseRow.status, CaseRow.network, CaseRow.conversation_id, CaseRow.rule_id,
                 CaseRow.customer_author_id, CaseRow.first_post_id, CaseRow.tags, CaseRow.assignee,
                 CaseRow.opened_at, CaseRow.first_response_at, CaseRow.resolved_at, CaseRow.outcome,
                 CaseRow.duplicate_of)


def case_batch(*, session: Session, window: CaseWindow, after_id: int, size: int) -> list[Row[Any]]:
    """Up to `size` cases in the window with ids above `after_id`, in id order.

    Columns: id, status, network, conversation_id, rule_id, customer_author_id,
    first_post_id, tags, assignee, opened_at, first_response_at, resolved_at, outcome, duplicate_of.
    """
    return list(session.exec(select(*_CASE_COLUMNS).where(CaseRow.id > after_id, *_conditions(window))
                             .order_by(CaseRow.id).limit(size)))


def cases_by_id(*, session: Session, case_ids: Sequence[int]) -> list[Row[Any]]:
    """These cases in id order, with `case_batch`'s columns."""
    return list(session.exec(select(*_CASE_COLUMNS).where(CaseRow.id.in_(case_ids)).order_by(CaseRow.id)))


def curated_batch(*, session: Session, window: CaseWindow, after_id: int, size: int) -> list[Row[Any]]:
    """Up to `size` active curated entries (of cases in the window) with ids above `after_id`.

    Columns: id, case_id, question, answer, notes, tags.
    """
    return list(session.exec(
        select(CuratedEntryRow.id, CuratedEntryRow.case_id, CuratedEntryRow.question, CuratedEntryRow.answer,
               CuratedEntryRow.notes, CuratedEntryRow.tags)
        .join(CaseRow, CaseRow.id == CuratedEntryRow.case_id)
        .where(CuratedEntryRow.status == "active", CuratedEntryRow.id > after_id, *_conditions(window))
        .order_by(CuratedEntryRow.id).limit(size)))


def posts_by_case(*, session: Session, case_ids: Sequence[int]) -> dict[int, list[Row[Any]]]:
    """Each case's posts, oldest first, with their authors.

    Columns: case_id, author_id, id, text, url, removed_at, handle, name.
    """
    posts: dict[int, list[Row[Any]]] = defaultdict(list)
    for row in session.exec(
            select(PostRow.case_id, PostRow.author_id, PostRow.id, PostRow.text, PostRow.url, PostRow.removed_at,
                   AuthorRow.handle, AuthorRow.name)
            .join(AuthorRow, AuthorRow.id == PostRow.author_id)
            .where(PostRow.case_id.in_(case_ids))
            .order_by(PostRow.case_id, PostRow.created_at, PostRow.id)):
        posts[row.case_id].append(row)
    return posts


def answers_by_case(*, session: Session, case_ids: Sequence[int]) -> dict[int, list[Row[Any]]]:
    """Each case's replies that went out (sent, or sent by hand and marked), in the order they went.

    Columns: case_id, agent, text, url.
    """
    answers: dict[int, list[Row[Any]]] = defaultdict(list)
    for row in session.exec(
            select(ReplyRow.case_id, ReplyRow.agent, ReplyRow.text, ReplyRow.url)
            .where(ReplyRow.case_id.in_(case_ids), ReplyRow.status.in_(ANSWERED))
            .order_by(ReplyRow.case_id, ReplyRow.sent_at, ReplyRow.id)):
        answers[row.case_id].append(row)
    return answers


def notes_by_case(*, session: Session, case_ids: Sequence[int]) -> dict[int, list[str]]:
    """Each case's internal notes (their text; blank ones left out), in the order they were added."""
    notes: dict[int, list[str]] = defaultdict(list)
    for case_id, payload in session.exec(
            select(CaseEventRow.case_id, CaseEventRow.payload)
            .where(CaseEventRow.case_id.in_(case_ids), CaseEventRow.kind == EventKind.NOTE.value)
            .order_by(CaseEventRow.case_id, CaseEventRow.id)):
        text = (payload or {}).get("text")
        if isinstance(text, str) and text.strip():
            notes[case_id].append(text)
    return notes


def rule_queries(*, session: Session, rule_ids: Sequence[int]) -> dict[int, str]:
    """Each rule's query, by id."""
    if not rule_ids:
        return {}
    return {r.id: r.query for r in session.exec(select(RuleRow.id, RuleRow.query).where(RuleRow.id.in_(rule_ids)))}
