"""Ingest throughput: normalize → match against 100 rules → store.

Builds X API v2 recent-search response pages in memory (100 tweets a page, with
`includes.users`, exactly as FakeX answers the query XSource sends), then runs each
page through the pipeline the poll job runs:

1. normalize: `sources.x.parse_search_body(page)` (JSON decoding is not timed);
2. match: `rules.rejection(post, filters)` for each of 100 rules' Filters, per post;
3. store: one transaction per page holding `store.ingest.store_posts` for the posts
   at least one rule accepts, plus `store.rules.save_cursor`, as `Poller._store` does.

Prints posts/second for each stage and overall, and the process's peak RSS.
Figures only; nothing here asserts a time.

    python bench/ingest.py                      # 20,000 posts on SQLite
    python bench/ingest.py --posts 20000 --postgres   # also on a throwaway PostgreSQL
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # tests.support.postgres

from sqlalchemy import func  # noqa: E402
from sqlmodel import select  # noqa: E402

from socialdesk.rules import Filters, rejection  # noqa: E402
from socialdesk.networks.x.fake.server import FakeX  # noqa: E402
from socialdesk.networks.x.search import TWEET_FIELDS, USER_FIELDS, parse_search_body  # noqa: E402
from socialdesk.store.db import make_engine, session_scope, upgrade, utcnow  # noqa: E402
from socialdesk.store.ingest import store_posts  # noqa: E402
from socialdesk.store.models import CaseRow, PostRow  # noqa: E402
from socialdesk.store.rules import add_rule, save_cursor  # noqa: E402

PAGE_SIZE = 100
RULES = 100
AUTHORS = 2_000
OWN_HANDLE = "acmephones"
# Roughly what a brand's search returns: mostly English, a tail of other languages.
LANGS = (["en"] * 60) + (["es"] * 15) + (["fr"] * 8) + (["de"] * 6) + (["ja"] * 4) + (["pt"] * 4) + (["und"] * 3)
RULE_LANGS = [None, "en", "es", "fr", "de", "ja", "pt"]
PHRASES = {
    "en": ["my Acme phone won't charge since the update",
           "@acmephones battery drains in 3 hours &amp; support chat keeps timing out",
           "Loving the new Acme X2 camera, night mode is unreal",
           "acme phone screen cracked after one drop &lt;sigh&gt; is that covered?",
           "Anyone else's Acme stuck on the boot logo? #acmefail",
           "@acmephones when is the Android 15 update coming to the X1?",
           "switched from another brand to Acme, 10/10 would recommend",
           "Acme store said 2 weeks for a repair. Two weeks!!"],
    "es": ["mi teléfono Acme no enciende desde ayer", "@acmephones ¿cuándo llega la actualización al X1?"],
    "fr": ["mon téléphone Acme redémarre tout seul, une idée ?"],
    "de": ["Mein Acme Handy wird beim Laden sehr heiß"],
    "ja": ["Acmeのスマホ、充電が遅すぎる"],
    "pt": ["meu celular Acme não liga depois da atualização"],
    "und": ["@acmephones 😡😡😡", "📱💥 #acme"],
}
LINKS = ["https://acme.example/support/ticket/{i}", "https://www.youtube.com/watch?v=acme{i}",
         "https://imgur.com/a/acme{i}"]


# --- building X-shaped pages --------------------------------------------------------

def search_params() -> dict[str, str]:
    """The query string XSource sends (sources/x.py), as FakeX reads it."""
    return {"query": "acme phone", "max_results": str(PAGE_SIZE), "expansions": "author_id",
            "tweet.fields": TWEET_FIELDS, "user.fields": USER_FIELDS}


def build_pages(n_posts: int, seed: int = 7) -> list[dict]:
    """`n_posts` tweets as X search pages, newest page first (the order a walk reads them)."""
    rng = random.Random(seed)
    fake = FakeX(own_username=OWN_HANDLE)  # never started: only its post() and page builder are used
    try:
        users = [f"cust_{i:04d}" for i in range(AUTHORS)]
        for name in users:
            fake.add_user(username=name, name=name.replace("_", " ").title(),
                          followers=int(rng.paretovariate(1.2) * 50), verified=rng.random() < 0.04)
        start = datetime.now(UTC) - timedelta(seconds=3 * n_posts)
        ids: list[str] = []
        for i in range(n_posts):
            when = start + timedelta(seconds=3 * i + rng.random())
            author = OWN_HANDLE if rng.random() < 0.01 else rng.choice(users)
            roll = rng.random()
            lang = rng.choice(LANGS)
            words = rng.choice(PHRASES[lang])
            if rng.random() < 0.2:
                words += " " + rng.choice(LINKS).format(i=i)
            if ids and roll < 0.08:  # a retweet: X builds its text from the original
                made = fake.post(username=author, text="", retweet_of=rng.choice(ids[-500:]), created_at=when)
            elif ids and roll < 0.20:  # a reply in someone's thread
                made = fake.post(username=author, text=f"@{rng.choice(users)} {words}", lang=lang,
                                 in_reply_to=rng.choice(ids[-500:]), created_at=when)
            elif roll < 0.24:  # a long post (note_tweet)
                made = fake.post(username=author, text="", long_text=" ".join([words] * 8), lang=lang,
                                 created_at=when)
            else:
                made = fake.post(username=author, text=words, lang=lang, created_at=when)
            ids.append(made["id"])
        newest_first = [post for _, post in fake._newest_first()]
        params = search_params()
        pages = []
        for at in range(0, len(newest_first), PAGE_SIZE):
            # One post past the page makes FakeX add `meta.next_token`, as X does mid-walk.
            window = newest_first[at: at + PAGE_SIZE + 1]
            pages.append(fake._page(window, params, PAGE_SIZE, "next_token"))
        return pages
    finally:
        fake.stop()


# --- the pipeline ---------------------------------------------------------------------

@dataclass
class Result:
    backend: str
    posts: int = 0
    accepted: int = 0
    stored: int = 0
    evaluations: int = 0
    seconds: dict[str, float] = field(default_factory=lambda: {"normalize": 0.0, "match": 0.0, "store": 0.0})
    wall: float = 0.0
    rows: tuple[int, int] = (0, 0)


def make_rules(engine) -> list[tuple[int, str, Filters]]:  # type: ignore[no-untyped-def]
    """100 saved searches, each with its own Filters (language, reposts, own handles)."""
    rules = []
    with session_scope(engine) as session:
        for i in range(RULES):
            lang = RULE_LANGS[i % len(RULE_LANGS)]
            reposts = i % 2 == 1
            channel = f"C0BENCH{i:03d}"
            row = add_rule(session=session, network="x", query=f"acme phone {i}", channel_id=channel,
                           every_seconds=60, lang=lang, include_reposts=reposts, now=utcnow())
            # Every rule skips our own account; each also knows a regional account of its own.
            own = frozenset({OWN_HANDLE, f"acme_region{i:03d}"})
            rules.append((row.id, channel, Filters(lang=lang, include_reposts=reposts, own_handles=own)))
    return rules


def run(backend: str, url: str, pages: list[dict]) -> Result:
    engine = make_engine(url)
    try:
        upgrade(engine)
        rules = make_rules(engine)
        result = Result(backend)
        clock = time.perf_counter
        began = clock()
        for number, page in enumerate(pages):
            t0 = clock()
            posts, meta, _warnings = parse_search_body(page)
            t1 = clock()
            accepted = []
            for post in posts:
                # Every rule is checked (each would open its own case), not just the first that fits.
                matched = [rule_id for rule_id, _channel, filters in rules if rejection(post, filters) is None]
                if matched:
                    accepted.append(post)
            t2 = clock()
            # The page was fetched by one rule's walk; its posts open cases in that rule's channel.
            rule_id, channel, _ = rules[number % RULES]
            now = utcnow()
            with session_scope(engine) as session:
                case_ids = store_posts(session=session, posts=accepted, rule_id=rule_id, channel_id=channel, now=now)
                cursor = {"since_id": None, "next_token": meta.get("next_token"), "pending_newest_id": meta.get("newest_id")}
                save_cursor(session=session, rule_id=rule_id, cursor=cursor, not_before=None, now=now)
            t3 = clock()
            result.posts += len(posts)
            result.accepted += len(accepted)
            result.stored += len(case_ids)
            result.evaluations += len(posts) * len(rules)
            result.seconds["normalize"] += t1 - t0
            result.seconds["match"] += t2 - t1
            result.seconds["store"] += t3 - t2
        result.wall = clock() - began
        with session_scope(engine) as session:
            result.rows = (session.exec(select(func.count()).select_from(PostRow)).one(),
                           session.exec(select(func.count()).select_from(CaseRow)).one())
        return result
    finally:
        engine.dispose()


# --- reporting ------------------------------------------------------------------------

def code_version() -> str:
    """The commit measured, and whether src/ had uncommitted changes."""
    def git(*a: str) -> str:
        return subprocess.run(["git", *a], cwd=REPO, capture_output=True, text=True).stdout.strip()

    head = git("rev-parse", "--short", "HEAD") or "unknown"
    return head + (" + uncommitted changes in src/" if git("status", "--porcelain", "--", "src") else "")


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def report(result: Result) -> None:
    s = result.seconds
    total = sum(s.values())
    print(f"\n== {result.backend}: {result.posts:,} posts in {result.posts // PAGE_SIZE:,} pages, {RULES} rules ==")
    print(f"  normalize  {result.posts / s['normalize']:>10,.0f} posts/s   ({s['normalize']:.2f} s)")
    print(f"  match      {result.posts / s['match']:>10,.0f} posts/s   ({s['match']:.2f} s; "
          f"{result.evaluations / s['match']:,.0f} rule checks/s)")
    print(f"  store      {result.posts / s['store']:>10,.0f} posts/s   ({s['store']:.2f} s; "
          f"{result.accepted:,} accepted, {result.stored:,} cases opened, "
          f"{result.stored / s['store']:,.0f} cases/s)")
    print(f"  overall    {result.posts / total:>10,.0f} posts/s   ({total:.2f} s in the stages, {result.wall:.2f} s wall)")
    posts, cases = result.rows
    # A stored post opens a case or, when it continues a case's conversation, joins it.
    print(f"  rows       posts={posts:,} cases={cases:,} (so {posts - cases:,} posts joined existing cases)")
    print(f"  peak RSS   {peak_rss_mib():,.0f} MiB (whole process so far)")
    if cases != result.stored or posts != result.accepted:
        print(f"  WARNING: {result.accepted:,} posts accepted and {result.stored:,} cases opened, "
              f"but the tables hold {posts:,} posts and {cases:,} cases", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=20_000, help="posts to ingest (100 a page; default 20,000)")
    parser.add_argument("--postgres", action="store_true",
                        help="after SQLite, run again on a throwaway PostgreSQL (tests/support/postgres.py)")
    args = parser.parse_args(argv)

    print(f"code: {code_version()}")
    print(f"{os.cpu_count()} CPUs, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} "
          "(other work on the machine skews the figures)")
    t = time.perf_counter()
    pages = build_pages(args.posts)
    n = sum(len(p.get("data", [])) for p in pages)
    users = sum(len(p.get("includes", {}).get("users", [])) for p in pages)
    print(f"built {len(pages):,} X search pages ({n:,} tweets, {users:,} includes.users entries) "
          f"in {time.perf_counter() - t:.1f} s; peak RSS {peak_rss_mib():,.0f} MiB")

    with tempfile.TemporaryDirectory(prefix="socialdesk-bench-") as tmp:
        report(run("sqlite", f"sqlite:///{Path(tmp) / 'bench.db'}", pages))
    if args.postgres:
        from tests.support.postgres import postgres_server

        with postgres_server() as url:
            report(run("postgresql", url, pages))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
