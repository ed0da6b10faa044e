"""Q&A capture: cases (or curated FAQ entries) as records, streamed to JSONL, CSV or Markdown.

Every record has the same shape whether it comes from a case or from a curated entry:
`question`, `answer` and `notes` are strings (a case's several posts, replies or notes
are joined with blank lines), so a knowledge base can take either.

    filters   which cases (ExportFilter) from what people type
    records   ExportRecord, read in id batches (queries in socialdesk.store.exports)
    writers   JSONL, CSV, Markdown

The CLI (`socialdesk export`) and `/social export` use the names re-exported here.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TextIO

from sqlalchemy import Engine

from socialdesk.export.filters import (STATUSES, ExportFilter, FilterError, check_range, parse_rule, parse_statuses,
                                       parse_when)
from socialdesk.export.records import (DEFAULT_BATCH, REMOVED_TEXT, ExportRecord, count_records, iter_records,
                                       named, redact_record)
from socialdesk.export.writers import (CSV_COLUMNS, FORMATS, SUFFIX, WRITERS, md_escape, write_csv, write_jsonl,
                                       write_markdown)

__all__ = [
    "CSV_COLUMNS", "DEFAULT_BATCH", "FORMATS", "REMOVED_TEXT", "STATUSES", "SUFFIX", "WRITERS",
    "ExportFilter", "ExportRecord", "FilterError", "Progress",
    "check_range", "count_records", "counted", "export", "iter_records", "md_escape", "named", "parse_rule",
    "parse_statuses", "parse_when", "redact_record", "write_csv", "write_jsonl", "write_markdown",
]


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
           progress: Progress | None = None, batch: int = DEFAULT_BATCH, bom: bool = True,
           names: Callable[[str | None], str | None] | None = None) -> int:
    """Stream the matching records to `out` in `fmt`; returns how many were written.

    `names` (a slack.names.SlackNames) shows agents as "@alice" rather than their Slack ids."""
    records: Iterable[ExportRecord] = iter_records(engine=engine, flt=flt, batch=batch, limit=limit)
    if names is not None:
        records = (named(r, names) for r in records)
    if redacted:
        records = (redact_record(r, keep_handles=keep_handles) for r in records)
    if progress is not None:
        records = progress.wrap(records)
    if fmt == "csv":
        return write_csv(records, out, bom=bom)
    return WRITERS[fmt](records, out)
