"""What the metrics cost: one scrape of /metrics with many rules, and one recorded event.

Seeds a migrated SQLite database (or the one `--database-url` names) with `--rules` active
rules, each polled once, and `--waiting` cases without a card, records a poll's worth of
events for every rule, then scrapes the registry `--scrapes` times through the same WSGI
app `/metrics` uses (the scrape reads the rules' last polls and counts the cards waiting).
Prints the scrape's median and p95 in milliseconds, its size, and the cost of one counter
increment and one histogram observation in microseconds. Figures only; nothing here
asserts a time.

    python bench/metrics.py                    # 1,000 rules, 500 cards waiting, 200 scrapes
    python bench/metrics.py --rules 5000
    python bench/metrics.py --database-url postgresql+psycopg://…   # an empty database of yours
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # tests.support

from socialdesk.metrics import Metrics, watch_state  # noqa: E402
from socialdesk.store import rules as rule_store  # noqa: E402
from socialdesk.store.db import make_engine, session_scope, upgrade  # noqa: E402
from socialdesk.store.ingest import store_posts  # noqa: E402
from tests.support.factories import x_post  # noqa: E402
from bench._report import add_json_option, write_json  # noqa: E402


class NoStreams:
    def leases(self) -> dict[int, bool]:
        return {}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rules", type=int, default=1000, help="active rules (default 1000)")
    parser.add_argument("--waiting", type=int, default=500, help="cases without a card (default 500)")
    parser.add_argument("--scrapes", type=int, default=200, help="scrapes timed (default 200)")
    parser.add_argument("--events", type=int, default=200_000, help="counter increments timed (default 200,000)")
    parser.add_argument("--database-url", help="an empty database to seed (default: a temporary SQLite file)")
    add_json_option(parser)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="socialdesk-bench-metrics-") as workdir:
        engine = make_engine(args.database_url or f"sqlite:///{Path(workdir) / 'bench.db'}")
        upgrade(engine)
        now = datetime.now(UTC)
        with session_scope(engine) as session:
            ids = [rule_store.add_rule(session=session, network="x", query=f"acme {i}", channel_id="C1",
                                       every_seconds=60, lang=None, include_reposts=False,
                                       now=now - timedelta(hours=1)).id for i in range(args.rules)]
            for rule_id in ids:
                rule_store.save_cursor(session=session, rule_id=rule_id, cursor={"since_id": "1"}, not_before=None,
                                       now=now - timedelta(seconds=30))
            store_posts(session=session, posts=[x_post(f"acme waiting {i}") for i in range(args.waiting)],
                        rule_id=ids[0] if ids else None, channel_id="C1", now=now)

        metrics = Metrics()
        watch_state(metrics, engine=engine, clock=lambda: datetime.now(UTC), poller=NoStreams(), streams=[])
        for rule_id in ids:  # every rule's series exists, as after a round of polls
            metrics.fetched("x", rule_id, 10, via="poll")
            metrics.matched("x", rule_id, 3, via="poll")
            metrics.opened("x", rule_id, 1)
        app = metrics.wsgi()
        environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/metrics", "QUERY_STRING": "", "wsgi.url_scheme": "http",
                   "SERVER_NAME": "bench", "SERVER_PORT": "80"}

        def scrape() -> bytes:
            return b"".join(app(dict(environ), lambda status, headers: None))

        body = scrape()
        times = []
        for _ in range(args.scrapes):
            started = time.perf_counter()
            scrape()
            times.append(time.perf_counter() - started)
        engine.dispose()

    times.sort()
    counter_us = _per_call(lambda: metrics.fetched("x", 1, 1, via="poll"), args.events)
    histogram_us = _per_call(lambda: metrics.acked("http", 0.01), args.events)
    figures = {
        "rules": args.rules, "waiting": args.waiting, "scrapes": args.scrapes,
        "database": "given" if args.database_url else "sqlite",
        "scrape_p50_ms": statistics.median(times) * 1000, "scrape_p95_ms": times[int(0.95 * (len(times) - 1))] * 1000,
        "scrape_kib": len(body) / 1024, "counter_us": counter_us, "histogram_us": histogram_us,
    }
    print(f"/metrics with {args.rules:,} rules and {args.waiting:,} cards waiting ({figures['database']}): "
          f"scrape p50 {figures['scrape_p50_ms']:.1f} ms, p95 {figures['scrape_p95_ms']:.1f} ms, "
          f"{figures['scrape_kib']:,.0f} KiB")
    print(f"recording: {counter_us:.2f} µs per counter increment, {histogram_us:.2f} µs per histogram observation")
    write_json(args.json, figures)
    return 0


def _per_call(call, count: int) -> float:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    for _ in range(count):
        call()
    return (time.perf_counter() - started) / count * 1e6


if __name__ == "__main__":
    raise SystemExit(main())
