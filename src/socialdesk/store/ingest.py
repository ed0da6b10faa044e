"""Storing fetched posts: dedupe on (network, id), upsert authors, open cases or follow them up.

A page is written with a few batched statements whatever its size (SQLAlchemy Core, no ORM
objects): the known posts in one query, the authors upserted in one statement and their
ids read in one, then the new cases, the posts and the cases' `opened` events each in one
executemany. Post and case ids are taken first (store.ids), so each row is inserted once,
complete: a post with its case, a case with its first post; nothing is read back per row,
and the full-text index (migration 0004's trigger) indexes each post once.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col

from socialdesk.domain import Author, EventKind, Post
from socialdesk.store import conversations, incidents
from socialdesk.store.conversations import CaseRef, Opened
from socialdesk.store.events import event_row, record_events
from socialdesk.store.ids import take_ids
from socialdesk.store.models import AuthorRow, CaseRow, PostRow

SYSTEM = "system"
Scores = Mapping[str, tuple[float | None, str]]  # (sentiment, priority) by post id
Scorer = Callable[[Sequence[Post]], Scores]  # scores the posts about to be stored

_AUTHOR_FIELDS = ("handle", "name", "followers", "verified", "avatar_url", "updated_at")


def known_post_ids(*, session: Session, network: str, external_ids: Sequence[str]) -> set[str]:
    if not external_ids:
        return set()
    return set(session.connection().execute(
        select(PostRow.external_id).where(PostRow.network == network, col(PostRow.external_id).in_(external_ids))
    ).scalars())


@dataclass(frozen=True)
class Stored:
    """What storing a page did: cases opened, and posts that joined existing cases."""

    new_case_ids: list[int] = field(default_factory=list)
    follow_up_post_ids: list[int] = field(default_factory=list)


def store_posts(
    *, session: Session, posts: Sequence[Post], rule_id: int | None, channel_id: str, now: datetime
) -> list[int]:
    """Store posts not seen before and open one case for each; returns the new case ids."""
    return store_page(session=session, posts=posts, rule_id=rule_id, channel_id=channel_id, now=now).new_case_ids


def store_page(
    *,
    session: Session,
    posts: Sequence[Post],
    rule_id: int | None,
    channel_id: str,
    now: datetime,
    own_handles: Collection[str] = frozenset(),
    follow_ups_only: bool = False,
    scores: Scores | Scorer | None = None,
    incident_window: timedelta | None = None,
) -> Stored:
    """Store posts not seen before: each opens a case, or joins one as a follow-up.

    Posts already stored (another rule matched them, or a page was fetched twice)
    are left alone, so a post never opens two cases nor counts twice as a follow-up.
    Posts by our own accounts (`own_handles`, lower-case) are never stored here: they
    open no case and are no follow-up. See store.conversations for what joins a case.
    `follow_ups_only` (posts found by watching conversations, not by the rule's query):
    posts that are not follow-ups are dropped instead of opening cases.
    `scores`: (sentiment, priority) by post id, from triage, or a function giving them for
    the posts it is passed (only those actually stored: scoring costs more than storing);
    stored on posts and new cases.
    `incident_window`: new cases near-duplicate to an open case of the rule written within
    this long join its incident (store.incidents); None or zero: no incidents.
    """
    posts = [p for p in posts if p.author.handle.lower() not in own_handles]
    if not posts:
        return Stored()
    network = posts[0].network
    seen = known_post_ids(session=session, network=network, external_ids=[p.external_id for p in posts])
    fresh: dict[str, Post] = {}
    for post in posts:
        if post.external_id not in seen:
            fresh.setdefault(post.external_id, post)
    if not fresh:
        return Stored()
    # Oldest first, so cards appear in the order the customers wrote (and a first post
    # opens its case before its follow-ups in the same page look for it).
    ordered = sorted(fresh.values(), key=lambda p: (p.created_at, int_or_zero(p.external_id)))
    authors = [p.author for p in ordered]
    # Posts that only join cases need the authors as they are; a page that opens cases has
    # its authors stored first, so a later post of a customer new in this page joins their case.
    author_ids = (_author_ids(session, network, {a.external_id for a in authors}) if follow_ups_only
                  else _upsert_authors(session, network, authors, now))
    page = conversations.PageCases(session=session, network=network, posts=ordered, own_handles=own_handles)
    plan: list[tuple[Post, CaseRef, bool]] = []  # each post, its case, and whether it opens it
    for post in ordered:
        author_id = author_ids.get(post.author.external_id)
        case = page.case_for(post, author_id)
        if case is not None:
            page.join(post, case)
        elif follow_ups_only:
            continue
        plan.append((post, case or page.open(post, author_id), case is None))
    if not plan:
        return Stored()
    if follow_ups_only:
        author_ids = _upsert_authors(session, network, [p.author for p, _, _ in plan], now)
    scored = (scores([p for p, _, _ in plan]) if callable(scores) else scores) or {}
    stored = _write(session, plan, author_ids, scored, network=network, rule_id=rule_id, channel_id=channel_id,
                    now=now)
    incidents.join_storms(session=session, rule_id=rule_id, case_ids=stored.new_case_ids, posts=ordered,
                          window=incident_window, now=now)
    return stored


def _write(session: Session, plan: Sequence[tuple[Post, CaseRef, bool]], author_ids: Mapping[str, int], scores: Scores,
           *, network: str, rule_id: int | None, channel_id: str, now: datetime) -> Stored:
    """Insert the page as planned: cases, then posts with their case, then the events."""
    session.flush()  # anything the caller added through the ORM goes first (core statements skip autoflush)
    post_ids = take_ids(session, PostRow.__table__, len(plan))  # type: ignore[arg-type]
    opening = [(post, post_id) for (post, _, opens), post_id in zip(plan, post_ids) if opens]
    case_ids = take_ids(session, CaseRow.__table__, len(opening))  # type: ignore[arg-type]
    case_rows, events = [], []
    for (post, post_id), case_id in zip(opening, case_ids):
        sentiment, priority = scores.get(post.external_id, (None, "normal"))
        case_rows.append({
            "id": case_id, "rule_id": rule_id, "first_post_id": post_id, "network": network,
            "conversation_id": post.conversation_id, "status": "new", "priority": priority or "normal",
            "channel_id": channel_id, "publish_failures": 0, "opened_at": now, "updated_at": now, "version": 1,
            "customer_author_id": author_ids[post.author.external_id], "sentiment": sentiment, "tags": None,
        })
        events.append(event_row(case_id, EventKind.OPENED, SYSTEM, now, post=post.external_id, rule_id=rule_id))
    post_rows, follow_ups = [], []
    for (post, case, opens), post_id in zip(plan, post_ids):
        case_id = case_ids[case.index] if isinstance(case, Opened) else case
        post_rows.append(_post_row(post, post_id, case_id, network, author_ids, rule_id, now, scores))
        if not opens:
            follow_ups.append((post_id, case_id, post.external_id))
    connection = session.connection()
    if case_rows:
        connection.execute(insert(CaseRow.__table__), case_rows)  # type: ignore[arg-type]
    connection.execute(insert(PostRow.__table__), post_rows)  # type: ignore[arg-type]
    record_events(session, events)
    conversations.attach(session=session, follow_ups=[(case_id, ext) for _, case_id, ext in follow_ups], now=now)
    return Stored(new_case_ids=case_ids, follow_up_post_ids=[post_id for post_id, _, _ in follow_ups])


def _post_row(post: Post, post_id: int, case_id: int, network: str, author_ids: Mapping[str, int],
              rule_id: int | None, now: datetime, scores: Scores) -> dict[str, Any]:
    return {
        "id": post_id,
        "network": network,
        "external_id": post.external_id,
        "url": post.url,
        "author_id": author_ids[post.author.external_id],
        "text": post.text,
        "lang": post.lang,
        "created_at": post.created_at,
        "fetched_at": now,
        "conversation_id": post.conversation_id,
        "in_reply_to_id": post.in_reply_to_id,
        "is_repost": post.is_repost,
        "is_reply": post.is_reply,
        "metrics": post.metrics,
        "raw": post.raw,
        "rule_id": rule_id,
        "case_id": case_id,
        "sentiment": scores.get(post.external_id, (None, ""))[0],
    }


def _upsert_authors(session: Session, network: str, authors: Sequence[Author], now: datetime) -> dict[str, int]:
    """Insert new authors and refresh known ones (handle, name, followers … as the page has them);
    returns every author's id by external id."""
    by_id = {a.external_id: a for a in authors}  # the last seen wins, as when they were updated one by one
    rows = [{"network": network, "external_id": a.external_id, "handle": a.handle, "name": a.name,
             "followers": a.followers, "verified": a.verified, "avatar_url": a.avatar_url, "updated_at": now}
            for _, a in sorted(by_id.items())]  # one order for every writer: PostgreSQL locks rows as it goes
    make = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    statement = make(AuthorRow.__table__)  # type: ignore[arg-type]
    # One statement, executed for all rows (a VALUES list per page would be compiled anew each time).
    session.connection().execute(statement.on_conflict_do_update(
        index_elements=["network", "external_id"],
        set_={name: statement.excluded[name] for name in _AUTHOR_FIELDS}), rows)
    return _author_ids(session, network, set(by_id))


def _author_ids(session: Session, network: str, external_ids: Collection[str]) -> dict[str, int]:
    if not external_ids:
        return {}
    rows = session.connection().execute(
        select(AuthorRow.external_id, AuthorRow.id)
        .where(AuthorRow.network == network, col(AuthorRow.external_id).in_(list(external_ids)))
    )
    return {external_id: row_id for external_id, row_id in rows}


def int_or_zero(value: str) -> int:
    return int(value) if value.isdigit() else 0
