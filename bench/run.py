"""Every performance goal of DESIGN.md and issue #13, measured here, as one table.

    python bench/run.py             # every row (about 15 minutes on two cores, the test suite included)
    python bench/run.py --quick     # smaller inputs, no test suite: a few minutes
    python bench/run.py --no-readme # print the table only
    python bench/run.py --only claims.py   # one script's rows, updated in place in bench/README.md

Each row runs one benchmark script in a process of its own (`--json` hands its figures
back) and prints goal | measured | ratio (measured ÷ goal: at most 1 meets a "≤" goal, at
least 1 a "≥" goal). Ingest is also given as a ratio to a plain core `executemany` of the
same rows in the same run, which means something on a noisy machine. The table is written
into bench/README.md between the markers below. Nothing here asserts a time: the figures
are for people.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
README = REPO / "bench" / "README.md"
BEGIN, END = "<!-- bench/run.py: begin -->", "<!-- bench/run.py: end -->"


@dataclass(frozen=True)
class Row:
    what: str
    goal: float
    at_most: bool  # "≤ goal" (a time); else "≥ goal" (a rate)
    unit: str
    script: str  # under bench/; "" for the test suite
    args: list[str] = field(default_factory=list)
    quick_args: list[str] | None = None  # None: the row is left out with --quick
    value: Callable[[dict[str, Any]], float | None] = lambda figures: None
    note: Callable[[dict[str, Any]], str] = lambda figures: ""


def stream_note(f: dict[str, Any]) -> str:
    lost = f.get("lost", f.get("missing", "?"))
    return f"{f.get('cards', 0)} cards; {lost} lost, {f.get('doubled', '?')} doubled"


def ingest_note(f: dict[str, Any]) -> str:
    return (f"{f.get('ratio_to_executemany', 0):.2f} × a plain executemany of the same rows in the same run; "
            f"{f.get('overall_posts_per_cpu_s', 0):,.0f} posts per CPU second")


ROWS = [
    Row("X post → card, filtered stream (p50)", 1.0, True, "s", "x_stream.py", [], [],
        value=lambda f: f.get("p50_s"), note=lambda f: f"p99 {f.get('p99_s', 0):.2f} s; drop: "
                                                         f"{f.get('lost', '?')} lost, {f.get('doubled', '?')} doubled"),
    Row("X post → card, filtered stream (p99)", 2.0, True, "s", "x_stream.py", [], [], value=lambda f: f.get("p99_s")),
    *(Row(f"{network} post → card, {how} ({label})", goal, True, "s", script, args, quick,
          value=lambda f, k=key: f.get(k), note=lambda f: stream_note(f))
      for network, how, script, args, quick in (
          ("Bluesky", "Jetstream", "stream.py", ["--posts", "20000"],
           ["--posts", "2000", "--rules", "100", "--cards", "30", "--chatter", "50"]),
          ("Mastodon", "streaming API", "mastodon_stream.py", [], ["--posts", "40", "--drop-posts", "20",
                                                                   "--channels", "4"]))
      for label, key, goal in (("p50", "p50_s", 1.0), ("p99", "p99_s", 2.0))),
    Row("local matching, 1,000 rules, one core", 20_000, False, "posts/s", "match.py", [], ["--posts", "20000"],
        value=lambda f: f.get("prepare_match_posts_per_s"),
        note=lambda f: f"{f.get('rules_evaluated_per_post', 0):.1f} rules evaluated a post; the same matches as "
                       f"checking every rule: {'yes' if f.get('agree') else 'NO'}"),
    *(Row(f"/social search at 1M posts (p95), {label}", 50, True, "ms", "search.py",
          ["--posts", "1000000", *flags], ["--posts", "100000"] if not flags else None,
          value=lambda f: f.get("p95_ms"), note=lambda f: f"median {f.get('median_ms', 0):.1f} ms over "
                                                          f"{f.get('posts', 0):,} posts")
      for label, flags in (("SQLite", []), ("PostgreSQL", ["--postgres"]))),
    Row("ingest: normalize → match 100 rules → store, SQLite", 10_000, False, "posts/s", "ingest.py",
        ["--posts", "20000", "--postgres"], ["--posts", "5000"], value=lambda f: f.get("sqlite", {}).get(
            "overall_posts_per_s"), note=lambda f: ingest_note(f.get("sqlite", {}))),
    Row("ingest, PostgreSQL", 10_000, False, "posts/s", "ingest.py", ["--posts", "20000", "--postgres"], None,
        value=lambda f: f.get("postgresql", {}).get("overall_posts_per_s"),
        note=lambda f: ingest_note(f.get("postgresql", {}))),
    Row("ack, 50 concurrent clicks (p99)", 100, True, "ms", "claims.py", ["--rounds", "3"], ["--rounds", "1"],
        value=lambda f: f.get("p99_ms"), note=lambda f: f"median {f.get('median_ms', 0):.0f} ms, "
                                                          f"{f.get('clicks', 0)} clicks, {f.get('over_3s', 0)} over 3 s"),
    *(Row(f"{what} at 1M posts over {days} days, {label}", 1.0, True, "s", "figures.py",
          ["--days", str(days), "--runs", "3"], ["--days", str(days), "--runs", "1", "--only", "sqlite"]
          if database == "sqlite" else None, value=lambda f, d=database, k=key: f.get(d, {}).get(k))
      for days in (365, 60) for database, label in (("sqlite", "SQLite"), ("postgresql", "PostgreSQL"))
      for what, key in (("/social stats 30d", "stats_30d_s"), ("a week's digest", "digest_week_s"))),
    Row("`socialdesk --help`", 0.3, True, "s", "cli_start.py", [], [], value=lambda f: f.get("median_s")),
    Row("spend meter vs a hand count of what X served", 1.0, True, "%", "spend.py", [],
        ["--days", "1", "--posts", "400"], value=lambda f: f.get("difference_percent"),
        note=lambda f: f"${f.get('metered_dollars', 0):,.2f} metered over {f.get('requests', 0):,} answers; pages "
                       f"read twice {f.get('pages_read_twice', '?')}, posts a rule read twice "
                       f"{f.get('posts_a_rule_read_twice', '?')}"),
    # Triage on the labelled set (tests/fixtures/triage/): measured quality, then per-call costs.
    Row("triage: spam precision, labelled set", 0.95, False, "", "triage.py", [], [],
        value=lambda f: f.get("spam_precision"), note=lambda f: f"recall {f.get('spam_recall', 0):.2f}"),
    Row("triage: intent accuracy, labelled set", 0.8, False, "", "triage.py", [], [],
        value=lambda f: f.get("intent_accuracy"), note=lambda f: f"over {f.get('intent_posts', 0)} posts not spam"),
    Row("triage: storm pairs F1, labelled set", 0.9, False, "", "triage.py", [], [],
        value=lambda f: f.get("storm_pairs_f1"),
        note=lambda f: f"precision {f.get('storm_pairs_precision', 0):.2f}, recall "
                       f"{f.get('storm_pairs_recall', 0):.2f}; mean recall per storm "
                       f"{f.get('storm_groups_macro_recall', 0):.2f}"),
    Row("triage: read_intent + read_spam a post", 10, True, "µs", "triage.py", [], [],
        value=lambda f: f.get("costs", {}).get("intent_spam_us_new_text"),
        note=lambda f: f"{f.get('costs', {}).get('intent_spam_us_everyday_text', 0):.1f} µs an everyday post; "
                       f"detect_language {f.get('costs', {}).get('detect_language_us', 0):.0f} µs"),
    Row("triage: near_duplicates against 1,000 open cases", 5, True, "ms", "triage.py", [], [],
        value=lambda f: f.get("costs", {}).get("near_duplicates_1000_ms")),
    Row("test suite, two cores", 8 * 60, True, "s", "", value=lambda f: f.get("seconds"),
        note=lambda f: f"{f.get('summary', '')}"),
]


def run_script(row: Row, args: list[str], workdir: Path) -> dict[str, Any]:
    out = workdir / f"{row.script or 'suite'}-{abs(hash(tuple(args)))}.json"
    if out.exists():  # two rows read the same run (figures.py gives stats and digest)
        return json.loads(out.read_text())
    if not row.script:
        return run_suite(out)
    log = workdir / f"{row.script}.log"
    with log.open("a") as sink:
        done = subprocess.run([sys.executable, str(REPO / "bench" / row.script), *args, "--json", str(out)],
                              cwd=REPO, stdout=sink, stderr=subprocess.STDOUT)
    if not out.exists():
        print(f"  {row.script} failed (exit {done.returncode}); its output: {log}")
        return {}
    figures = json.loads(out.read_text())
    if done.returncode != 0:  # measured, but the script found problems: the figures stand, the problems are said
        print(f"  {row.script} exited {done.returncode}; its output: {log}")
        figures.setdefault("problems", []).insert(0, f"{row.script} exited {done.returncode}")
        out.write_text(json.dumps(figures))
    return figures


def run_suite(out: Path) -> dict[str, Any]:
    """The README's test command, timed (two cores: the CI machine's)."""
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=REPO,
                          capture_output=True, text=True)
    seconds = time.monotonic() - started
    out.with_suffix(".log").write_text(done.stdout + done.stderr)
    lines = done.stdout.strip().splitlines()
    failed = [line.split()[1] for line in lines if line.startswith(("FAILED ", "ERROR "))]
    summary = (lines or [""])[-1].strip("= ") + (f"; failed: {', '.join(failed)}" if failed else "")
    figures = {"seconds": seconds, "summary": summary, "exit": done.returncode}
    out.write_text(json.dumps(figures))
    return figures


def ratio(row: Row, measured: float) -> float:
    return measured / row.goal


def meets(row: Row, measured: float) -> bool:
    return measured <= row.goal if row.at_most else measured >= row.goal


def fmt(value: float, unit: str) -> str:
    if unit == "posts/s":
        return f"{value:,.0f} {unit}"
    if unit == "s" and value >= 60:
        return f"{value / 60:.1f} min"
    return f"{value:,.2f} {unit}" if value < 100 else f"{value:,.0f} {unit}"


def table(results: list[tuple[Row, float | None, str]]) -> list[str]:
    lines = ["| what | goal | measured | ratio | |", "|---|---|---|---|---|"]
    for row, measured, note in results:
        goal = ("≤ " if row.at_most else "≥ ") + fmt(row.goal, row.unit)
        if measured is None:
            lines.append(f"| {row.what} | {goal} | not measured | | {note} |")
            continue
        mark = "✅" if meets(row, measured) else "❌"
        lines.append(f"| {row.what} | {goal} | {fmt(measured, row.unit)} | {ratio(row, measured):.2f} | "
                     f"{mark} {note} |")
    return lines


def update_readme_rows(lines: list[str], note: str) -> None:
    """--only: replace just those rows of the table in bench/README.md (adding one it lacks), saying when they were measured."""
    text = README.read_text()
    if BEGIN not in text or END not in text:
        return
    before, rest = text.split(BEGIN, 1)
    block, after = rest.split(END, 1)
    for line in lines[2:]:
        what = line.split(" | ", 1)[0]
        fresh = f"{line.removesuffix(' |')} ({note}) |"
        rows = block.split("\n")
        if any(old.startswith(what + " | ") for old in rows):
            block = "\n".join(fresh if old.startswith(what + " | ") else old for old in rows)
        else:  # a row the last full run did not have: added at the end of the table
            last = max(i for i, old in enumerate(rows) if old.startswith("| "))
            block = "\n".join([*rows[:last + 1], fresh, *rows[last + 1:]])
    README.write_text(before + BEGIN + block + END + after)


def write_readme(lines: list[str], header: str) -> None:
    text = README.read_text()
    block = "\n".join([BEGIN, header, "", *lines, END])
    if BEGIN in text and END in text:
        before, rest = text.split(BEGIN, 1)
        text = before + block + rest.split(END, 1)[1]
    else:
        text = text.rstrip() + "\n\n## All goals at once (`python bench/run.py`)\n\n" + block + "\n"
    README.write_text(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller inputs; leaves out the slow rows")
    parser.add_argument("--no-readme", action="store_true", help="print the table, do not write bench/README.md")
    parser.add_argument("--only", metavar="SCRIPT", help="run only the rows of this script (e.g. claims.py)")
    args = parser.parse_args(argv)

    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                          text=True).stdout.strip()
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    header = (f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on commit {head or 'unknown'}, "
              f"{os.cpu_count()} CPUs, load average {load} at the start"
              + (" (--quick: smaller inputs)" if args.quick else "") + ".")
    print(header)
    results: list[tuple[Row, float | None, str]] = []
    with tempfile.TemporaryDirectory(prefix="socialdesk-bench-") as tmp:
        for row in ROWS:
            if args.only and row.script != args.only:
                continue
            run_args = row.quick_args if args.quick else row.args
            if run_args is None:
                results.append((row, None, "left out with --quick"))
                continue
            print(f"- {row.what} …", flush=True)
            figures = run_script(row, run_args, Path(tmp))
            measured = row.value(figures) if figures else None
            note = row.note(figures) if figures else "the benchmark failed"
            if figures.get("problems"):
                note += f"; ⚠️ {'; '.join(str(p).splitlines()[0] for p in figures['problems'])[:200]}"
            results.append((row, measured, note))
    lines = table(results)
    print("\n".join(["", *lines]))
    if not args.no_readme and args.only:
        update_readme_rows(lines, f"measured again {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {head or 'unknown'}")
        print(f"\nthose rows updated in {README.relative_to(REPO)}")
    elif not args.no_readme:
        write_readme(lines, header)
        print(f"\nwritten into {README.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
