"""Ingest throughput: normalize → match against 100 rules → store (with triage).

Builds X API v2 recent-search response pages in memory (100 tweets a page, with
`includes.users`, exactly as FakeX answers the query XSource sends), then runs each
page through the pipeline the poll job runs:

1. normalize: `sources.x.parse_search_body(page)` (JSON decoding is not timed);
2. match: `rules.rejection(post, filters)` for each of 100 rules' Filters, per post;
3. store: the rule's triage (`Poller._scores`) of the posts at least one rule accepts,
   then one transaction per page holding `store.ingest.store_page` for them (storms
   joined as incidents, the default 2-hour window) plus `store.rules.save_cursor`, as
   `PageStore.store` (jobs/poll_pages.py) does; SQLite's log is checkpointed by
   `store.checkpoint.WalCheckpointer` in the background, as in `socialdesk run`.

Then the rows the store wrote (authors, cases, posts) are written again, page by page,
with a plain core `executemany` per table into a fresh database of the same schema: the
ratio of the two says how close the store is to what the database can take, a figure
that means something on a machine shared with other work.

Prints posts/second for each stage, overall (wall and CPU), the ratio, and the peak RSS.
Figures only; nothing here asserts a time.

    python bench/ingest.py                      # 20,000 posts on SQLite
    python bench/ingest.py --posts 20000 --postgres   # also on a throwaway PostgreSQL
"""

from __future__ import annotations

import argparse
import gc
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

from sqlalchemy import func, insert, text  # noqa: E402
from sqlmodel import select  # noqa: E402

from bench._report import add_json_option, write_json  # noqa: E402
from socialdesk.jobs.poll import Poller  # noqa: E402
from socialdesk.networks.x.fake.server import FakeX  # noqa: E402
from socialdesk.networks.x.parse import parse_search_body  # noqa: E402
from socialdesk.networks.x.search import TWEET_FIELDS, USER_FIELDS  # noqa: E402
from socialdesk.rules import Filters, rejection  # noqa: E402
from socialdesk.store.checkpoint import WalCheckpointer  # noqa: E402
from socialdesk.store.db import make_engine, session_scope, upgrade, utcnow  # noqa: E402
from socialdesk.store.ingest import store_page  # noqa: E402
from socialdesk.store.models import AuthorRow, CaseRow, IncidentRow, PostRow, RuleRow  # noqa: E402
from socialdesk.store.rules import add_rule, save_cursor  # noqa: E402
from socialdesk.store.search_index import index_posts  # noqa: E402
from socialdesk.triage.sentiment import Triage  # noqa: E402

PAGE_SIZE = 100
INCIDENT_WINDOW = timedelta(hours=2)  # SOCIALDESK_INCIDENT_WINDOW's default: the poller joins storms as it stores
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
    cpu_stage: dict[str, float] = field(default_factory=lambda: {"normalize": 0.0, "match": 0.0, "store": 0.0})
    triage: float = 0.0  # of the store's seconds, scoring the posts it stored (Poller._scores)
    scored: int = 0
    wall: float = 0.0
    cpu: float = 0.0
    plain: float = 0.0  # seconds for the same rows by plain executemany (0: not measured)
    rows: tuple[int, int] = (0, 0)
    indexed: int | None = None  # posts in SQLite's full-text index (each stored post once)


def make_rules(engine) -> list[tuple[object, Filters]]:  # type: ignore[no-untyped-def]
    """100 saved searches, each with its own Filters (language, reposts, own handles) and triage."""
    rules = []
    with session_scope(engine) as session:
        for i in range(RULES):
            lang = RULE_LANGS[i % len(RULE_LANGS)]
            reposts = i % 2 == 1
            row = add_rule(session=session, network="x", query=f"acme phone {i}", channel_id=f"C0BENCH{i:03d}",
                           every_seconds=60, lang=lang, include_reposts=reposts, now=utcnow(),
                           priority_keywords=["refund", "two weeks"] if i % 3 == 0 else None,
                           priority_followers=5_000 if i % 2 == 0 else None)
            # Every rule skips our own account; each also knows a regional account of its own.
            own = frozenset({OWN_HANDLE, f"acme_region{i:03d}"})
            rules.append((row, Filters(lang=lang, include_reposts=reposts, own_handles=own)))
    return rules


def run(backend: str, url: str, pages: list[dict], plain_url: str) -> Result:
    engine = make_engine(url)
    try:
        upgrade(engine)
        rules = make_rules(engine)
        # The poll job's own scoring: VADER and the rule's priority settings, per stored post.
        poller = Poller(engine=engine, networks={}, own_handles=frozenset({OWN_HANDLE}), clock=utcnow,
                        triage=Triage())
        result = Result(backend)
        clock = time.perf_counter

        def scorer(rule, guessed, now):  # type: ignore[no-untyped-def]
            def scores(posts):  # type: ignore[no-untyped-def]
                t = clock()
                scored = poller._scores(rule, posts, guessed=guessed, now=now)
                result.triage += clock() - t
                result.scored += len(posts)
                return scored
            return scores

        checkpointer = WalCheckpointer(engine)  # as `socialdesk run` does (app.Socialdesk.start)
        checkpointer.start()
        began, cpu = clock(), time.process_time()
        for number, page in enumerate(pages):
            t0, c0 = clock(), time.process_time()
            posts, meta, _warnings = parse_search_body(page)
            t1, c1 = clock(), time.process_time()
            posts, guessed = poller._languages(posts)  # before the filters, as Poller._walk does
            accepted = []
            for post in posts:
                # Every rule is checked (each would open its own case), not just the first that fits.
                matched = [rule for rule, filters in rules if rejection(post, filters) is None]
                if matched:
                    accepted.append(post)
            t2, c2 = clock(), time.process_time()
            # The page was fetched by one rule's walk; its posts open cases in that rule's channel.
            rule, _ = rules[number % RULES]
            now = utcnow()
            scores = scorer(rule, guessed, now)(accepted)  # before the transaction, as PageStore.store does
            with session_scope(engine) as session:
                stored = store_page(session=session, posts=accepted, rule_id=rule.id, channel_id=rule.channel_id,
                                    now=now, own_handles=frozenset({OWN_HANDLE}), scores=scores,
                                    incident_window=INCIDENT_WINDOW)
                cursor = {"since_id": None, "next_token": meta.get("next_token"), "pending_newest_id": meta.get("newest_id")}
                save_cursor(session=session, rule_id=rule.id, cursor=cursor, not_before=None, now=now)
            t3, c3 = clock(), time.process_time()
            for stage, seconds in (("normalize", c1 - c0), ("match", c2 - c1), ("store", c3 - c2)):
                result.cpu_stage[stage] += seconds
            result.posts += len(posts)
            result.accepted += len(accepted)
            result.stored += len(stored.new_case_ids)
            result.evaluations += len(posts) * len(rules)
            result.seconds["normalize"] += t1 - t0
            result.seconds["match"] += t2 - t1
            result.seconds["store"] += t3 - t2
        result.wall = clock() - began
        result.cpu = time.process_time() - cpu
        checkpointer.stop()
        with session_scope(engine) as session:
            result.rows = (session.exec(select(func.count()).select_from(PostRow)).one(),
                           session.exec(select(func.count()).select_from(CaseRow)).one())
            if backend == "sqlite":
                result.indexed = session.execute(text("SELECT count(*) FROM search_index WHERE doc_kind = 'post'")).scalar()
        result.plain = plain_executemany(engine, plain_url)
        return result
    finally:
        engine.dispose()


def plain_executemany(engine, url: str) -> float:  # type: ignore[no-untyped-def]
    """Seconds to write the rows the store wrote (authors, cases, posts) into a fresh database
    of the same schema (triggers included, and the posts' full-text index), a page per
    transaction, one core executemany per table: a floor for the store on this machine,
    measured in the same run (the store also writes each case's `opened` event and looks
    up known posts, authors and conversations)."""
    tables = (AuthorRow.__table__, CaseRow.__table__, PostRow.__table__)
    with engine.connect() as conn:
        rows = {t.name: [_aware(dict(r)) for r in conn.execute(select(t).order_by(t.c.id)).mappings()]
                for t in (*tables, RuleRow.__table__, IncidentRow.__table__)}
    first_page: dict[int, object] = {}  # each author goes in with the page that stored its first post
    pages: dict[object, dict[str, list[dict]]] = {}
    for post in rows["posts"]:
        first_page.setdefault(post["author_id"], post["fetched_at"])
        pages.setdefault(post["fetched_at"], {t.name: [] for t in tables})["posts"].append(post)
    for author in rows["authors"]:
        if author["id"] in first_page:
            pages[first_page[author["id"]]]["authors"].append(author)
    for case in rows["cases"]:
        pages[case["opened_at"]]["cases"].append(case)
    target = make_engine(url)
    try:
        upgrade(target)
        with target.begin() as conn:  # the cases' rules, not timed
            conn.execute(insert(RuleRow.__table__), rows["rules"])
            if rows["incidents"]:  # the cases point at theirs
                conn.execute(insert(IncidentRow.__table__), rows["incidents"])
        clock = time.perf_counter
        began = clock()
        for page in pages.values():
            with session_scope(target) as session:
                conn = session.connection()
                for table in tables:
                    if page[table.name]:
                        conn.execute(insert(table), page[table.name])
                # The posts into the full-text index, as the store does (SQLite; no trigger since 0015).
                index_posts(session=session, post_ids=[post["id"] for post in page["posts"]])
        return clock() - began
    finally:
        target.dispose()


def _aware(row: dict) -> dict:
    """SQLite gives naive datetimes back; the columns take aware UTC ones."""
    return {k: v.replace(tzinfo=UTC) if isinstance(v, datetime) and v.tzinfo is None else v for k, v in row.items()}


# --- reporting ------------------------------------------------------------------------

def code_version() -> str:
    """The commit measured, and whether src/ had uncommitted changes."""
    def git(*a: str) -> str:
        return subprocess.run(["git", *a], cwd=REPO, capture_output=True, text=True).stdout.strip()

    head = git("rev-parse", "--short", "HEAD") or "unknown"
    return head + (" + uncommitted changes in src/" if git("status", "--porcelain", "--", "src") else "")


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def report(result: Result) -> dict[str, float]:
    """Print the figures; the main ones for bench/run.py."""
    s, c, n = result.seconds, result.cpu_stage, result.posts
    total = sum(s.values())
    print(f"\n== {result.backend}: {n:,} posts in {n // PAGE_SIZE:,} pages, {RULES} rules ==")
    print("  stage          posts/s   posts per CPU s")
    print(f"  normalize  {n / s['normalize']:>10,.0f}  {n / c['normalize']:>10,.0f}   ({s['normalize']:.2f} s)")
    print(f"  match      {n / s['match']:>10,.0f}  {n / c['match']:>10,.0f}   ({s['match']:.2f} s; "
          f"{result.evaluations / s['match']:,.0f} rule checks/s)")
    print(f"  store      {n / s['store']:>10,.0f}  {n / c['store']:>10,.0f}   ({s['store']:.2f} s; "
          f"{result.accepted:,} accepted, {result.stored:,} cases opened, {result.stored / s['store']:,.0f} cases/s)")
    if result.scored:
        print(f"   (triage   {n / result.triage:>10,.0f}               {result.triage:.2f} s of the store's; "
              f"{result.scored:,} posts scored, {result.triage / result.scored * 1e6:.1f} µs each)")
    print(f"  overall    {n / total:>10,.0f}  {n / result.cpu:>10,.0f}   ({total:.2f} s in the stages, "
          f"{result.wall:.2f} s wall)")
    if result.plain:
        print(f"  plain      {n / result.plain:>10,.0f}               ({result.plain:.2f} s: the same rows by plain "
              f"executemany)\n  ratio      store {result.plain / s['store']:.2f} x plain, overall {result.plain / total:.2f} x plain")
    posts, cases = result.rows
    # A stored post opens a case or, when it continues a case's conversation, joins it.
    print(f"  rows       posts={posts:,} cases={cases:,} (so {posts - cases:,} posts joined existing cases)"
          + (f"; {result.indexed:,} posts in the full-text index" if result.indexed is not None else ""))
    print(f"  peak RSS   {peak_rss_mib():,.0f} MiB (whole process so far)")
    if cases != result.stored or posts != result.accepted or result.indexed not in (None, posts):
        print(f"  WARNING: {result.accepted:,} posts accepted and {result.stored:,} cases opened, "
              f"but the tables hold {posts:,} posts and {cases:,} cases"
              + (f" and the index {result.indexed:,} posts" if result.indexed is not None else ""), file=sys.stderr)
    return {"overall_posts_per_s": n / total, "overall_posts_per_cpu_s": n / result.cpu,
            "store_posts_per_s": n / s["store"], "ratio_to_executemany": result.plain / total if result.plain else 0.0,
            "posts": n}


def plain_database(url: str) -> str:
    """A second database on the same PostgreSQL server, for the plain executemany."""
    import psycopg
    from sqlalchemy.engine import make_url

    from tests.support.postgres import admin_conninfo

    with psycopg.connect(admin_conninfo(url), autocommit=True) as conn:
        conn.execute('CREATE DATABASE "bench_plain"')
    return make_url(url).set(database="bench_plain").render_as_string(hide_password=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=20_000, help="posts to ingest (100 a page; default 20,000)")
    parser.add_argument("--postgres", action="store_true",
                        help="after SQLite, run again on a throwaway PostgreSQL (tests/support/postgres.py)")
    add_json_option(parser)
    args = parser.parse_args(argv)

    print(f"code: {code_version()}")
    print(f"{os.cpu_count()} CPUs, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} "
          "(other work on the machine skews the figures)")
    t = time.perf_counter()
    pages = build_pages(args.posts)
    # The pages are input built before timing, as a fetch would hand them over one at a time:
    # kept out of the garbage collector's way, or each collection would walk all of them.
    gc.collect()
    gc.freeze()
    n = sum(len(p.get("data", [])) for p in pages)
    users = sum(len(p.get("includes", {}).get("users", [])) for p in pages)
    print(f"built {len(pages):,} X search pages ({n:,} tweets, {users:,} includes.users entries) "
          f"in {time.perf_counter() - t:.1f} s; peak RSS {peak_rss_mib():,.0f} MiB")

    figures = {}
    with tempfile.TemporaryDirectory(prefix="socialdesk-bench-") as tmp:
        figures["sqlite"] = report(run("sqlite", f"sqlite:///{Path(tmp) / 'bench.db'}", pages,
                                       f"sqlite:///{Path(tmp) / 'plain.db'}"))
    if args.postgres:
        from tests.support.postgres import postgres_server

        with postgres_server() as url:
            figures["postgresql"] = report(run("postgresql", url, pages, plain_database(url)))
    write_json(args.json, figures)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
