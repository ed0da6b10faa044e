"""Read-only lookups behind `/social`: my cases, the queue, one customer's cases.

Team figures (`/social stats`) come from store.figures, the same counting as the digests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, select

from socialdesk.domain import CaseStatus
from socialdesk.store.models import AuthorRow, CaseRow, PostRow

S = CaseStatus
WAITING = (S.NEW.value, S.REOPENED.value)
HELD = (S.CLAIMED.value, S.REPLIED.value)
MAX_LIMIT = 50


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
    items = [
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
        )
        for case, post, author in rows
    ]
    return CasePage(items=items, total=int(total), offset=offset, limit=limit)


def my_cases(*, session: Session, user_id: str, limit: int, offset: int) -> CasePage:
    """Open cases `user_id` holds (claimed or replied), newest activity first."""
    return _case_page(
        session,
        [CaseRow.assignee == user_id, CaseRow.status.in_(HELD)],
        [CaseRow.updated_at.desc(), CaseRow.id.desc()],
        limit,
        offset,
    )


def queue(*, session: Session, limit: int, offset: int) -> CasePage:
    """Cases nobody has claimed (new or reopened), oldest first."""
    return _case_page(session, [CaseRow.status.in_(WAITING)], [CaseRow.opened_at, CaseRow.id], limit, offset)


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
