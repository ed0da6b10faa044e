"""Storing fetched posts: dedupe on (network, id), upsert authors, open cases or follow them up.

A page is written with a few batched statements whatever its size (no ORM objects): the
known posts in one query, the authors upserted in one statement and their ids read in one,
then the new cases, the posts and the cases' `opened` events each in one driver executemany
(store.bulk), and the posts into the full-text index in one statement (store.search_index).
Post and case ids are taken first (store.ids), so each row is inserted once, complete: a
post with its case, a case with its first post; nothing is read back per row.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, select
from sqlmodel import Session, col

from socialdesk.domain import Author, EventKind, Post
from socialdesk.store import conversations, storable, storms
from socialdesk.store.conversations import CaseRef, Opened
from socialdesk.store.bulk import Upsert, insert_rows
from socialdesk.store.events import event_row
from socialdesk.store.ids import take_ids
from socialdesk.store.models import AuthorRow, CaseEventRow, CaseRow, PostRow
from socialdesk.store.search_index import index_posts
from socialdesk.triage.triaged import LIKELY_SPAM, UNTRIAGED, Triaged

SYSTEM = "system"
Scores = Mapping[str, Triaged]  # by post id: sentiment, priority, intent, tags, spam, and what its case does
Scorer = Callable[[Sequence[Post]], Scores]  # scores the posts about to be stored

_PROFILE = ("handle", "name", "followers", "verified", "avatar_url")
# An author's profile as the page has it; `updated_at` says when it last changed.
# An account's creation time, once known, stays: a page from a source without it leaves it alone.
_AUTHOR_UPSERT = Upsert(unique=("network", "external_id"), refresh=(*_PROFILE, "updated_at"), changed=_PROFILE,
                        kept=("created_at",))


# Built once: a page's lookups then cost a cache hit, not building and compiling the statement.
_KNOWN_POSTS = select(PostRow.external_id).where(
    PostRow.network == bindparam("network"), col(PostRow.external_id).in_(bindparam("ids", expanding=True)))
_AUTHOR_IDS = select(AuthorRow.external_id, AuthorRow.id).where(
    AuthorRow.network == bindparam("network"), col(AuthorRow.external_id).in_(bindparam("ids", expanding=True)))


def known_post_ids(*, session: Session, network: str, external_ids: Sequence[str]) -> set[str]:
    if not external_ids:
        return set()
    return set(session.connection().execute(_KNOWN_POSTS, {"network": network, "ids": list(external_ids)}).scalars())


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
    `scores`: triage.triaged.Triaged by post id, or a function giving them for the posts it
    is passed (only those actually stored: scoring costs more than storing); stored on posts
    and new cases. A new case opens where its route says (a `routed` event), or as ignored
    when it is likely spam on a rule that ignores spam (an automatic `ignored` event).
    `incident_window`: new cases near-duplicate to an open case of the rule written within
    this long join its incident (store.incidents); None or zero: no incidents.
    Values their rows cannot hold (too long, NUL, lone surrogates) are cut and cleaned
    (store.storable): one odd post must not fail the page on every retry.
    """
    # Made storable first, so the lookups below see the values the rows will hold.
    posts = [storable.post(p) for p in posts if p.author.handle.lower() not in own_handles]
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
    # Storms are decided before the page is written: a new case goes in with its incident.
    since = min(p.created_at for p in ordered) - incident_window if incident_window else None
    return _write(session, plan, author_ids, scored, network=network, rule_id=rule_id, channel_id=channel_id,
                  now=now, storms_since=since, window=incident_window)


def _write(session: Session, plan: Sequence[tuple[Post, CaseRef, bool]], author_ids: Mapping[str, int], scores: Scores,
           *, network: str, rule_id: int | None, channel_id: str, now: datetime, storms_since: datetime | None = None,
           window: timedelta | None = None) -> Stored:
    """Insert the page as planned: cases (with their incidents, store.storms), then posts with
    their case, then the events."""
    session.flush()  # anything the caller added through the ORM goes first (core statements skip autoflush)
    post_ids = take_ids(session, PostRow.__table__, len(plan))  # type: ignore[arg-type]
    opening = [(post, post_id) for (post, _, opens), post_id in zip(plan, post_ids) if opens]
    case_ids = take_ids(session, CaseRow.__table__, len(opening))  # type: ignore[arg-type]
    case_rows, events = [], []
    for (post, post_id), case_id in zip(opening, case_ids):
        triaged = scores.get(post.external_id, UNTRIAGED)
        case_rows.append({
            "id": case_id, "rule_id": rule_id, "first_post_id": post_id, "network": network,
            "conversation_id": post.conversation_id, "status": "new", "priority": triaged.priority or "normal",
            "channel_id": channel_id, "publish_failures": 0, "opened_at": now, "updated_at": now, "version": 1,
            "customer_author_id": author_ids[post.author.external_id], "sentiment": triaged.sentiment, "tags": None,
            **_triaged_case(triaged, channel_id),
        })
        events.append(event_row(case_id, EventKind.OPENED, SYSTEM, now, post=post.external_id, rule_id=rule_id))
        events += _triaged_events(case_id, triaged, channel_id, now)
    post_rows, follow_ups = [], []
    for (post, case, opens), post_id in zip(plan, post_ids):
        case_id = case_ids[case.index] if isinstance(case, Opened) else case
        post_rows.append(_post_row(post, post_id, case_id, network, author_ids, rule_id, now, scores))
        if not opens:
            follow_ups.append((post_id, case_id, post.external_id))
    joining = storms.Storms()
    if window and storms_since is not None and rule_id is not None and case_rows:
        opened = set(case_ids)
        joining = storms.plan_storms(
            session=session, rule_id=rule_id, since=storms_since, window=window, now=now,
            opening=[storms.Opening(row["id"], row["channel_id"], row["status"], post.text, post.created_at,
                                    scores.get(post.external_id, UNTRIAGED).similarity_key)
                     for row, (post, _) in zip(case_rows, opening)],
            reopening=[case_id for _, case_id, _ in follow_ups if case_id not in opened])
    for row in case_rows:
        row["incident_id"] = joining.incident_of.get(row["id"])
    connection = session.connection()
    joining.before_cases(session)
    insert_rows(connection, CaseRow.__table__, case_rows)  # type: ignore[arg-type]
    insert_rows(connection, PostRow.__table__, post_rows)  # type: ignore[arg-type]
    index_posts(session=session, post_ids=post_ids)
    insert_rows(connection, CaseEventRow.__table__, events)  # type: ignore[arg-type]
    conversations.attach(session=session, follow_ups=[(case_id, ext) for _, case_id, ext in follow_ups], now=now)
    joining.after_cases(session)
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
        "sentiment": (triaged := scores.get(post.external_id, UNTRIAGED)).sentiment,
        "lang_detected": triaged.lang_detected,
        "text_key": triaged.text_key,
    }


def _triaged_case(triaged: Triaged, channel_id: str) -> dict[str, Any]:
    """A new case's columns from triage: intent, tags, spam; its channel and status where the rule's settings say."""
    spam = triaged.file_as_spam
    # Every row has the same keys: an executemany takes its columns from the first.
    return {"intent": triaged.intent, "spam_score": triaged.spam_score,
            "spam_reasons": list(triaged.spam_reasons) or None, "tags": list(triaged.tags) or None,
            "channel_id": triaged.route_to or channel_id, "status": "ignored" if spam else "new",
            "ignored_reason": LIKELY_SPAM if spam else None, "last_action": "filed automatically" if spam else None}


def _triaged_events(case_id: int, triaged: Triaged, channel_id: str, now: datetime) -> list[dict[str, Any]]:
    """`routed` (from, to, because) and the automatic `ignored`, after `opened`."""
    events = []
    if triaged.route_to:
        events.append(event_row(case_id, EventKind.ROUTED, SYSTEM, now,
                                **{"from": channel_id, "to": triaged.route_to, "because": triaged.route_because}))
    if triaged.file_as_spam:
        events.append(event_row(case_id, EventKind.IGNORED, SYSTEM, now, reason=triaged.spam_line, automatic=True))
    return events


def _upsert_authors(session: Session, network: str, authors: Sequence[Author], now: datetime) -> dict[str, int]:
    """Insert new authors and refresh known ones whose profile changed (handle, name, followers …
    as the page has them); returns every author's id by external id."""
    by_id = {a.external_id: a for a in authors}  # the last seen wins, as when they were updated one by one
    rows = [{"network": network, "external_id": a.external_id, "handle": a.handle, "name": a.name,
             "followers": a.followers, "verified": a.verified, "avatar_url": a.avatar_url, "updated_at": now,
             "created_at": a.created_at}
            for _, a in sorted(by_id.items())]
    # One statement, executed for all rows; one order for every writer: PostgreSQL locks rows as it goes.
    insert_rows(session.connection(), AuthorRow.__table__, rows, upsert=_AUTHOR_UPSERT)  # type: ignore[arg-type]
    return _author_ids(session, network, set(by_id))


def _author_ids(session: Session, network: str, external_ids: Collection[str]) -> dict[str, int]:
    if not external_ids:
        return {}
    rows = session.connection().execute(_AUTHOR_IDS, {"network": network, "ids": list(external_ids)})
    return {external_id: row_id for external_id, row_id in rows}


def int_or_zero(value: str) -> int:
    return int(value) if value.isdigit() else 0
