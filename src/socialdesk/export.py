"""Q&A capture: cases (or curated FAQ entries) as records, streamed to JSONL, CSV or Markdown.

Records are read in batches with keyset pagination over ids (`id > last ORDER BY id
LIMIT n`) and one short transaction per batch, so a million cases never sit in memory
and an export never holds SQLite's write lock (every transaction here is BEGIN
IMMEDIATE) for longer than one batch. Each case appears once; a case changed while the
export runs shows the state of its batch's moment.

Every record has the same shape whether it comes from a case or from a curated entry:
`question`, `answer` and `notes` are strings (a case's several posts, replies or notes
are joined with blank lines), so a knowledge base can take either.
"""

from __future__ import annotations

import csv
import json
import re
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any, TextIO

from sqlalchemy import Engine, func
from sqlmodel import Session, select

from socialdesk.domain import CaseStatus, EventKind
from socialdesk.networks import registry
from socialdesk.redact import redact, redact_url
from socialdesk.store.db import session_scope
from socialdesk.store.models import AuthorRow, CaseEventRow, CaseRow, CuratedEntryRow, PostRow, ReplyRow, RuleRow

FORMATS = ("jsonl", "csv", "md")
STATUSES = tuple(s.value for s in CaseStatus)
ANSWER_STATUSES = ("sent", "marked")  # replies that went out (or were sent by hand and recorded)
DEFAULT_BATCH = 500
REMOVED_TEXT = "(removed at the source)"  # deleted or withheld posts are not exported (the networks' terms)


@dataclass(frozen=True)
class ExportFilter:
    """Which cases: opened in [since, until), with one of `statuses`, from one rule."""

    since: datetime | None = None
    until: datetime | None = None
    statuses: frozenset[str] = frozenset()
    rule_id: int | None = None
    curated_only: bool = False  # the active curated entries (edited Q&A) instead of raw cases


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
    agent: str | None  # the assignee, else who sent the last reply
    curated_entry_id: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "case_id": self.case_id, "source": self.source, "curated_entry_id": self.curated_entry_id,
            "status": self.status, "network": self.network,
            "question": self.question, "answer": self.answer, "notes": self.notes, "tags": list(self.tags),
            "context": {"rule_query": self.rule_query, "author_handle": self.author_handle,
                        "author_name": self.author_name, "conversation_url": self.conversation_url},
            "links": list(self.links),
            "timestamps": {"opened_at": _iso(self.opened_at), "first_response_at": _iso(self.first_response_at),
                           "resolved_at": _iso(self.resolved_at)},
            "agent": self.agent,
        }


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _iso(value: datetime | None) -> str | None:
    value = _utc(value)
    return value.isoformat().replace("+00:00", "Z") if value else None


# --- the filter from what people type (CLI options, `/social export` words) ---


class FilterError(ValueError):
    """A date, status or rule the user got wrong; str(error) is one line to show them."""


_RELATIVE = re.compile(r"^(\d{1,5})([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_when(value: str, *, now: datetime, upper: bool = False, tz: tzinfo = UTC) -> datetime:
    """`7d` / `24h` / `2w` / `30m` ago, a day `2026-11-27` in `tz`, or an ISO date-time.

    As an upper bound (`upper`), a day means up to the end of that day.
    """
    text = value.strip()
    relative = _RELATIVE.match(text.lower())
    if relative:
        return now - timedelta(**{_UNITS[relative.group(2)]: int(relative.group(1))})
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            start = datetime.combine(day + timedelta(days=1 if upper else 0), time(0), tzinfo=tz)
            return start.astimezone(UTC)
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise FilterError(f"{value!r} is not a date: use YYYY-MM-DD, an ISO date-time, or 7d / 24h / 2w") from None
    return moment.replace(tzinfo=tz).astimezone(UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def parse_statuses(value: str) -> frozenset[str]:
    statuses = frozenset(s.strip().lower() for s in value.split(",") if s.strip())
    unknown = sorted(statuses - set(STATUSES))
    if unknown or not statuses:
        raise FilterError(f"{value!r} is not a case status: use one or more of {', '.join(STATUSES)} (comma-separated)")
    return statuses


def parse_rule(value: str) -> int:
    raw = value.strip().lstrip("#")
    if not raw.isascii() or not raw.isdigit() or int(raw) > 2**31 - 1:
        raise FilterError(f"{value!r} is not a rule id: use the number `socialdesk rules list` shows")
    return int(raw)


def check_range(flt: ExportFilter) -> ExportFilter:
    if flt.since and flt.until and flt.since >= flt.until:
        raise FilterError("the start (since) must be before the end (until)")
    return flt


# --- reading ---


def _case_conditions(flt: ExportFilter) -> list[Any]:
    conditions: list[Any] = []
    if flt.since is not None:
        conditions.append(CaseRow.opened_at >= flt.since)
    if flt.until is not None:
        conditions.append(CaseRow.opened_at < flt.until)
    if flt.statuses:
        conditions.append(CaseRow.status.in_(sorted(flt.statuses)))  # type: ignore[attr-defined]
    if flt.rule_id is not None:
        conditions.append(CaseRow.rule_id == flt.rule_id)
    return conditions


def count_records(*, session: Session, flt: ExportFilter) -> int:
    """How many records `iter_records` will yield (for progress and the Slack cap)."""
    if flt.curated_only:
        query = (select(func.count()).select_from(CuratedEntryRow).join(CaseRow, CaseRow.id == CuratedEntryRow.case_id)
                 .where(CuratedEntryRow.status == "active", *_case_conditions(flt)))
    else:
        query = select(func.count()).select_from(CaseRow).where(*_case_conditions(flt))
    return int(session.exec(query).one())


def iter_records(*, engine: Engine | None = None, session: Session | None = None, flt: ExportFilter,
                 batch: int = DEFAULT_BATCH, limit: int | None = None) -> Iterator[ExportRecord]:
    """The records, in id order, `batch` at a time; at most `limit` of them.

    With `engine`, each batch is its own short transaction; with `session`, the caller's.
    Only columns are selected (no ORM objects), so nothing accumulates in a session.
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
    entries: list[Any] = []
    if flt.curated_only:
        entries = list(session.exec(
            select(CuratedEntryRow.id, CuratedEntryRow.case_id, CuratedEntryRow.question, CuratedEntryRow.answer,
                   CuratedEntryRow.notes, CuratedEntryRow.tags)
            .join(CaseRow, CaseRow.id == CuratedEntryRow.case_id)
            .where(CuratedEntryRow.status == "active", CuratedEntryRow.id > after_id, *_case_conditions(flt))
            .order_by(CuratedEntryRow.id).limit(size)))  # type: ignore[arg-type]
        if not entries:
            return [], after_id, 0
        case_ids = sorted({e.case_id for e in entries})
        cases = _case_rows(session, [CaseRow.id.in_(case_ids)], None)  # type: ignore[union-attr]
    else:
        cases = _case_rows(session, [CaseRow.id > after_id, *_case_conditions(flt)], size)  # type: ignore[operator]
        case_ids = [c.id for c in cases]
        if not cases:
            return [], after_id, 0
    built = _build(session, cases, case_ids)
    if not flt.curated_only:
        return [built[c.id] for c in cases], cases[-1].id, len(cases)
    records = [replace(built[e.case_id], source="curated", curated_entry_id=e.id, question=e.question,
                       answer=e.answer, notes=e.notes or "",
                       tags=tuple(e.tags) if e.tags is not None else built[e.case_id].tags)
               for e in entries if e.case_id in built]
    return records, entries[-1].id, len(entries)


def _case_rows(session: Session, conditions: list[Any], size: int | None) -> list[Any]:
    query = (select(CaseRow.id, CaseRow.status, CaseRow.network, CaseRow.conversation_id, CaseRow.rule_id,
                    CaseRow.customer_author_id, CaseRow.first_post_id, CaseRow.tags, CaseRow.assignee,
                    CaseRow.opened_at, CaseRow.first_response_at, CaseRow.resolved_at)
             .where(*conditions).order_by(CaseRow.id))  # type: ignore[arg-type]
    return list(session.exec(query.limit(size) if size else query))


def _build(session: Session, cases: Sequence[Any], case_ids: Sequence[int]) -> dict[int, ExportRecord]:
    """One query each for the batch's posts, replies, notes and rules."""
    posts: dict[int, list[Any]] = defaultdict(list)
    for row in session.exec(
            select(PostRow.case_id, PostRow.author_id, PostRow.id, PostRow.text, PostRow.url, PostRow.removed_at,
                   AuthorRow.handle, AuthorRow.name)
            .join(AuthorRow, AuthorRow.id == PostRow.author_id)
            .where(PostRow.case_id.in_(case_ids))  # type: ignore[union-attr]
            .order_by(PostRow.case_id, PostRow.created_at, PostRow.id)):
        posts[row.case_id].append(row)
    replies: dict[int, list[Any]] = defaultdict(list)
    for row in session.exec(
            select(ReplyRow.case_id, ReplyRow.agent, ReplyRow.text, ReplyRow.url)
            .where(ReplyRow.case_id.in_(case_ids), ReplyRow.status.in_(ANSWER_STATUSES))  # type: ignore[attr-defined]
            .order_by(ReplyRow.case_id, ReplyRow.sent_at, ReplyRow.id)):
        replies[row.case_id].append(row)
    notes: dict[int, list[str]] = defaultdict(list)
    for case_id, payload in session.exec(
            select(CaseEventRow.case_id, CaseEventRow.payload)
            .where(CaseEventRow.case_id.in_(case_ids), CaseEventRow.kind == EventKind.NOTE.value)  # type: ignore[attr-defined]
            .order_by(CaseEventRow.case_id, CaseEventRow.id)):
        text = (payload or {}).get("text")
        if isinstance(text, str) and text.strip():
            notes[case_id].append(text)
    rule_ids = sorted({c.rule_id for c in cases if c.rule_id is not None})
    rules: dict[int, str] = {}
    if rule_ids:
        found = session.exec(select(RuleRow.id, RuleRow.query).where(RuleRow.id.in_(rule_ids)))  # type: ignore[union-attr]
        rules = {r.id: r.query for r in found}
    return {c.id: _record(c, posts[c.id], replies[c.id], notes[c.id], rules.get(c.rule_id)) for c in cases}


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
        resolved_at=case.resolved_at, agent=case.assignee or (replies[-1].agent if replies else None))


def _conversation_url(network: str, conversation_id: str | None, fallback: str) -> str:
    """The thread's root, whoever wrote it, where the network has such a link."""
    if conversation_id and network in registry.names():
        return registry.info(network).conversation_url(conversation_id, fallback) or fallback
    return fallback


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


# --- writers: each takes records and a text stream and returns how many it wrote ---


def write_jsonl(records: Iterable[ExportRecord], out: TextIO) -> int:
    """One JSON object per line; no line breaks inside a record, even for str.splitlines()."""
    count = 0
    for record in records:
        line = json.dumps(record.to_json(), ensure_ascii=False, separators=(",", ":"))
        # json.dumps leaves these raw with ensure_ascii=False; str.splitlines() would break on them.
        for ch in ("\u2028", "\u2029", "\x85"):
            line = line.replace(ch, f"\\u{ord(ch):04x}")
        out.write(line + "\n")
        count += 1
    return count


CSV_COLUMNS = ("case_id", "source", "curated_entry_id", "status", "network", "question", "answer", "notes",
               "tags", "rule_query", "author_handle", "author_name", "conversation_url", "links",
               "opened_at", "first_response_at", "resolved_at", "agent")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    text = str(value)
    # A cell starting like a formula runs as one in Excel/Sheets ("=HYPERLINK(…)"): quote it.
    return "'" + text if text.startswith(_FORMULA_START) else text


def write_csv(records: Iterable[ExportRecord], out: TextIO, *, bom: bool = True) -> int:
    """A header row, then one row per record. With `bom`, Excel reads the UTF-8 correctly.

    `out` should be opened with newline="" (the csv module writes its own \\r\\n).
    Tags are joined with ", ", links with newlines.
    """
    if bom:
        out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    count = 0
    for r in records:
        writer.writerow([_cell(v) for v in (
            r.case_id, r.source, r.curated_entry_id, r.status, r.network, r.question, r.answer, r.notes,
            ", ".join(r.tags), r.rule_query, r.author_handle, r.author_name, r.conversation_url, "\n".join(r.links),
            _iso(r.opened_at), _iso(r.first_response_at), _iso(r.resolved_at), r.agent)])
        count += 1
    return count


_MD_INLINE = re.compile(r"([\\`*_{}\[\]()#+!|~])")
_MD_LINE_START = re.compile(r"^(\s*)([-=>]|\d+[.)])")


def md_escape(text: str) -> str:
    """Untrusted text as Markdown that renders literally: no headings, lists, links, images or HTML.

    `&`, `<`, `>` become entities (every renderer shows them as text; a backslash before
    `<` is not honoured by all of them); other syntax gets a backslash; line breaks stay.
    """
    lines = []
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        line = line.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        line = _MD_INLINE.sub(r"\\\1", line.lstrip())  # leading spaces would make a code block
        line = _MD_LINE_START.sub(lambda m: m.group(1) + m.group(2)[:-1] + "\\" + m.group(2)[-1], line)
        lines.append(line)
    return "  \n".join(lines).strip()  # two spaces: a line break inside the paragraph


_SAFE_URL = re.compile(r"^https?://[^\s<>()\[\]\"'`]+$")


def _md_link(url: str) -> str:
    return f"<{url}>" if _SAFE_URL.match(url) else md_escape(url)


def write_markdown(records: Iterable[ExportRecord], out: TextIO, *, title: str = "socialdesk export") -> int:
    out.write(f"# {md_escape(title)}\n")
    count = 0
    for r in records:
        count += 1
        head = f"Case {r.case_id}" + (f" (FAQ entry {r.curated_entry_id})" if r.curated_entry_id else "")
        parts = [f"\n## {head} · {md_escape(r.status)} · {md_escape(r.network)}\n"]
        for label, body in (("Question", r.question), ("Answer", r.answer), ("Notes", r.notes)):
            if body.strip():
                parts.append(f"\n**{label}**\n\n{md_escape(body)}\n")
        handle = r.author_handle or ""
        author = md_escape(handle if handle.startswith("[") or not handle else "@" + handle)
        facts = [("Author", author + (f" ({md_escape(r.author_name)})" if r.author_name else "")),
                 ("Rule", md_escape(r.rule_query or "")),
                 ("Conversation", _md_link(r.conversation_url) if r.conversation_url else ""),
                 ("Tags", md_escape(", ".join(r.tags))),
                 ("Links", " ".join(_md_link(u) for u in r.links)),
                 ("Opened", _iso(r.opened_at) or ""), ("First response", _iso(r.first_response_at) or ""),
                 ("Resolved", _iso(r.resolved_at) or ""), ("Agent", md_escape(r.agent or ""))]
        parts.append("\n" + "".join(f"- **{k}:** {v}\n" for k, v in facts if v))
        out.write("".join(parts))
    if not count:
        out.write("\n_No records matched._\n")
    return count


WRITERS: dict[str, Callable[[Iterable[ExportRecord], TextIO], int]] = {
    "jsonl": write_jsonl, "csv": write_csv, "md": write_markdown}
SUFFIX = {"jsonl": "jsonl", "csv": "csv", "md": "md"}


@dataclass
class Progress:
    """Counts records as they pass; calls `report(done, total, final)` every `every` records and at the end."""

    total: int
    report: Callable[[int, int, bool], None]
    every: int = DEFAULT_BATCH
    done: int = field(default=0, init=False)

    def wrap(self, records: Iterable[ExportRecord]) -> Iterator[ExportRecord]:
        for record in records:
            yield record
            self.done += 1
            if self.done % self.every == 0:
                self.report(self.done, self.total, False)
        self.report(self.done, self.total, True)


def counted(count: int, *, curated: bool) -> str:
    """"1 case", "2,000 cases", "1 FAQ entry" …"""
    if curated:
        return f"{count:,} FAQ {'entry' if count == 1 else 'entries'}"
    return f"{count:,} case{'' if count == 1 else 's'}"


def export(*, engine: Engine, flt: ExportFilter, fmt: str, out: TextIO, redacted: bool = False,
           keep_handles: Collection[str] = frozenset(), limit: int | None = None,
           progress: Progress | None = None, batch: int = DEFAULT_BATCH, bom: bool = True) -> int:
    """Stream the matching records to `out` in `fmt`; returns how many were written."""
    records: Iterable[ExportRecord] = iter_records(engine=engine, flt=flt, batch=batch, limit=limit)
    if redacted:
        records = (redact_record(r, keep_handles=keep_handles) for r in records)
    if progress is not None:
        records = progress.wrap(records)
    if fmt == "csv":
        return write_csv(records, out, bom=bom)
    return WRITERS[fmt](records, out)
