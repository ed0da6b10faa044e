"""Storing fetched posts: dedupe on (network, id), upsert authors, open cases or follow them up."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session, col, select

from socialdesk.domain import Author, EventKind, Post
from socialdesk.store import conversations
from socialdesk.store.events import record_event
from socialdesk.store.models import AuthorRow, CaseRow, PostRow

SYSTEM = "system"


def _upsert_authors(session: Session, authors: Sequence[Author], now: datetime) -> dict[tuple[str, str], int]:
    by_key = {(a.network, a.external_id): a for a in authors}
    ids: dict[tuple[str, str], int] = {}
    for network in {k[0] for k in by_key}:
        wanted = [k[1] for k in by_key if k[0] == network]
        rows = session.exec(
            select(AuthorRow).where(AuthorRow.network == network, col(AuthorRow.external_id).in_(wanted))
        )
        for row in rows:
            fresh = by_key[(network, row.external_id)]
            row.handle, row.name, row.followers = fresh.handle, fresh.name, fresh.followers
            row.verified, row.avatar_url, row.updated_at = fresh.verified, fresh.avatar_url, now
            session.add(row)
            ids[(network, row.external_id)] = row.id  # type: ignore[assignment]
    for key, author in by_key.items():
        if key in ids:
            continue
        row = AuthorRow(
            network=author.network,
            external_id=author.external_id,
            handle=author.handle,
            name=author.name,
            followers=author.followers,
            verified=author.verified,
            avatar_url=author.avatar_url,
            updated_at=now,
        )
        session.add(row)
        session.flush()
        ids[key] = row.id  # type: ignore[assignment]
    return ids


def _known_author_ids(session: Session, network: str, external_ids: Sequence[str]) -> dict[str, int]:
    rows = session.exec(
        select(AuthorRow.external_id, AuthorRow.id)
        .where(AuthorRow.network == network, col(AuthorRow.external_id).in_(list(set(external_ids))))
    )
    return {external_id: row_id for external_id, row_id in rows}  # type: ignore[misc]


def known_post_ids(*, session: Session, network: str, external_ids: Sequence[str]) -> set[str]:
    if not external_ids:
        return set()
    rows = session.exec(
        select(PostRow.external_id).where(PostRow.network == network, col(PostRow.external_id).in_(external_ids))
    )
    return set(rows)


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
    scores: Mapping[str, tuple[float | None, str]] | None = None,
) -> Stored:
    """Store posts not seen before: each opens a case, or joins one as a follow-up.

    Posts already stored (another rule matched them, or a page was fetched twice)
    are left alone, so a post never opens two cases nor counts twice as a follow-up.
    Posts by our own accounts (`own_handles`, lower-case) are never stored here: they
    open no case and are no follow-up. See store.conversations for what joins a case.
    `follow_ups_only` (posts found by watching conversations, not by the rule's query):
    posts that are not follow-ups are dropped instead of opening cases.
    `scores`: (sentiment, priority) by post id, from triage; stored on posts and new cases.
    """
    scores = scores or {}
    stored = Stored()
    posts = [p for p in posts if p.author.handle.lower() not in own_handles]
    if not posts:
        return stored
    network = posts[0].network
    seen = known_post_ids(session=session, network=network, external_ids=[p.external_id for p in posts])
    fresh: dict[str, Post] = {}
    for post in posts:
        if post.external_id not in seen:
            fresh.setdefault(post.external_id, post)
    if follow_ups_only:
        known = _known_author_ids(session, network, [p.author.external_id for p in fresh.values()])
        fresh = {k: p for k, p in fresh.items() if conversations.case_for(
            session=session, post=p, author_id=known.get(p.author.external_id), own_handles=own_handles) is not None}
    if not fresh:
        return stored
    author_ids = _upsert_authors(session, [p.author for p in fresh.values()], now)
    # Only a conversation that already has posts can hold a case to join: one query for the
    # page instead of a case lookup per post (most posts start a conversation of their own).
    active = _conversations_with_posts(session, network, {p.conversation_id for p in fresh.values() if p.conversation_id})
    # Oldest first, so cards appear in the order the customers wrote (and a first post
    # opens its case before its follow-ups in the same page look for it).
    ordered = sorted(fresh.values(), key=lambda p: (p.created_at, int_or_zero(p.external_id)))
    rows = [(post, _post_row(post, network, author_ids, rule_id, now, scores)) for post in ordered]
    session.add_all([row for _, row in rows])
    session.flush()  # one batched INSERT for the page: flushing per post was most of the cost
    pending: list[tuple[Post, PostRow, CaseRow]] = []

    def settle() -> None:
        """Give the cases opened so far their ids, links and events (batched, like the posts)."""
        if not pending:
            return
        session.flush()
        for post, row, case in pending:
            row.case_id = case.id
            record_event(session, case.id, EventKind.OPENED, SYSTEM, now,  # type: ignore[arg-type]
                         post=post.external_id, rule_id=rule_id)
            stored.new_case_ids.append(case.id)  # type: ignore[arg-type]
        session.flush()
        pending.clear()

    for post, row in rows:
        existing = None
        if post.conversation_id in active:
            settle()  # a case opened earlier in this page may be the one this post continues
            existing = conversations.case_for(session=session, post=post, author_id=row.author_id,
                                              own_handles=own_handles)
        if post.conversation_id:
            active.add(post.conversation_id)
        if existing is not None:
            conversations.attach(session=session, case_id=existing, post_row=row, now=now)
            stored.follow_up_post_ids.append(row.id)  # type: ignore[arg-type]
            continue
        score = scores.get(post.external_id, (None, "normal"))
        case = CaseRow(
            rule_id=rule_id,
            first_post_id=row.id,
            network=network,
            conversation_id=post.conversation_id,
            channel_id=channel_id,
            customer_author_id=row.author_id,
            sentiment=score[0],
            priority=score[1] or "normal",
            opened_at=now,
            updated_at=now,
        )
        session.add(case)
        pending.append((post, row, case))
    settle()
    return stored


def _post_row(post: Post, network: str, author_ids: Mapping[tuple[str, str], int], rule_id: int | None,
              now: datetime, scores: Mapping[str, tuple[float | None, str]]) -> PostRow:
    return PostRow(
        network=network,
        external_id=post.external_id,
        url=post.url,
        author_id=author_ids[(network, post.author.external_id)],
        text=post.text,
        lang=post.lang,
        created_at=post.created_at,
        fetched_at=now,
        conversation_id=post.conversation_id,
        in_reply_to_id=post.in_reply_to_id,
        is_repost=post.is_repost,
        is_reply=post.is_reply,
        metrics=post.metrics,
        raw=post.raw,
        rule_id=rule_id,
        sentiment=scores.get(post.external_id, (None, ""))[0],
    )


def _conversations_with_posts(session: Session, network: str, conversation_ids: set[str]) -> set[str]:
    if not conversation_ids:
        return set()
    rows = session.exec(select(PostRow.conversation_id).distinct().where(
        PostRow.network == network, col(PostRow.conversation_id).in_(conversation_ids)))
    return {r for r in rows if r}


def int_or_zero(value: str) -> int:
    return int(value) if value.isdigit() else 0
