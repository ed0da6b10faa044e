"""Export records: one per case (or per curated FAQ entry), read in batches.

Records are read with keyset pagination over ids (`id > last ORDER BY id LIMIT n`) and
one short transaction per batch, so a million cases never sit in memory and an export
never holds SQLite's write lock (every transaction is BEGIN IMMEDIATE) for longer than
one batch. Each case appears once; a case changed while the export runs shows the state
of its batch's moment. The queries are in `socialdesk.store.exports`.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session

from socialdesk.export.filters import ExportFilter
from socialdesk.networks import registry
from socialdesk.redact import redact, redact_url
from socialdesk.store import exports as store
from socialdesk.store.db import session_scope

DEFAULT_BATCH = 500
REMOVED_TEXT = "(removed at the source)"  # deleted or withheld posts are not exported (the networks' terms)


@dataclass(frozen=True)
class ExportRecord:
    case_id: int
    source: str  # "case" or "curated"
    status: str
    network: str
    question: str
    answer: str
    notes: str
    tags: tuple[str, ...]
    rule_query: str | None
    author_handle: str | None
    author_name: str | None
    conversation_url: str | None
    links: tuple[str, ...]  # the customer's posts, then our replies
    opened_at: datetime
    first_response_at: datetime | None
    resolved_at: datetime | None
    agent: str | None  # the assignee, else who sent the last reply: a Slack id, or its name (export(names=…))
    curated_entry_id: int | None = None
    outcome: str | None = None  # how a resolved case was resolved (answered, fixed, no_reply_needed, duplicate)
    duplicate_of: int | None = None  # the case it duplicates (outcome "duplicate")
    agent_id: str | None = None  # the agent's Slack id when `agent` is their name

    def to_json(self) -> dict[str, Any]:
        return {
            "case_id": self.case_id, "source": self.source, "curated_entry_id": self.curated_entry_id,
            "status": self.status, "network": self.network,
            "question": self.question, "answer": self.answer, "notes": self.notes, "tags": list(self.tags),
            "context": {"rule_query": self.rule_query, "author_handle": self.author_handle,
                        "author_name": self.author_name, "conversation_url": self.conversation_url},
            "links": list(self.links),
            "timestamps": {"opened_at": iso(self.opened_at), "first_response_at": iso(self.first_response_at),
                           "resolved_at": iso(self.resolved_at)},
            "agent": self.agent,
            "outcome": self.outcome, "duplicate_of": self.duplicate_of,
            "agent_id": self.agent_id or self.agent,
        }


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def iso(value: datetime | None) -> str | None:
    """UTC with a `Z` (SQLite hands back naive datetimes; they are UTC)."""
    value = _utc(value)
    return value.isoformat().replace("+00:00", "Z") if value else None


def count_records(*, session: Session, flt: ExportFilter) -> int:
    """How many records `iter_records` will yield (for progress and the Slack cap)."""
    if flt.curated_only:
        return store.count_curated(session=session, window=flt)
    return store.count_cases(session=session, window=flt)


def iter_records(*, engine: Engine | None = None, session: Session | None = None, flt: ExportFilter,
                 batch: int = DEFAULT_BATCH, limit: int | None = None) -> Iterator[ExportRecord]:
    """The records, in id order, `batch` at a time; at most `limit` of them.

    With `engine`, each batch is its own short transaction; with `session`, the caller's.
    """
    if (engine is None) == (session is None):
        raise TypeError("iter_records needs exactly one of engine= or session=")
    last_id, produced = 0, 0
    while limit is None or produced < limit:
        size = batch if limit is None else min(batch, limit - produced)
        if session is not None:
            records, last_id, fetched = _batch(session, flt, last_id, size)
        else:
            with session_scope(engine) as own:  # type: ignore[arg-type]
                records, last_id, fetched = _batch(own, flt, last_id, size)
        yield from records
        produced += len(records)
        if fetched < size:
            return


def _batch(session: Session, flt: ExportFilter, after_id: int, size: int) -> tuple[list[ExportRecord], int, int]:
    """Up to `size` records after `after_id`: (records, the last id read, how many rows were read)."""
    if not flt.curated_only:
        cases = store.case_batch(session=session, window=flt, after_id=after_id, size=size)
        if not cases:
            return [], after_id, 0
        built = _build(session, cases)
        return [built[c.id] for c in cases], cases[-1].id, len(cases)
    entries = store.curated_batch(session=session, window=flt, after_id=after_id, size=size)
    if not entries:
        return [], after_id, 0
    built = _build(session, store.cases_by_id(session=session, case_ids=sorted({e.case_id for e in entries})))
    records = [replace(built[e.case_id], source="curated", curated_entry_id=e.id, question=e.question,
                       answer=e.answer, notes=e.notes or "",
                       tags=tuple(e.tags) if e.tags is not None else built[e.case_id].tags)
               for e in entries if e.case_id in built]
    return records, entries[-1].id, len(entries)


def _build(session: Session, cases: Sequence[Any]) -> dict[int, ExportRecord]:
    """The batch's records: one query each for its posts, answers, notes and rules."""
    case_ids = [c.id for c in cases]
    posts = store.posts_by_case(session=session, case_ids=case_ids)
    answers = store.answers_by_case(session=session, case_ids=case_ids)
    notes = store.notes_by_case(session=session, case_ids=case_ids)
    rules = store.rule_queries(session=session, rule_ids=sorted({c.rule_id for c in cases if c.rule_id is not None}))
    return {c.id: _record(c, posts.get(c.id, []), answers.get(c.id, []), notes.get(c.id, []), rules.get(c.rule_id))
            for c in cases}


def _record(case: Any, posts: list[Any], replies: list[Any], notes: list[str], rule_query: str | None) -> ExportRecord:
    customer = case.customer_author_id or next((p.author_id for p in posts if p.id == case.first_post_id), None)
    theirs = [p for p in posts if customer is None or p.author_id == customer]
    first = next((p for p in posts if p.id == case.first_post_id), theirs[0] if theirs else None)
    if first is not None and first.removed_at:
        first = None  # who wrote a post that is gone is not exported either
    question = "\n\n".join(REMOVED_TEXT if p.removed_at else p.text for p in theirs)
    links = [p.url for p in theirs if not p.removed_at and p.url] + [r.url for r in replies if r.url]
    return ExportRecord(
        case_id=case.id, source="case", status=case.status, network=case.network, question=question,
        answer="\n\n".join(r.text for r in replies if r.text.strip()), notes="\n\n".join(notes),
        tags=tuple(case.tags or ()), rule_query=rule_query,
        author_handle=first.handle if first else None, author_name=first.name if first else None,
        conversation_url=_conversation_url(case.network, case.conversation_id, first.url) if first else None,
        links=tuple(links), opened_at=case.opened_at, first_response_at=case.first_response_at,
        resolved_at=case.resolved_at, agent=case.assignee or (replies[-1].agent if replies else None),
        outcome=case.outcome if case.status == "resolved" else None,
        duplicate_of=case.duplicate_of if case.status == "resolved" else None)


def _conversation_url(network: str, conversation_id: str | None, fallback: str) -> str:
    """The thread's root, whoever wrote it, where the network has such a link."""
    if conversation_id and network in registry.names():
        return registry.info(network).conversation_url(conversation_id, fallback) or fallback
    return fallback


def named(record: ExportRecord, names: Callable[[str | None], str | None]) -> ExportRecord:
    """The record with its agent's name ("@alice") for the Slack id; the id stays in agent_id."""
    if not record.agent:
        return record
    return replace(record, agent=names(record.agent), agent_id=record.agent_id or record.agent)


def redact_record(record: ExportRecord, *, keep_handles: Collection[str] = frozenset()) -> ExportRecord:
    def clean(value: str | None) -> str | None:
        return redact(value, keep_handles=keep_handles) if value else value

    return replace(
        record, question=clean(record.question) or "", answer=clean(record.answer) or "",
        notes=clean(record.notes) or "", rule_query=clean(record.rule_query),
        author_handle="[handle]" if record.author_handle else None,
        author_name="[name]" if record.author_name else None,
        conversation_url=redact_url(record.conversation_url) if record.conversation_url else None,
        links=tuple(redact_url(u) for u in record.links))
