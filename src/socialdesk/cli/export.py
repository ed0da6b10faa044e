"""`socialdesk export`: cases (or curated FAQ entries) as JSONL, CSV or Markdown, streamed.

Progress goes to stderr ("exported 12,000 / 50,000 cases") when stderr is a terminal or
with --progress, so a pipe (`socialdesk export | gzip`) stays clean. With --output the
file appears only when complete (written beside it, then renamed).
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from socialdesk.cli.common import EXIT_ENVIRONMENT, EXIT_USAGE, int_in, open_store
from socialdesk.domain import CaseStatus

if TYPE_CHECKING:
    from socialdesk import export
    from socialdesk.config import Settings

# socialdesk.export's names, without importing it for --help (tests/test_cli_start.py checks they agree).
FORMATS = ("jsonl", "csv", "md")
STATUSES = tuple(s.value for s in CaseStatus)
MAX_BATCH = 100_000  # cases read per transaction (hidden --batch); a bigger number is a typo, not a tuning


def add_parser(subparsers) -> None:  # type: ignore[no-untyped-def]
    p = subparsers.add_parser(
        "export", help="export cases as JSONL, CSV or Markdown (Q&A for a knowledge base or CRM)",
        description="Write one record per case (question, context, answer, notes, tags, network, links, "
                    "timestamps, agent), oldest case first. Filters combine.")
    p.add_argument("--format", choices=FORMATS, default="jsonl", help="output format (default jsonl)")
    p.add_argument("--since", metavar="WHEN", help="cases opened at or after: YYYY-MM-DD (UTC), an ISO date-time, or 7d / 24h / 2w ago")
    p.add_argument("--until", metavar="WHEN", help="cases opened before: YYYY-MM-DD (that day included), an ISO date-time, or 7d ago")
    p.add_argument("--status", metavar="STATUS[,STATUS]", help=f"only cases in these states: {', '.join(STATUSES)}")
    p.add_argument("--rule", metavar="ID", help="only cases opened by this rule (see `socialdesk rules list`)")
    p.add_argument("--curated-only", action="store_true",
                   help="the active curated FAQ entries (their edited question and answer) instead of raw cases")
    p.add_argument("--redact", action="store_true",
                   help="remove e-mail addresses, phone numbers and @handles (our own accounts stay)")
    p.add_argument("--output", "-o", metavar="FILE", type=_file_name, help="write here instead of standard output")
    p.add_argument("--progress", action="store_true", help="report progress on stderr even when it is not a terminal")
    p.add_argument("--no-bom", action="store_true", help="CSV without the byte-order mark Excel needs to read UTF-8")
    p.add_argument("--batch", type=int_in(1, MAX_BATCH), help=argparse.SUPPRESS)  # default: export.DEFAULT_BATCH
    p.set_defaults(func=cmd_export)


def _file_name(text: str) -> str:
    """An argparse type: a path a file can be put at (`-o ''` and `-o somedir` failed only once written,
    as "Device or resource busy")."""
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty path: give a file name, or leave out --output for standard output")
    if Path(text).is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a directory: give a file name in it, like {Path(text) / 'cases.jsonl'}")
    return text


def build_filter(args: argparse.Namespace, *, now: datetime) -> export.ExportFilter:
    from socialdesk import export

    return export.check_range(export.ExportFilter(
        since=export.parse_when(args.since, now=now) if args.since else None,
        until=export.parse_when(args.until, now=now, upper=True) if args.until else None,
        statuses=export.parse_statuses(args.status) if args.status else frozenset(),
        rule_id=export.parse_rule(args.rule) if args.rule else None,
        curated_only=args.curated_only,
    ))


def cmd_export(settings: Settings, args: argparse.Namespace) -> int:
    from socialdesk import export
    from socialdesk.slack import names
    from socialdesk.store.db import session_scope, utcnow

    if args.batch is None:
        args.batch = export.DEFAULT_BATCH
    try:
        flt = build_filter(args, now=utcnow())
    except export.FilterError as exc:
        print(f"socialdesk: {exc}", file=sys.stderr)
        return EXIT_USAGE
    engine = open_store(settings)
    try:
        progress = None
        if args.progress or sys.stderr.isatty():
            with session_scope(engine) as session:
                total = export.count_records(session=session, flt=flt)
            progress = export.Progress(total=total, report=_reporter(sys.stderr, live=sys.stderr.isatty(),
                                                                      curated=flt.curated_only))
        with _destination(args.output, args.format) as out:
            count = export.export(engine=engine, flt=flt, fmt=args.format, out=out, redacted=args.redact,
                                  keep_handles=settings.own_handle_set, progress=progress, batch=args.batch,
                                  bom=not args.no_bom, names=names.for_cli(settings))
    except BrokenPipeError:  # `socialdesk export | head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return 0
    except OSError as exc:
        print(f"socialdesk: could not write {args.output or 'the export'}: {exc.strerror or exc}; "
              "check the path and its permissions", file=sys.stderr)
        return EXIT_ENVIRONMENT
    finally:
        engine.dispose()
    if args.output:
        print(f"exported {export.counted(count, curated=flt.curated_only)} to {args.output}", file=sys.stderr)
    return 0


def _reporter(stream: TextIO, *, live: bool, curated: bool):  # type: ignore[no-untyped-def]
    what = "FAQ entries" if curated else "cases"

    def report(done: int, total: int, final: bool) -> None:
        line = f"exported {done:,} / {total:,} {what}"
        if live:  # one line, rewritten in place; the last report ends it
            stream.write("\r" + line + ("\n" if final else ""))
        else:
            stream.write(line + "\n")
        stream.flush()

    return report


@contextmanager
def _destination(path: str | None, fmt: str) -> Iterator[TextIO]:
    """Standard output, or a file that appears under its name only once complete."""
    if path is None:
        stdout = sys.stdout
        if isinstance(stdout, io.TextIOWrapper):
            stdout.reconfigure(encoding="utf-8", newline="" if fmt == "csv" else None)
        yield stdout
        stdout.flush()
        return
    target = Path(path)
    fd, partial = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent or Path("."))
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
            yield out
        os.replace(partial, target)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise
