"""Digest and `/social stats` figures over a million posts, on SQLite and PostgreSQL.

Seeds N posts (default 1,000,000) with their cases and case histories over 60 days
(bench/_figures_seed.py) into a migrated SQLite file and into a throwaway PostgreSQL
server (tests/support/postgres.py), then times what the app computes:

- `/social stats 30d`: `listeners.commands.period_bounds("30d", …)` and one
  `store.figures.figures` call in a read-only session, as `stats_cmd` does;
- a week's digest: the last complete week and the week before it
  (`figures.period_info` + `figures.previous`), two `figures` calls and the backlog
  now (`figures.backlog`) in one session, as `jobs.digest.DigestJob.run_once` does;
- the two parts of a figure that are not case-event counts, on their own: the top
  authors of the 30 days and the backlog (cases waiting, and the oldest of them).

Each is run once to warm the caches, then `--runs` times; the median is printed
beside the goal (≤ 1 s, issue #13). Figures only; nothing here asserts a time.

    python bench/figures.py                     # 1,000,000 posts, SQLite then PostgreSQL
    python bench/figures.py --only sqlite --keep   # keep the seeded SQLite file and reuse it next time
    python bench/figures.py --posts 200000 --only postgresql
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from zoneinfo import ZoneInfo

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # tests.support, bench._figures_seed

from sqlalchemy import Engine, func, select  # noqa: E402

from bench._figures_seed import NOW, seed  # noqa: E402
from bench._report import add_json_option, write_json  # noqa: E402
from socialdesk.listeners.commands import period_bounds  # noqa: E402
from socialdesk.store import figures as store  # noqa: E402
from socialdesk.store.models import CaseEventRow  # noqa: E402
from socialdesk.store.db import head_revision, make_engine, read_scope, session_scope, upgrade  # noqa: E402

TEAM_TZ = ZoneInfo("Europe/Berlin")
GOAL_MS = 1000.0
CACHE = Path(tempfile.gettempdir()) / "socialdesk-figures-bench"


def code_version() -> str:
    def git(*a: str) -> str:
        return subprocess.run(["git", *a], cwd=REPO, capture_output=True, text=True).stdout.strip()

    head = git("rev-parse", "--short", "HEAD") or "unknown"
    return head + (" + uncommitted changes in src/" if git("status", "--porcelain", "--", "src") else "")


@contextmanager
def sqlite_url(n_posts: int, seed_value: int, keep: bool, days: int) -> Iterator[tuple[str, bool]]:
    """(url, already seeded): a cached file with --keep, else a temp file removed afterwards."""
    if keep:
        CACHE.mkdir(exist_ok=True)
        path = CACHE / f"{n_posts}-posts-{days}-days-seed{seed_value}-schema{head_revision()}.db"
        done = path.with_suffix(".seeded")
        if not done.exists():  # a seeding that did not finish starts again
            for stale in (path, path.with_suffix(".db-wal"), path.with_suffix(".db-shm")):
                stale.unlink(missing_ok=True)
        yield f"sqlite:///{path}", done.exists()
        done.touch()
        return
    with tempfile.TemporaryDirectory(prefix="socialdesk-figures-bench-") as tmp:
        yield f"sqlite:///{tmp}/bench.db", False


@contextmanager
def postgres_url() -> Iterator[tuple[str, bool]]:
    from tests.support.postgres import postgres_server

    with postgres_server() as url:
        yield url, False


def median_ms(work: Callable[[], object], runs: int) -> tuple[float, float, object]:
    work()  # warm the caches
    times, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = work()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), max(times), result


def stats_30d(engine: Engine) -> store.Figures:
    since, until = period_bounds("30d", NOW, TEAM_TZ)
    with read_scope(engine) as session:
        return store.figures(session=session, start=since, end=until, tz=TEAM_TZ)


def digest_week(engine: Engine) -> tuple[store.Figures, store.Figures]:
    _, start, end = store.period_info("week", now=NOW, tz=TEAM_TZ)
    prev_start, prev_end = store.previous(start, end, tz=TEAM_TZ)
    with session_scope(engine) as session:
        pair = (store.figures(session=session, start=start, end=end, tz=TEAM_TZ),
                store.figures(session=session, start=prev_start, end=prev_end, tz=TEAM_TZ))
        store.backlog(session=session)
        return pair


def top_authors_30d(engine: Engine) -> object:
    since, until = period_bounds("30d", NOW, TEAM_TZ)
    with read_scope(engine) as session:
        return store._top_authors(session, since, until)


def backlog_now(engine: Engine) -> store.Backlog:
    with read_scope(engine) as session:
        return store.backlog(session=session)


def check(engine: Engine, f: store.Figures) -> None:
    """The figures count what the tables hold (a fast wrong answer is no answer)."""
    with engine.connect() as conn:
        opened = conn.execute(select(func.count()).where(
            CaseEventRow.kind == "opened", CaseEventRow.at >= f.start, CaseEventRow.at < f.end)).scalar_one()
    problems = []
    if f.opened != opened:
        problems.append(f"opened {f.opened:,} but the table holds {opened:,}")
    if sum(f.sentiment.values()) != f.opened or sum(r.opened for r in f.rules) != f.opened:
        problems.append("the sentiment mix or the rules table does not add up to the cases opened")
    if sum(f.hourly) > f.opened:
        problems.append("more cases by hour than opened")
    for p in problems:
        print(f"  PROBLEM: {p}", file=sys.stderr)


def run(backend: str, db: Callable[[], object], args: argparse.Namespace) -> list[tuple[str, float, float]]:
    rows: list[tuple[str, float, float]] = []
    with db() as (url, seeded):  # type: ignore[attr-defined]
        engine = make_engine(url)
        upgrade(engine)
        if seeded:
            print(f"\n== {backend}: reusing the seeded file {url.removeprefix('sqlite:///')} ==")
        else:
            started = time.perf_counter()
            counts = seed(engine, args.posts, random.Random(args.seed), args.days)
            seconds = time.perf_counter() - started
            print(f"\n== {backend}: seeded {counts['posts']:,} posts, {counts['cases']:,} cases, "
                  f"{counts['events']:,} case events in {seconds:.0f} s ==")
        ms, worst, f = median_ms(lambda: stats_30d(engine), args.runs)
        assert isinstance(f, store.Figures)
        check(engine, f)
        print(f"  /social stats 30d      median {ms:7.0f} ms  max {worst:7.0f} ms   opened {f.opened:,}, "
              f"resolved {f.resolved:,}, first responses {f.first_response.count:,}, agents {len(f.agents)}")
        rows.append(("/social stats 30d", GOAL_MS, ms))
        ms, worst, pair = median_ms(lambda: digest_week(engine), args.runs)
        current, before = pair  # type: ignore[misc]
        check(engine, current)
        print(f"  digest, week + before  median {ms:7.0f} ms  max {worst:7.0f} ms   opened {current.opened:,} "
              f"and {before.opened:,}")
        rows.append(("digest for a week (+ the week before)", GOAL_MS, ms))
        ms, worst, _ = median_ms(lambda: top_authors_30d(engine), args.runs)
        print(f"    of a figure: top authors, 30 days   median {ms:6.1f} ms  max {worst:6.1f} ms")
        ms, worst, waiting = median_ms(lambda: backlog_now(engine), args.runs)
        print(f"    of a figure: the backlog now        median {ms:6.1f} ms  max {worst:6.1f} ms   "
              f"{waiting.waiting:,} waiting")  # type: ignore[attr-defined]
        engine.dispose()
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--days", type=int, default=60,
                        help="the posts are spread over this many days before now (default 60; 365: a year's million)")
    parser.add_argument("--runs", type=int, default=5, help="timed runs of each (after one warm-up); median printed")
    parser.add_argument("--only", choices=("sqlite", "postgresql"), help="one database instead of both")
    parser.add_argument("--keep", action="store_true",
                        help=f"keep the seeded SQLite file under {CACHE} and reuse it on the next run")
    add_json_option(parser)
    args = parser.parse_args(argv)
    print(f"code: {code_version()}")
    print(f"{os.cpu_count()} CPUs, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} "
          "(other work on the machine skews the figures)")
    table: list[tuple[str, str, float, float]] = []
    if args.only in (None, "sqlite"):
        table += [("SQLite", *r) for r in run("sqlite", lambda: sqlite_url(args.posts, args.seed, args.keep, args.days), args)]
    if args.only in (None, "postgresql"):
        table += [("PostgreSQL", *r) for r in run("postgresql", postgres_url, args)]
    print(f"\n{args.posts:,} posts over {args.days} days, team time zone {TEAM_TZ.key}, median of {args.runs} runs\n")
    print("| what | database | goal | measured |\n|---|---|---:|---:|")
    for backend, what, goal, ms in table:
        print(f"| {what} | {backend} | ≤ {goal / 1000:.0f} s | {ms / 1000:.2f} s |")
    keys = {"/social stats 30d": "stats_30d_s", "digest for a week (+ the week before)": "digest_week_s"}
    figures: dict[str, dict[str, float]] = {}
    for backend, what, _goal, ms in table:
        figures.setdefault(backend.lower(), {})[keys[what]] = ms / 1000
    write_json(args.json, {**figures, "posts": args.posts, "days": args.days})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
