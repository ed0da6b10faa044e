"""Faults reproduced against the real running app, and what each one lost or doubled.

Starts the Slack emulator once; then, for each row, its own `socialdesk run` (HTTP mode,
SQLite in a temp directory, tests/support/app_process.py), a SlackProxy in front of the
emulator (it can answer 429) and a FakeX. Each row reproduces one fault `--tries` times and
counts what was lost and what was duplicated from the database and from the emulator's
messages (never from the app's log), times the acks of the Slack requests it sends, and
prints:

    fault | tries | lost | duplicated | worst ack | pass

then one line per row saying what was done, and the problems found. Exit status 1 when a
row fails. Rows (`--only NAME` or number, comma-separated for several):

    python bench/faults.py                  # every row once (5-6 min on 2 cores: rows 9, 10, 13 wait
                                            #   out backoffs and leases)
    python bench/faults.py --tries 3        # each fault 3 times (11 min)
    python bench/faults.py --only db-locked,13
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tempfile
import time
import traceback
from pathlib import Path

from faults import ROWS, Row, select
from faults.common import REPO, Bench, RowResult
from tests.support import slack_emulator


def run_row(row: Row, bench: Bench, tries: int) -> RowResult:
    started = time.perf_counter()
    try:
        result = row.run(bench, tries)
    except Exception as exc:  # noqa: BLE001 - a row that breaks is a failed row; the others still run
        result = RowResult(tries=tries, done="(the row stopped with an exception)")
        result.problems.append(f"{type(exc).__name__}: {exc}")
        result.notes.append(traceback.format_exc(limit=4).strip().replace("\n", "\n      "))
    result.seconds = time.perf_counter() - started
    result.workdir = bench.workdir / row.name
    return result


def cell(value: object) -> str:
    return "-" if value is None else str(value)


def table(results: list[tuple[Row, RowResult]]) -> str:
    head = ("fault", "tries", "lost", "duplicated", "worst ack", "pass")
    lines = [[f"{row.number:>2} {row.title}", str(res.tries), cell(res.lost), cell(res.duplicated),
              "-" if res.worst_ack_ms is None else f"{res.worst_ack_ms:,.0f} ms", "yes" if res.passed else "NO"]
             for row, res in results]
    widths = [max(len(x) for x in col) for col in zip(head, *lines)]

    def fmt(cells: tuple[str, ...] | list[str]) -> str:
        return " | ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))

    return "\n".join([fmt(head), "-+-".join("-" * w for w in widths), *map(fmt, lines)])


def header() -> None:
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--", "src"], cwd=REPO, capture_output=True, text=True).stdout
    print(f"code: {head or 'unknown'}{' + uncommitted changes in src/' if dirty.strip() else ''}")
    print(f"{os.cpu_count()} CPUs, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} "
          "(other work on the machine slows the acks)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tries", type=int, default=1, help="how many times each fault is reproduced (default 1)")
    parser.add_argument("--only", action="append", metavar="NAME",
                        help="run only these rows (name or number; comma-separated or repeated): "
                             + ", ".join(r.name for r in ROWS))
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs, databases) even if all pass")
    args = parser.parse_args(argv)
    try:
        rows = select(args.only)
    except ValueError as exc:
        parser.error(str(exc))
    if args.tries < 1:
        parser.error("--tries must be at least 1")

    header()
    workdir = Path(tempfile.mkdtemp(prefix="socialdesk-faults-"))
    started = time.perf_counter()
    results: list[tuple[Row, RowResult]] = []
    emu, emu_proc = slack_emulator.start(REPO, workdir)
    try:
        bench = Bench(emu=emu, workdir=workdir)
        for row in rows:
            print(f"[{row.number:>2}/{len(ROWS)}] {row.name} …", flush=True)
            result = run_row(row, bench, args.tries)
            results.append((row, result))
            print(f"        {'pass' if result.passed else 'FAIL'} in {result.seconds:.0f} s", flush=True)
    finally:
        slack_emulator.stop(emu_proc)

    print()
    print(table(results))
    print()
    for row, res in results:
        print(f"{row.number:>2}. {row.name} ({res.seconds:.0f} s): {res.done}")
    for row, res in results:
        for line in [f"PROBLEM {p}" for p in res.problems] + [f"note: {n}" for n in res.notes]:
            print(f"    [{row.number} {row.name}] {line}")
    failed = [row.name for row, res in results if not res.passed]
    print(f"\n{len(results) - len(failed)} of {len(results)} rows pass"
          + (f"; failed: {', '.join(failed)}" if failed else "") + f"; {time.perf_counter() - started:.0f} s in all")
    if failed or args.keep:
        print(f"work directory kept (app logs and databases per row): {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
