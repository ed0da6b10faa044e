"""Writers: each takes records and a text stream and returns how many it wrote.

Every field is untrusted text (customers' posts, agents' notes): CSV cells that would
run as spreadsheet formulas are quoted, Markdown is escaped to render literally, and a
JSON line never contains a character `str.splitlines()` breaks on.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable, Iterable
from typing import Any, TextIO

from socialdesk.domain import outcome_label
from socialdesk.export.records import ExportRecord, iso

FORMATS = ("jsonl", "csv", "md")


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
               "opened_at", "first_response_at", "resolved_at", "agent", "outcome", "duplicate_of")
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
            iso(r.opened_at), iso(r.first_response_at), iso(r.resolved_at), r.agent, r.outcome, r.duplicate_of)])
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
                 ("Opened", iso(r.opened_at) or ""), ("First response", iso(r.first_response_at) or ""),
                 ("Resolved", iso(r.resolved_at) or ""), ("Outcome", md_escape(outcome_label(r.outcome, r.duplicate_of) or "")),
                 ("Agent", md_escape(r.agent or ""))]
        parts.append("\n" + "".join(f"- **{k}:** {v}\n" for k, v in facts if v))
        out.write("".join(parts))
    if not count:
        out.write("\n_No records matched._\n")
    return count


WRITERS: dict[str, Callable[[Iterable[ExportRecord], TextIO], int]] = {
    "jsonl": write_jsonl, "csv": write_csv, "md": write_markdown}
SUFFIX = {"jsonl": "jsonl", "csv": "csv", "md": "md"}
