"""Forgetting one person on request (`socialdesk forget`): `forget_author`.

What it removes: their author row, all their posts (in any case), every case they
are the customer of with everything hanging off it (our replies and notes about
them, other people's posts in those conversations, FAQ entries, webhook
deliveries), in the foreign-key-safe order of store.retention's `_delete_cases`.
In what remains, `@handle` and links to their profile are redacted in post texts,
notes and other event payloads, replies, FAQ entries and webhook bodies; the raw
payloads of other posts that name them are dropped, in-reply-to ids pointing at
their posts cleared, and the prompts of drafted replies in other cases that quoted
their posts dropped. Conversation ids are kept (other cases need them to follow
their threads). Rules whose query names them are reported, not changed. On SQLite
the full-text index is optimized so their words leave its shadow tables too.

The caller owns the transaction (`session_scope`): a dry run is the same call
rolled back.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Text, cast, delete, func, null, or_, select, update
from sqlmodel import Session

from socialdesk.networks import registry
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
from socialdesk.store.retention import (  # shared with retention: deleting cases, dropping draft prompts
    CHUNK,
    TABLES,
    _chunks,
    _delete_cases,
    _delete_orphan_authors,
    _drop_draft_prompts,
)

REDACTED = "[removed]"


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


__all__ = ["AmbiguousAuthor", "AuthorNotFound", "ForgetReport", "SlackMessage", "find_author", "forget_author"]
