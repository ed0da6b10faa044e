"""Retention: purge old data by age, and hide posts removed at the source.

What each function removes (rows, in foreign-key-safe order: webhook deliveries,
curated entries, replies, case events, posts, cases, then authors left without posts):

- `purge_raw`: the raw network payload of posts fetched before a time (`posts.raw`).
- `purge_closed_cases`: resolved/ignored cases with no activity since a time (no
  event, no newly fetched post), with everything hanging off them. A case saved as
  an active FAQ entry is kept: the entry needs it and was curated on purpose.
- `mark_removed_at_source`: a post deleted or withheld on the network keeps its row
  (the case's history refers to it) but loses its text and raw payload; the text
  becomes a notice the card shows instead ("This post was deleted by its author.").
  The prompts of the case's drafted replies (`reply_drafted` events) quote its posts:
  they are dropped too, here and for a forgotten person's posts in other cases.

Forgetting one person on request is store/forget.py; it deletes cases with
`_delete_cases` and drops prompts with `_drop_draft_prompts` from here.

The caller owns the transaction (`session_scope`): a dry run is the same call
rolled back.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, delete, exists, func, null, or_, select, update
from sqlmodel import Session

from socialdesk.domain import CaseStatus, EventKind
from socialdesk.store import incidents, notices
from socialdesk.store.events import record_event
from socialdesk.store.models import (
    AuthorRow,
    CaseEventRow,
    CaseRow,
    CuratedEntryRow,
    PostRow,
    ReplyRow,
    WebhookDeliveryRow,
)

CHUNK = 500  # ids per IN (…): far below SQLite's and PostgreSQL's parameter limits
CLOSED = (CaseStatus.RESOLVED.value, CaseStatus.IGNORED.value)
DELETED, WITHHELD = "deleted", "withheld"
# Tables in the order rows are deleted (children first); counts are reported in this order.
TABLES = ("webhook_deliveries", "curated_entries", "replies", "case_events", "posts", "cases", "authors")


@dataclass(frozen=True)
class RemovedPost:
    """A post just marked removed at the source, and where Slack shows it."""

    post_id: int
    external_id: str
    case_id: int | None
    reason: str
    notice: str
    first_post: bool  # the card shows it; otherwise it is a follow-up in the thread
    channel_id: str | None
    card_ts: str | None
    thread_ts: str | None  # the follow-up's own message in the card's thread


def _chunks(ids: Sequence[int]) -> Iterable[list[int]]:
    for start in range(0, len(ids), CHUNK):
        yield list(ids[start:start + CHUNK])


# --- raw payloads ---------------------------------------------------------------


def purge_raw(*, session: Session, older_than: datetime, limit: int | None = None) -> int:
    """Drop the raw payload of posts fetched before `older_than`; returns how many posts had one."""
    query = select(PostRow.id).where(PostRow.fetched_at < older_than, PostRow.raw.is_not(None)).order_by(PostRow.id)
    ids = list(session.execute(query.limit(limit) if limit else query).scalars())
    for chunk in _chunks(ids):
        session.execute(update(PostRow).where(PostRow.id.in_(chunk)).values(raw=null()))
    return len(ids)


# --- deleting cases and what hangs off them ----------------------------------------


def _delete_cases(session: Session, case_ids: Sequence[int], extra_post_ids: Sequence[int],
                  counts: dict[str, int]) -> set[int]:
    """Delete the cases, everything hanging off them and `extra_post_ids`; returns the posts' author ids."""
    case_ids = sorted(set(case_ids))
    post_ids = set(extra_post_ids)
    for chunk in _chunks(case_ids):
        post_ids.update(session.execute(select(PostRow.id).where(PostRow.case_id.in_(chunk))).scalars())
    event_ids: list[int] = []
    for chunk in _chunks(case_ids):
        event_ids += session.execute(select(CaseEventRow.id).where(CaseEventRow.case_id.in_(chunk))).scalars()
    for chunk in _chunks(case_ids):
        counts["webhook_deliveries"] += session.execute(
            delete(WebhookDeliveryRow).where(WebhookDeliveryRow.case_id.in_(chunk))).rowcount
    for chunk in _chunks(event_ids):  # deliveries written without a case id
        counts["webhook_deliveries"] += session.execute(
            delete(WebhookDeliveryRow).where(WebhookDeliveryRow.case_event_id.in_(chunk))).rowcount
    for table, column in ((CuratedEntryRow, CuratedEntryRow.case_id), (ReplyRow, ReplyRow.case_id),
                          (CaseEventRow, CaseEventRow.case_id)):
        for chunk in _chunks(case_ids):
            counts[table.__tablename__] += session.execute(delete(table).where(column.in_(chunk))).rowcount
    authors: set[int] = set()
    for chunk in _chunks(sorted(post_ids)):
        authors.update(session.execute(select(PostRow.author_id).where(PostRow.id.in_(chunk))).scalars())
        counts["posts"] += session.execute(delete(PostRow).where(PostRow.id.in_(chunk))).rowcount
    for chunk in _chunks(case_ids):
        counts["cases"] += session.execute(delete(CaseRow).where(CaseRow.id.in_(chunk))).rowcount
    incidents.forget_cases(session=session, case_ids=case_ids)
    for chunk in _chunks(case_ids):  # not counted: they hold no customer data, only ids
        notices.forget_cases(session=session, case_ids=chunk)
    return authors


def _delete_orphan_authors(session: Session, author_ids: Collection[int], counts: dict[str, int]) -> None:
    """Authors left with no post and no case: nothing refers to them any more."""
    for chunk in _chunks(sorted(author_ids)):
        counts["authors"] += session.execute(
            delete(AuthorRow).where(
                AuthorRow.id.in_(chunk),
                ~exists().where(PostRow.author_id == AuthorRow.id),
                ~exists().where(CaseRow.customer_author_id == AuthorRow.id),
            )
        ).rowcount


def purge_closed_cases(*, session: Session, older_than: datetime, limit: int = 200) -> dict[str, int]:
    """Delete up to `limit` resolved/ignored cases quiet since `older_than`; rows deleted per table.

    Call again until `cases` is below `limit` (jobs.retention commits between batches).
    """
    counts = dict.fromkeys(TABLES, 0)
    case_ids = list(session.execute(
        select(CaseRow.id)
        .where(
            CaseRow.status.in_(CLOSED),
            CaseRow.updated_at < older_than,
            ~exists().where(CaseEventRow.case_id == CaseRow.id, CaseEventRow.at >= older_than),
            ~exists().where(PostRow.case_id == CaseRow.id, PostRow.fetched_at >= older_than),
            ~exists().where(CuratedEntryRow.case_id == CaseRow.id, CuratedEntryRow.status == "active"),
        )
        .order_by(CaseRow.id)
        .limit(limit)
    ).scalars())
    if case_ids:
        authors = _delete_cases(session, case_ids, (), counts)
        _delete_orphan_authors(session, authors, counts)
    return counts


# --- removed at the source -------------------------------------------------------------


def removal_notice(reason: str, countries: Sequence[str] = ()) -> str:
    """What a card shows instead of a removed post's text (and what `posts.text` becomes)."""
    if reason == WITHHELD:
        where = ", ".join(sorted({c.upper() for c in countries if c})) if countries else ""
        return f"This post is withheld in {where} and hidden here." if where else "This post is withheld and hidden here."
    return "This post was deleted by its author."


def _drop_draft_prompts(session: Session, case_ids: Collection[int], why: str) -> int:
    """A drafted reply's prompt quotes the case's posts: when one must go, the prompt goes (the model's
    draft, our own text, stays). Returns how many events changed."""
    changed = 0
    for chunk in _chunks(sorted(case_ids)):
        for row in session.execute(select(CaseEventRow.id, CaseEventRow.payload).where(
                CaseEventRow.case_id.in_(chunk), CaseEventRow.kind == EventKind.REPLY_DRAFTED.value)):
            payload = dict(row.payload or {})
            if payload.get("prompt") is None:
                continue
            payload["prompt"], payload["prompt_dropped"] = None, why
            session.execute(update(CaseEventRow).where(CaseEventRow.id == row.id).values(payload=payload))
            changed += 1
    return changed


def mark_removed_at_source(*, session: Session, network: str, external_ids: Collection[str], reason: str,
                           now: datetime, countries: Sequence[str] = ()) -> list[RemovedPost]:
    """Hide posts deleted (`reason="deleted"`) or withheld (`"withheld"`, in `countries`) on the network.

    Text and raw payload are dropped (the networks' terms: deleted content must go, withheld
    content must not be shown); the text becomes the notice. Posts already marked are
    skipped. Each affected case gets a `removed_at_source` event.
    """
    if reason not in (DELETED, WITHHELD):
        raise ValueError(f"reason must be {DELETED!r} or {WITHHELD!r}, not {reason!r}")
    notice = removal_notice(reason, countries)
    removed: list[RemovedPost] = []
    ids = sorted(set(external_ids))
    for start in range(0, len(ids), CHUNK):
        rows = session.execute(
            select(PostRow.id, PostRow.external_id, PostRow.case_id, PostRow.thread_ts,
                   CaseRow.first_post_id, CaseRow.channel_id, CaseRow.message_ts)
            .outerjoin(CaseRow, CaseRow.id == PostRow.case_id)
            .where(PostRow.network == network, PostRow.external_id.in_(ids[start:start + CHUNK]),
                   PostRow.removed_at.is_(None))
        ).all()
        for row in rows:
            done = session.execute(
                update(PostRow).where(PostRow.id == row.id, PostRow.removed_at.is_(None))
                .values(text=notice, raw=null(), removed_at=now, removed_reason=reason)
            )
            if done.rowcount != 1:
                continue  # another checker marked it meanwhile
            if row.case_id is not None:
                record_event(session, row.case_id, EventKind.REMOVED_AT_SOURCE, "system", now,
                             post=row.external_id, reason=reason, countries=sorted(countries) or None)
            removed.append(RemovedPost(
                post_id=row.id, external_id=row.external_id, case_id=row.case_id, reason=reason, notice=notice,
                first_post=row.first_post_id == row.id, channel_id=row.channel_id, card_ts=row.message_ts,
                thread_ts=row.thread_ts,
            ))
    _drop_draft_prompts(session, {r.case_id for r in removed if r.case_id is not None},
                        f"it quoted a post {reason} at the source")
    return removed


def posts_to_check(*, session: Session, network: str, opened_since: datetime, checked_before: datetime,
                   fetched_before: datetime, limit: int = 1000) -> list[tuple[int, str]]:
    """(post id, external id) of live posts due for a check at the source, least recently checked first.

    Live: not yet removed, in an open case or one opened since `opened_since`. Due: checked
    before `checked_before`, or never checked and fetched before `fetched_before` (a post
    fetched moments ago is known to exist; asking again would only spend the network's read cap).
    """
    open_statuses = [s.value for s in CaseStatus if s.value not in CLOSED]
    rows = session.execute(
        select(PostRow.id, PostRow.external_id)
        .join(CaseRow, CaseRow.id == PostRow.case_id)
        .where(PostRow.network == network, PostRow.removed_at.is_(None),
               or_(CaseRow.status.in_(open_statuses), CaseRow.opened_at >= opened_since),
               or_(PostRow.source_checked_at < checked_before,
                   and_(PostRow.source_checked_at.is_(None), PostRow.fetched_at < fetched_before)))
        .order_by(func.coalesce(PostRow.source_checked_at, PostRow.fetched_at), PostRow.id)
        .limit(limit)
    ).all()
    return [(r.id, r.external_id) for r in rows]


def mark_checked(*, session: Session, post_ids: Collection[int], now: datetime) -> None:
    """The network answered for these posts (whatever it said): not due again until the next recheck."""
    if post_ids:
        session.execute(update(PostRow).where(PostRow.id.in_(list(post_ids))).values(source_checked_at=now))


__all__ = [
    "RemovedPost", "TABLES", "mark_checked", "mark_removed_at_source", "posts_to_check", "purge_closed_cases",
    "purge_raw", "removal_notice",
]
