"""`socialdesk export` throughput and memory over a large store.

Seeds N cases (default 100,000) with bulk INSERTs: one post each, a follow-up from the
customer on 1 in 4, a sent reply on 1 in 3, a note on 1 in 5, tags on 1 in 2, ten rules.
Then writes every case to a temp file as JSONL, CSV and Markdown, and JSONL again with
--redact, printing records/s for each; then one more JSONL pass under tracemalloc for
the peak Python heap of the export (tracemalloc slows that pass; its time is not
reported), and the process's peak RSS. Figures only; nothing here asserts a time.

    python bench/export.py                  # 100,000 cases, SQLite in a temp file
    python bench/export.py --cases 1000000
    python bench/export.py --postgres       # on a throwaway PostgreSQL server
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # tests.support

from sqlalchemy import Engine, insert  # noqa: E402

from socialdesk import export  # noqa: E402
from socialdesk.store.db import make_engine, session_scope, upgrade  # noqa: E402
from socialdesk.store.models import AuthorRow, CaseEventRow, CaseRow, PostRow, ReplyRow, RuleRow  # noqa: E402

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
BATCH = 10_000
AUTHORS = 20_000
TEXT = ("my acme phone will not charge since the update, tried two cables and a new charger, "
        "call me on +44 20 7946 0958 or mail dana+acme@example.co.uk @acmephones #{i}")


def seed(engine: Engine, cases: int) -> None:
    with session_scope(engine) as session:
        session.execute(insert(RuleRow), [dict(id=r, network="x", query=f"acme query {r}", channel_id="C1",
                                               created_at=NOW) for r in range(1, 11)])
        session.execute(insert(AuthorRow), [dict(id=a, network="x", external_id=f"u{a}", handle=f"user_{a}",
                                                 name=f"User {a}", updated_at=NOW) for a in range(1, AUTHORS + 1)])
    post_id = 0
    for start in range(1, cases + 1, BATCH):
        ids = range(start, min(cases, start + BATCH - 1) + 1)
        rows_cases, rows_posts, rows_replies, rows_notes = [], [], [], []
        for i in ids:
            author = i % AUTHORS + 1
            opened = NOW - timedelta(minutes=cases - i)
            replied = i % 3 == 0
            rows_cases.append(dict(
                id=i, network="x", conversation_id=str(10**12 + i), status="resolved" if replied else "new",
                channel_id="C1", rule_id=i % 10 + 1, opened_at=opened, updated_at=opened, first_post_id=post_id + 1,
                customer_author_id=author, priority="normal", version=1, publish_failures=0,
                tags=["charging", "hardware"] if i % 2 else None, assignee="UAGENT01" if replied else None,
                first_response_at=opened + timedelta(minutes=20) if replied else None,
                resolved_at=opened + timedelta(hours=1) if replied else None))
            for n in range(2 if i % 4 == 0 else 1):
                post_id += 1
                rows_posts.append(dict(
                    id=post_id, network="x", external_id=str(10**15 + post_id), author_id=author,
                    url=f"https://x.com/user_{author}/status/{10**15 + post_id}", text=TEXT.format(i=i),
                    created_at=opened + timedelta(minutes=n), fetched_at=opened, conversation_id=str(10**12 + i),
                    case_id=i, is_repost=False, is_reply=n > 0))
            if replied:
                rows_replies.append(dict(case_id=i, key=f"r{i}", agent="UAGENT01", status="sent", via="api",
                                         text="Sorry to hear that! Hold power for 10 s, then DM us.",
                                         url=f"https://x.com/acmephones/status/{2 * 10**15 + i}",
                                         created_at=opened, sent_at=opened + timedelta(minutes=20)))
            if i % 5 == 0:
                rows_notes.append(dict(case_id=i, kind="note", actor="UAGENT02", at=opened,
                                       payload={"text": "customer is on plan B"}))
        with session_scope(engine) as session:
            session.execute(insert(CaseRow), rows_cases)
            session.execute(insert(PostRow), rows_posts)
            if rows_replies:
                session.execute(insert(ReplyRow), rows_replies)
            if rows_notes:
                session.execute(insert(CaseEventRow), rows_notes)


@contextmanager
def database(postgres: bool, workdir: Path) -> Iterator[Engine]:
    if postgres:
        from tests.support.postgres import postgres_server

        with postgres_server() as url:
            engine = make_engine(url)
            yield engine
            engine.dispose()
        return
    engine = make_engine(f"sqlite:///{workdir}/bench.db")
    yield engine
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=export.DEFAULT_BATCH)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    print(f"commit {commit or '?'} · load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with tempfile.TemporaryDirectory(prefix="socialdesk-bench-") as tmp, database(args.postgres, Path(tmp)) as engine:
        upgrade(engine)
        started = time.perf_counter()
        seed(engine, args.cases)
        print(f"{engine.dialect.name}: seeded {args.cases:,} cases in {time.perf_counter() - started:.1f} s")
        flt = export.ExportFilter()
        for fmt, redacted in (("jsonl", False), ("csv", False), ("md", False), ("jsonl", True)):
            path = Path(tmp) / f"out.{fmt}"
            started = time.perf_counter()
            with path.open("w", encoding="utf-8", newline="") as out:
                count = export.export(engine=engine, flt=flt, fmt=fmt, out=out, redacted=redacted,
                                      keep_handles={"acmephones"}, batch=args.batch)
            seconds = time.perf_counter() - started
            assert count == args.cases, count
            label = fmt + (" --redact" if redacted else "")
            print(f"  {label:<15} {count / seconds:>9,.0f} records/s  ({seconds:.1f} s, "
                  f"{path.stat().st_size / 2**20:,.0f} MiB)")
        tracemalloc.start()
        with open(os.devnull, "w", encoding="utf-8") as out:
            export.export(engine=engine, flt=flt, fmt="jsonl", out=out, batch=args.batch)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(f"  peak Python heap during a JSONL export: {peak / 2**20:.1f} MiB (tracemalloc)")
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"  peak RSS of this process (seeding included): {rss:.0f} MiB")


if __name__ == "__main__":
    main()
