"""Retention and privacy: purge old data, forget one person, hide posts removed at the source.

What each function removes (rows, in foreign-key-safe order: webhook deliveries,
curated entries, replies, case events, posts, cases, then authors left without posts):

- `purge_raw`: the raw network payload of posts fetched before a time (`posts.raw`).
- `purge_closed_cases`: resolved/ignored cases with no activity since a time (no
  event, no newly fetched post), with everything hanging off them. A case saved as
  an active FAQ entry is kept: the entry needs it and was curated on purpose.
- `forget_author`: one person, on request. Their author row, all their posts (in
  any case), every case they are the customer of with everything hanging off it
  (our replies and notes about them, other people's posts in those conversations,
  FAQ entries, webhook deliveries). In what remains, `@handle` and links to their
  profile are redacted in post texts, notes and other event payloads, replies, FAQ
  entries and webhook bodies; the raw payloads of other posts that name them are
  dropped, and in-reply-to ids pointing at their posts cleared. Conversation ids are
  kept (other cases need them to follow their threads). Rules whose query names
  them are reported, not changed. On SQLite the full-text index is optimized so
  their words leave its shadow tables too.
- `mark_removed_at_source`: a post deleted or withheld on the network keeps its row
  (the case's history refers to it) but loses its text and raw payload; the text
  becomes a notice the card shows instead ("This post was deleted by its author.").
  The prompts of the case's drafted replies (`reply_drafted` events) quote its posts:
  they are dropped too, here and for a forgotten person's posts in other cases.

The caller owns the transaction (`session_scope`): a dry run is the same call
rolled back.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Text, and_, cast, delete, exists, func, null, or_, select, update
from sqlmodel import Session

from socialdesk.domain import CaseStatus, EventKind
from socialdesk.networks import registry
from socialdesk.store import incidents, notices
from socialdesk.store.events import record_event
from socialdesk.store.models import (
    AuthorRow,
    CaseEventRow,
    CaseRow,
    CuratedEntryRow,
    PostRow,
    ReplyRow,
    RuleRow,
    WebhookDeliveryRow,
)

CHUNK = 500  # ids per IN (…): far below SQLite's and PostgreSQL's parameter limits
CLOSED = (CaseStatus.RESOLVED.value, CaseStatus.IGNORED.value)
REDACTED = "[removed]"
DELETED, WITHHELD = "deleted", "withheld"
# Tables in the order rows are deleted (children first); counts are reported in this order.
TABLES = ("webhook_deliveries", "curated_entries", "replies", "case_events", "posts", "cases", "authors")


class AuthorNotFound(LookupError):
    """No stored author matches; the message says what was looked for."""


class AmbiguousAuthor(LookupError):
    """Several stored authors match a handle (a handle changed hands); pick one by external id."""


@dataclass(frozen=True)
class SlackMessage:
    """A message in Slack that showed a forgotten person: a case card, or a follow-up in a card's thread."""

    channel_id: str
    ts: str
    what: str  # "card" or "follow-up"
    case_id: int


@dataclass
class ForgetReport:
    network: str
    handle: str
    name: str
    external_id: str
    deleted: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TABLES, 0))
    redacted: dict[str, int] = field(default_factory=dict)  # rows elsewhere where their handle was redacted
    messages: list[SlackMessage] = field(default_factory=list)
    cards_to_refresh: list[int] = field(default_factory=list)  # other cases whose card text was redacted
    rules_naming_them: list[int] = field(default_factory=list)


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


# --- forgetting one person -----------------------------------------------------------


def find_author(*, session: Session, network: str, handle: str) -> AuthorRow:
    """The author by handle (any case, '@' optional) or by the network's account id."""
    wanted = handle.strip().lstrip("@")
    if not wanted:
        raise AuthorNotFound("no handle given: pass the person's handle, e.g. --author @jane_doe")
    rows = list(session.execute(
        select(AuthorRow).where(AuthorRow.network == network,
                                or_(func.lower(AuthorRow.handle) == wanted.lower(), AuthorRow.external_id == wanted))
    ).scalars())
    by_id = [r for r in rows if r.external_id == wanted]
    if by_id:
        return by_id[0]
    if not rows:
        raise AuthorNotFound(f"no {network} author @{wanted} is stored (looked up by handle and by account id); "
                             "check the spelling, or they may already be forgotten or purged")
    if len(rows) > 1:
        ids = ", ".join(r.external_id for r in rows)
        raise AmbiguousAuthor(f"{len(rows)} stored {network} authors have the handle @{wanted} (account ids {ids}): "
                              "the handle changed hands; pass the account id instead of the handle")
    return rows[0]


def forget_author(*, session: Session, network: str, handle: str) -> ForgetReport:
    """Remove everything about one person (see the module docstring); the caller commits or rolls back."""
    author = find_author(session=session, network=network, handle=handle)
    report = ForgetReport(network=network, handle=author.handle, name=author.name, external_id=author.external_id)
    if session.get_bind().dialect.name == "sqlite":
        session.connection().exec_driver_sql("PRAGMA secure_delete = ON")  # freed pages are zeroed
    own_posts = list(session.execute(
        select(PostRow.id, PostRow.external_id, PostRow.case_id).where(PostRow.author_id == author.id)))
    own_post_ids = [p.id for p in own_posts]
    case_ids: set[int] = set(session.execute(select(CaseRow.id).where(CaseRow.customer_author_id == author.id)).scalars())
    for chunk in _chunks(own_post_ids):  # a case opened by their post, whoever is recorded as its customer
        case_ids.update(session.execute(select(CaseRow.id).where(CaseRow.first_post_id.in_(chunk))).scalars())
    report.messages = _slack_messages(session, sorted(case_ids), own_post_ids)
    authors = _delete_cases(session, sorted(case_ids), own_post_ids, report.deleted)
    session.execute(delete(AuthorRow).where(AuthorRow.id == author.id))
    report.deleted["authors"] += 1
    _delete_orphan_authors(session, authors - {author.id}, report.deleted)
    elsewhere = sorted({p.case_id for p in own_posts if p.case_id is not None} - case_ids)
    _redact_elsewhere(session, author, [p.external_id for p in own_posts], elsewhere, report)
    report.rules_naming_them = [
        r.id for r in session.execute(select(RuleRow).where(RuleRow.network == network)).scalars()
        if re.search(rf"(?i)(?<!\w){re.escape(author.handle)}(?!\w)", r.query)
    ]
    if session.get_bind().dialect.name == "sqlite":
        # Deleted rows leave their words in the FTS5 segments (as delete markers) until a merge.
        session.connection().exec_driver_sql("INSERT INTO search_index(search_index) VALUES ('optimize')")
    return report


def _slack_messages(session: Session, case_ids: Sequence[int], own_post_ids: Sequence[int]) -> list[SlackMessage]:
    messages: list[SlackMessage] = []
    for chunk in _chunks(case_ids):
        for row in session.execute(select(CaseRow.id, CaseRow.channel_id, CaseRow.message_ts)
                                   .where(CaseRow.id.in_(chunk), CaseRow.message_ts.is_not(None))):
            messages.append(SlackMessage(row.channel_id, row.message_ts, "card", row.id))
    for chunk in _chunks(own_post_ids):  # their follow-ups in other people's cases, threaded under those cards
        for row in session.execute(select(PostRow.thread_ts, CaseRow.id, CaseRow.channel_id)
                                   .join(CaseRow, CaseRow.id == PostRow.case_id)
                                   .where(PostRow.id.in_(chunk), PostRow.thread_ts.is_not(None))):
            if row.id not in case_ids:
                messages.append(SlackMessage(row.channel_id, row.thread_ts, "follow-up", row.id))
    return messages


def _mentions(handle: str) -> re.Pattern[str]:
    """@handle and links to the profile (as each network writes them), not inside a longer handle."""
    h = re.escape(handle)
    links = [p.replace("{handle}", h) for n in registry.names() if (p := registry.info(n).handle_link_pattern)]
    return re.compile("|".join([rf"(?i)(?<![\w@])@{h}(?!\w)", *(f"(?i:{p})" for p in links)]))


def _redact_text(text: str, pattern: re.Pattern[str]) -> str:
    def redact(match: re.Match[str]) -> str:
        found = match.group(0)
        return f"@{REDACTED}" if found.startswith("@") else found[: found.rfind("/") + 1] + REDACTED

    return pattern.sub(redact, text)


def _redact_json(value: Any, pattern: re.Pattern[str]) -> Any:
    if isinstance(value, str):
        return _redact_text(value, pattern)
    if isinstance(value, list):
        return [_redact_json(v, pattern) for v in value]
    if isinstance(value, dict):
        return {k: _redact_json(v, pattern) for k, v in value.items()}
    return value


def _replace_ids(value: Any, ids: Collection[str]) -> Any:
    if isinstance(value, str):
        return REDACTED if value in ids else value
    if isinstance(value, list):
        return [_replace_ids(v, ids) for v in value]
    if isinstance(value, dict):
        return {k: _replace_ids(v, ids) for k, v in value.items()}
    return value


def _like(column: Any, needle: str) -> Any:
    """A cheap superset filter (LIKE's `_` matches any character); Python decides exactly."""
    return func.lower(cast(column, Text)).like(f"%{needle.lower()}%")


def _redact_elsewhere(session: Session, author: AuthorRow, their_post_ids: Sequence[str],
                      their_other_cases: Sequence[int], report: ForgetReport) -> None:
    """Redact them in rows that stay: mentions of their handle, and their posts' ids in other cases' history."""
    pattern = _mentions(author.handle)
    redacted: dict[str, int] = {}

    def bump(table: str) -> None:
        redacted[table] = redacted.get(table, 0) + 1

    for row in session.execute(select(PostRow).where(_like(PostRow.text, author.handle))).scalars():
        new = _redact_text(row.text, pattern)
        if new != row.text:
            session.execute(update(PostRow).where(PostRow.id == row.id).values(text=new))
            bump("posts")
            report.cards_to_refresh += list(session.execute(
                select(CaseRow.id).where(CaseRow.first_post_id == row.id, CaseRow.message_ts.is_not(None))).scalars())
    # Raw payloads name the people a post mentions or answers (username and account id).
    needles = (author.handle.lower(), author.external_id)
    for row in session.execute(select(PostRow.id, PostRow.raw).where(
            or_(*(_like(PostRow.raw, n) for n in needles)))):
        blob = json.dumps(row.raw, ensure_ascii=False).lower()  # as stored (store.jsonfmt writes UTF-8)
        if any(n.lower() in blob for n in needles):
            session.execute(update(PostRow).where(PostRow.id == row.id).values(raw=null()))
            bump("posts.raw")
    for chunk in (list(their_post_ids[i:i + CHUNK]) for i in range(0, len(their_post_ids), CHUNK)):
        done = session.execute(update(PostRow).where(PostRow.in_reply_to_id.in_(chunk)).values(in_reply_to_id=None))
        redacted["posts.in_reply_to_id"] = redacted.get("posts.in_reply_to_id", 0) + done.rowcount
    for row in session.execute(select(ReplyRow.id, ReplyRow.text).where(_like(ReplyRow.text, author.handle))):
        new = _redact_text(row.text, pattern)
        if new != row.text:
            session.execute(update(ReplyRow).where(ReplyRow.id == row.id).values(text=new))
            bump("replies")
    for row in session.execute(select(CaseEventRow.id, CaseEventRow.payload)
                               .where(_like(CaseEventRow.payload, author.handle))):
        new = _redact_json(row.payload, pattern)
        if new != row.payload:
            session.execute(update(CaseEventRow).where(CaseEventRow.id == row.id).values(payload=new))
            bump("case_events")
    dropped = _drop_draft_prompts(session, their_other_cases, "it quoted a person forgotten on request")
    if dropped:
        redacted["case_events"] = redacted.get("case_events", 0) + dropped
    gone = set(their_post_ids)  # e.g. the follow_up event their post made in someone else's case
    for chunk in _chunks(their_other_cases):
        for row in session.execute(select(CaseEventRow.id, CaseEventRow.payload).where(CaseEventRow.case_id.in_(chunk))):
            new = _replace_ids(row.payload, gone)
            if new != row.payload:
                session.execute(update(CaseEventRow).where(CaseEventRow.id == row.id).values(payload=new))
                bump("case_events")
    curated = (CuratedEntryRow.question, CuratedEntryRow.answer, CuratedEntryRow.notes)
    for entry in session.execute(select(CuratedEntryRow).where(
            or_(*(_like(c, author.handle) for c in curated)))).scalars():
        values = {c.key: _redact_text(getattr(entry, c.key), pattern) for c in curated}
        if any(values[k] != getattr(entry, k) for k in values):
            session.execute(update(CuratedEntryRow).where(CuratedEntryRow.id == entry.id).values(**values))
            bump("curated_entries")
    for row in session.execute(select(WebhookDeliveryRow.id, WebhookDeliveryRow.body)
                               .where(_like(WebhookDeliveryRow.body, author.handle))):
        new = _redact_text(row.body, pattern)
        if new != row.body:
            session.execute(update(WebhookDeliveryRow).where(WebhookDeliveryRow.id == row.id).values(body=new))
            bump("webhook_deliveries")
    report.redacted = {k: v for k, v in redacted.items() if v}
    report.cards_to_refresh = sorted(set(report.cards_to_refresh))


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


# --- removed at the source -------------------------------------------------------------


def removal_notice(reason: str, countries: Sequence[str] = ()) -> str:
    """What a card shows instead of a removed post's text (and what `posts.text` becomes)."""
    if reason == WITHHELD:
        where = ", ".join(sorted({c.upper() for c in countries if c})) if countries else ""
        return f"This post is withheld in {where} and hidden here." if where else "This post is withheld and hidden here."
    return "This post was deleted by its author."


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
    "AmbiguousAuthor", "AuthorNotFound", "ForgetReport", "RemovedPost", "SlackMessage", "TABLES",
    "find_author", "forget_author", "mark_checked", "mark_removed_at_source", "posts_to_check", "purge_closed_cases",
    "purge_raw", "removal_notice",
]
