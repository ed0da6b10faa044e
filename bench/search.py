"""`/social search` latency and digest figures over a large store.

Seeds N posts over a year, one case each (plus notes on 1 in 10 cases and replies on 1
in 20), and each case's history as the app writes it (opened; claimed, replied or marked
replied, resolved or ignored by a handful of agents; an SLA breach on slow answers), with
bulk executemany INSERTs straight through the driver (the search triggers and indexes of
migrations 0004 and 0007 are in place, so seeding pays for indexing as ingest would).
Then times `store.search.search` for 200 queries (common words, rare words, two-word
queries, filtered queries) and `store.figures.figures` for the last day, the last week
and 30 days (what the digests and `/social stats` compute) in the team's time zone.
Prints seed time and median / p95 per kind. Figures only; nothing here asserts a time.

    python bench/search.py                       # 200,000 posts, SQLite in a temp file
    python bench/search.py --posts 1000000
    python bench/search.py --postgres            # on a throwaway PostgreSQL server
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # tests.support

from sqlalchemy import Engine  # noqa: E402

from bench._report import add_json_option, write_json  # noqa: E402

from zoneinfo import ZoneInfo  # noqa: E402

from socialdesk.search_query import parse  # noqa: E402
from socialdesk.store.figures import figures, period  # noqa: E402
from socialdesk.store.db import make_engine, session_scope, upgrade  # noqa: E402
from socialdesk.store.rules import add_rule  # noqa: E402
from socialdesk.store.search import search  # noqa: E402

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
BATCH = 10_000
AUTHORS = 20_000
COMMON = ["phone", "battery", "screen", "charger", "update", "support", "broken", "refund", "acme", "help"]
FILLER = ("my the is it and on for since after with this again still not working why does every time "
          "just got new old please fix today yesterday week month store app camera wifi bluetooth").split()
STATUSES = ["new", "new", "new", "claimed", "replied", "resolved", "ignored", "reopened"]
AGENTS = [f"UAGENT{i:02d}" for i in range(8)]
TEAM_TZ = ZoneInfo("Europe/Berlin")
SLA = timedelta(hours=2)


def history(i: int, status: str, created: datetime, rng: random.Random) -> tuple[list[tuple], datetime | None]:
    """(kind, actor, at, payload) events for a case in `status`, and its first response time."""
    events = [("opened", "system", created, "{}")]
    first_response = None
    if status == "new":
        return events, None
    agent = rng.choice(AGENTS)
    claimed = created + timedelta(minutes=rng.uniform(1, 90))
    if status == "ignored":
        return events + [("ignored", agent, claimed, '{"reason": "spam"}')], None
    events.append(("claimed", agent, claimed, "{}"))
    if status in ("replied", "resolved", "reopened"):
        first_response = claimed + timedelta(minutes=rng.uniform(1, 120))
        if first_response - created > SLA:
            events.append(("sla_breached", "system", created + SLA, "{}"))
        events.append(("reply_sent" if rng.random() < 0.8 else "marked_replied", agent, first_response, "{}"))
    if status in ("resolved", "reopened"):
        events.append(("resolved", agent, first_response + timedelta(hours=rng.uniform(0.1, 30)), "{}"))
    if status == "reopened":
        events.append(("reopened", "system", first_response + timedelta(hours=31), "{}"))
    return events, first_response


def rare_word(i: int) -> str:
    return f"zx{i:06d}q"  # about three posts each


def post_text(rng: random.Random, n_posts: int) -> str:
    words = rng.choices(FILLER, k=rng.randint(6, 18))
    words += rng.sample(COMMON, k=rng.randint(1, 3))
    words.append(rare_word(rng.randrange(max(1, n_posts // 3))))
    rng.shuffle(words)
    return " ".join(words)


@contextmanager
def database(postgres: bool) -> Iterator[str]:
    if postgres:
        from tests.support.postgres import postgres_server

        with postgres_server() as url:
            yield url
        return
    with tempfile.TemporaryDirectory(prefix="socialdesk-search-bench-") as tmp:
        yield f"sqlite:///{tmp}/bench.db"


def seed(engine: Engine, n_posts: int, rng: random.Random) -> dict[str, int]:
    sqlite = engine.dialect.name == "sqlite"
    ph = "?" if sqlite else "%s"
    as_json = "" if sqlite else "::json"

    def when(dt: datetime) -> object:
        return dt.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f") if sqlite else dt

    with session_scope(engine) as session:
        rule_ids = [add_rule(session=session, network="x", query=f"acme {i}", channel_id="C1", every_seconds=60,
                             lang=None, include_reposts=False, now=NOW).id for i in range(5)]

    counts = {"posts": n_posts, "notes": 0, "replies": 0, "events": 0}
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()

        def begin() -> None:
            if sqlite:  # the engine's connections run pysqlite in autocommit mode
                cur.execute("BEGIN")

        def many(sql: str, rows: list[tuple]) -> None:
            if rows:
                cur.executemany(sql.replace("?", ph), rows)

        begin()
        many("INSERT INTO authors (id, network, external_id, handle, name, followers, verified, updated_at) "
             "VALUES (?, 'x', ?, ?, ?, ?, false, ?)",
             [(a, f"u{a}", f"user{a}", f"User {a}", a % 5000, when(NOW)) for a in range(1, AUTHORS + 1)])
        raw.commit()
        event_id = reply_id = 0
        span = timedelta(days=365).total_seconds()
        for start in range(1, n_posts + 1, BATCH):
            cases, posts, events, replies = [], [], [], []
            begin()
            for i in range(start, min(start + BATCH, n_posts + 1)):
                created = NOW - timedelta(seconds=span * (1 - i / n_posts) + rng.random() * 60)
                author = rng.randint(1, AUTHORS)
                status = rng.choice(STATUSES)
                lifecycle, first_response = history(i, status, created, rng)
                for kind, actor, at, payload in lifecycle:
                    event_id += 1
                    events.append((event_id, i, kind, actor, when(at), payload))
                cases.append((i, rng.choice(rule_ids), i, "x", f"c{i}", status, "C1", f"1700000000.{i:06d}",
                              when(created), when(created), author,
                              when(first_response) if first_response else None, rng.uniform(-1, 1)))
                posts.append((i, f"{i}", f"https://x.com/user{author}/status/{i}", author, post_text(rng, n_posts),
                              when(created), when(created), f"c{i}", i, rng.choice(rule_ids)))
                if i % 10 == 0:
                    counts["notes"] += 1
                    event_id += 1
                    note = {"text": f"note: customer on plan {rng.choice(['A', 'B', 'C'])} "
                                    f"{rng.choice(COMMON)} {rare_word(rng.randrange(max(1, n_posts // 3)))}"}
                    events.append((event_id, i, "note", "UAGENT", when(created + timedelta(minutes=5)), json.dumps(note)))
                if i % 20 == 0:
                    reply_id += 1
                    replies.append((reply_id, i, f"k{reply_id}", "UAGENT",
                                    f"Sorry about the {rng.choice(COMMON)}, please DM us", "sent",
                                    when(created + timedelta(minutes=10))))
            many("INSERT INTO cases (id, rule_id, first_post_id, network, conversation_id, status, priority, channel_id, "
                 "message_ts, publish_failures, opened_at, updated_at, version, customer_author_id, "
                 "first_response_at, sentiment) "
                 "VALUES (?, ?, ?, ?, ?, ?, 'normal', ?, ?, 0, ?, ?, 1, ?, ?, ?)", cases)
            many("INSERT INTO posts (id, network, external_id, url, author_id, text, created_at, fetched_at, "
                 "conversation_id, is_repost, is_reply, case_id, rule_id) "
                 "VALUES (?, 'x', ?, ?, ?, ?, ?, ?, ?, false, false, ?, ?)", posts)
            many(f"INSERT INTO case_events (id, case_id, kind, actor, at, payload) VALUES (?, ?, ?, ?, ?, ?{as_json})",
                 events)
            many("INSERT INTO replies (id, case_id, key, agent, text, status, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                 replies)
            raw.commit()
        counts.update(events=event_id, replies=reply_id)
        if not sqlite:
            for table in ("authors", "cases", "posts", "case_events", "replies"):
                cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
            raw.commit()
            old_autocommit = raw.driver_connection.autocommit
            raw.driver_connection.autocommit = True
            cur.execute("VACUUM ANALYZE")
            raw.driver_connection.autocommit = old_autocommit
        else:
            cur.execute("ANALYZE")
            raw.commit()
    finally:
        raw.close()
    return counts


def timed(engine: Engine, queries: list[str]) -> tuple[list[float], list[int]]:
    latencies, totals = [], []
    for text in queries:
        query = parse(text)
        started = time.perf_counter()
        with session_scope(engine) as session:
            page = search(session=session, query=query, now=NOW, limit=10)
        latencies.append((time.perf_counter() - started) * 1000)
        totals.append(page.total if page.total is not None else -1)  # -1: a full page from a window, not counted
    return latencies, totals


def report(label: str, latencies: list[float], totals: list[int]) -> dict[str, float]:
    ordered = sorted(latencies)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * len(ordered))) - 1)]
    print(f"  {label:<28} n={len(latencies):>3}  median {statistics.median(latencies):8.1f} ms   "
          f"p95 {p95:8.1f} ms   max {ordered[-1]:8.1f} ms   {matches(totals)}")
    return {"median_ms": statistics.median(latencies), "p95_ms": p95, "max_ms": ordered[-1]}


def matches(totals: list[int]) -> str:
    counted = [t for t in totals if t >= 0]
    windowed = len(totals) - len(counted)
    shown = f"cases/query ~{statistics.median(counted):,.0f}" if counted else ""
    return shown + (f"{', ' if shown else ''}{windowed} answered from a time window (total not counted)"
                    if windowed else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--posts", type=int, default=200_000)
    parser.add_argument("--postgres", action="store_true", help="a throwaway PostgreSQL server instead of SQLite")
    parser.add_argument("--seed", type=int, default=7)
    add_json_option(parser)
    args = parser.parse_args()
    rng = random.Random(args.seed)

    with database(args.postgres) as url:
        engine = make_engine(url)
        upgrade(engine)
        started = time.perf_counter()
        counts = seed(engine, args.posts, rng)
        seconds = time.perf_counter() - started
        print(f"{engine.dialect.name}: seeded {counts['posts']:,} posts + cases, {counts['events']:,} case events "
              f"({counts['notes']:,} notes), {counts['replies']:,} replies in {seconds:.1f} s "
              f"({counts['posts'] / seconds:,.0f} posts/s)")

        n_rare = max(1, args.posts // 3)
        groups: dict[str, Callable[[], str]] = {
            "common word": lambda: rng.choice(COMMON),
            "rare word": lambda: rare_word(rng.randrange(n_rare)),
            "two common words": lambda: " ".join(rng.sample(COMMON, 2)),
            "common + status/since": lambda: f"{rng.choice(COMMON)} status:claimed since:30d",
            "filters only (from:)": lambda: f"from:@user{rng.randint(1, AUTHORS)}",
        }
        weights = {"common word": 70, "rare word": 70, "two common words": 20, "common + status/since": 20,
                   "filters only (from:)": 20}  # 200 queries in all
        timed(engine, [rng.choice(COMMON) for _ in range(5)])  # warm caches
        print(f"/social search latency ({sum(weights.values())} queries, limit 10):")
        everything: list[float] = []
        kinds: dict[str, dict[str, float]] = {}
        for label, make in groups.items():
            latencies, totals = timed(engine, [make() for _ in range(weights[label])])
            everything += latencies
            kinds[label] = report(label, latencies, totals)
        overall = report("all", everything, [])
        time_figures(engine)
        engine.dispose()
    write_json(args.json, {"database": "postgresql" if args.postgres else "sqlite", "posts": counts["posts"],
                           "seed_s": seconds, **overall, "kinds": kinds})


def time_figures(engine: Engine, runs: int = 5) -> None:
    """store.figures for the digests' last day and last week, and 30 days (`/social stats 30d`)."""
    print(f"digest figures (store.figures, {TEAM_TZ.key}, {runs} runs each):")
    day, week = period("day", now=NOW, tz=TEAM_TZ), period("week", now=NOW, tz=TEAM_TZ)
    for label, (start, end) in [("day", day), ("week", week), ("30 days", (NOW - timedelta(days=30), NOW))]:
        latencies, result = [], None
        try:
            for _ in range(runs):
                started = time.perf_counter()
                with session_scope(engine) as session:
                    result = figures(session=session, start=start, end=end, tz=TEAM_TZ)
                latencies.append((time.perf_counter() - started) * 1000)
        except Exception as exc:  # noqa: BLE001 - a figure that fails is a finding, not the end of the bench
            print(f"  {label:<28} FAILED: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}")
            continue
        assert result is not None
        print(f"  {label:<28} median {statistics.median(latencies):8.1f} ms   max {max(latencies):8.1f} ms   "
              f"opened {result.opened:,}, replied {result.replied:,}, resolved {result.resolved:,}, "
              f"SLA breaches {result.sla_breached:,}")


if __name__ == "__main__":
    main()
