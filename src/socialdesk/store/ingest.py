"""Storing fetched posts: dedupe on (network, id), upsert authors, open cases."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlmodel import Session, col, select

from socialdesk.domain import Author, EventKind, Post
from socialdesk.store.models import AuthorRow, CaseEventRow, CaseRow, PostRow

SYSTEM = "system"


def _upsert_authors(session: Session, authors: Sequence[Author], now: datetime) -> dict[tuple[str, str], int]:
    by_key = {(a.network.value, a.external_id): a for a in authors}
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
            network=author.network.value,
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


def known_post_ids(*, session: Session, network: str, external_ids: Sequence[str]) -> set[str]:
    if not external_ids:
        return set()
    rows = session.exec(
        select(PostRow.external_id).where(PostRow.network == network, col(PostRow.external_id).in_(external_ids))
    )
    return set(rows)


def store_posts(
    *, session: Session, posts: Sequence[Post], rule_id: int | None, channel_id: str, now: datetime
) -> list[int]:
    """Store posts not seen before and open one case for each; returns the new case ids.

    Posts already stored (another rule matched them, or a page was fetched twice)
    are left alone, so a post never opens two cases.
    """
    if not posts:
        return []
    network = posts[0].network.value
    seen = known_post_ids(session=session, network=network, external_ids=[p.external_id for p in posts])
    fresh: dict[str, Post] = {}
    for post in posts:
        if post.external_id not in seen:
            fresh.setdefault(post.external_id, post)
    if not fresh:
        return []
    author_ids = _upsert_authors(session, [p.author for p in fresh.values()], now)
    case_ids: list[int] = []
    # Oldest first, so cards appear in the order the customers wrote.
    for post in sorted(fresh.values(), key=lambda p: (p.created_at, int_or_zero(p.external_id))):
        row = PostRow(
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
        )
        session.add(row)
        session.flush()
        case = CaseRow(
            rule_id=rule_id,
            first_post_id=row.id,
            network=network,
            conversation_id=post.conversation_id,
            channel_id=channel_id,
            opened_at=now,
            updated_at=now,
        )
        session.add(case)
        session.flush()
        row.case_id = case.id
        session.add(row)
        session.add(CaseEventRow(case_id=case.id, kind=EventKind.OPENED.value, actor=SYSTEM, at=now,  # type: ignore[arg-type]
                                 payload={"post": post.external_id, "rule_id": rule_id}))
        case_ids.append(case.id)  # type: ignore[arg-type]
    return case_ids


def int_or_zero(value: str) -> int:
    return int(value) if value.isdigit() else 0
