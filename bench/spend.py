"""The spend meter against a hand count of what a local X served, over a recorded run.

A run is a list of posts (when, who, what) over a few simulated days and the rules that
poll them: overlapping searches (a post found by two rules is billed once a UTC day),
the brand's mentions (post and user reads: read with the bearer token), a rule added with
--backfill on the second day (it reads old posts again, billed again on a new day), and
customers who post every day (their user reads are billed once a day). The run is made from a seed, or read from a file
written earlier (`--save`, `--replay`): the same run gives the same figures.

The poller (the app's, with its meter) polls each rule every interval of simulated time
against FakeX (socialdesk.networks.x.fake) on a real SQLite file. An httpx response hook
beside it is the hand count: every resource in every 200 answer of search and mentions,
as (UTC day of the simulated clock, kind, id), and every page's parameters. Printed: the
meter's reads and dollars by kind against the hand count (the difference in %), and the
pages that came back with posts more than once (asked twice with the same parameters) and
the posts a rule read twice: both 0 when no page is read twice. Figures only; nothing is
asserted.

    python bench/spend.py                      # 3 days, 2,400 posts, 6 rules
    python bench/spend.py --days 5 --posts 6000 --save run.json
    python bench/spend.py --replay run.json
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench._report import add_json_option, write_json  # noqa: E402

import httpx  # noqa: E402

from socialdesk.jobs.poll import Poller  # noqa: E402
from socialdesk.networks.base import Network  # noqa: E402
from socialdesk.networks.x import network as x  # noqa: E402
from socialdesk.networks.x.fake.server import FakeX  # noqa: E402
from socialdesk.networks.x.mentions import XMentionsSource  # noqa: E402
from socialdesk.networks.x.billing import POST_READ, USER_READ  # noqa: E402
from socialdesk.networks.x.search import SEARCH_PATH, XSource  # noqa: E402
from socialdesk.networks.x.settings import XSettings  # noqa: E402
from socialdesk.spend import Meter  # noqa: E402
from socialdesk.store import rules as rule_store  # noqa: E402
from socialdesk.store import spend as spend_store  # noqa: E402
from socialdesk.store.db import make_engine, session_scope, upgrade  # noqa: E402
from socialdesk.store.models import PostRow  # noqa: E402
from sqlalchemy import func  # noqa: E402
from sqlmodel import select  # noqa: E402

START = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)  # a Monday morning: the run crosses midnights UTC
TOKEN = "bench-bearer"
BRAND = "acmephones"
PRODUCTS = ("phone", "battery", "screen", "charger", "case")
PROBLEMS = ("is broken", "will not charge", "cracked again", "arrived late", "needs a refund", "works great")
SEARCHES = ("acme phone", "acme battery", "acme", "refund", "acme screen OR acme charger")


class SimClock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


def make_run(seed: int, days: int, posts: int, customers: int, every_minutes: int) -> dict[str, Any]:
    """The recorded run: posts with their times (seconds from START), authors and texts; the rules."""
    rng = random.Random(seed)
    span = days * 86400
    made = []
    regulars = [f"cust{i}" for i in range(max(1, customers // 10))]  # post every day: one user read a day each
    for n in range(posts):
        who = rng.choice(regulars) if rng.random() < 0.3 else f"cust{rng.randrange(customers)}"
        product = rng.choice(PRODUCTS)
        text = f"my acme {product} {rng.choice(PROBLEMS)} #{n}"
        if rng.random() < 0.15:
            text = f"@{BRAND} " + text  # a mention of the brand
        if rng.random() < 0.1:
            text = f"I want a refund for order {n}"
        made.append({"at": rng.uniform(0, span), "username": who, "text": text})
    made.sort(key=lambda p: p["at"])
    rules = [{"kind": "search", "query": q, "from": 0, "backfill": False} for q in SEARCHES]
    rules.append({"kind": "mentions", "query": "", "from": 0, "backfill": False})
    # Added on the second morning with --backfill: walks what search still has (read again, a new day).
    rules.append({"kind": "search", "query": "acme case", "from": 86400 + 3 * 3600, "backfill": True})
    return {"seed": seed, "days": days, "every_seconds": every_minutes * 60, "posts": made, "rules": rules}


class HandCount:
    """What FakeX served, counted by hand from the raw answers (not through socialdesk's parsing)."""

    def __init__(self, clock: SimClock, mentions_path: str) -> None:
        self.clock, self.mentions_path = clock, mentions_path
        self.seen: set[tuple[str, str, str]] = set()  # (day, kind, resource id)
        self.pages: Counter[tuple[str, tuple]] = Counter()  # pages that came back with posts, by their parameters
        self.served: Counter[str] = Counter()  # resources in answers, repeats included
        self.per_rule: Counter[tuple[str, str, str]] = Counter()  # (path, query, post id): a rule reading a post
        self.requests = 0

    def __call__(self, response: httpx.Response) -> None:
        path = response.request.url.path
        if response.status_code != 200 or path not in (SEARCH_PATH, self.mentions_path):
            return
        response.read()
        body = response.json()
        self.requests += 1
        day = self.clock().date().isoformat()
        posts = [str(t["id"]) for t in body.get("data") or []]
        users = [str(u["id"]) for u in (body.get("includes") or {}).get("users") or []]
        if posts:
            params = tuple(sorted((k, v) for k, v in response.request.url.params.multi_items()))
            self.pages[(path, params)] += 1
            query = response.request.url.params.get("query", "")  # each rule's query differs: it names the rule
            for post_id in posts:
                self.per_rule[(path, query, post_id)] += 1
        # Mentions read with the app's bearer token are post and user reads, as search's are (X prices owned
        # reads only for the authenticated owner's own token: refs/x/docs/pricing.mdx).
        for kind, ids in ((POST_READ, posts), (USER_READ, users)):
            for i in ids:
                self.served[kind] += 1
                self.seen.add((day, kind, i))

    def by_kind(self) -> Counter[str]:
        return Counter(kind for _, kind, _ in self.seen)


def play(run: dict[str, Any], db: str, page_size: int) -> dict[str, Any]:
    clock = SimClock(START)
    settings = XSettings()
    billing = x.billing(settings)
    engine = make_engine(db)
    upgrade(engine)
    with FakeX(bearer_token=TOKEN, own_username=BRAND) as fake:
        mentions_path = f"/2/users/{fake.own_user['id']}/mentions"
        # X's 15-minute windows are wall-clock time; days pass here in a minute: no window is spent.
        for path in (SEARCH_PATH, mentions_path):
            fake.set_rate_limit(path, 10**9)
        hand = HandCount(clock, mentions_path)
        http = httpx.Client(timeout=10, event_hooks={"response": [hand]})
        sources = {"search": XSource(http=http, api_url=fake.url, bearer_token=TOKEN, page_size=page_size),
                   "mentions": XMentionsSource(http=http, api_url=fake.url, bearer_token=TOKEN, page_size=page_size)}
        networks = {"x": Network(info=x.INFO, sources=sources, billing=billing)}
        meter = Meter(networks)
        poller = Poller(engine=engine, networks=networks, own_handles=frozenset({BRAND}), clock=clock, meter=meter)
        rules: list[int] = []
        pending = list(run["rules"])
        queue = list(run["posts"])
        every = timedelta(seconds=run["every_seconds"])
        end = START + timedelta(days=run["days"])
        polls, began = 0, time.perf_counter()
        while clock.now <= end:
            offset = (clock.now - START).total_seconds()
            while queue and queue[0]["at"] <= offset:
                post = queue.pop(0)
                fake.post(username=post["username"], text=post["text"])
            for spec in [r for r in pending if r["from"] <= offset]:
                pending.remove(spec)
                with session_scope(engine) as session:
                    query = spec["query"] or f"user:{fake.own_user['id']}"
                    rules.append(rule_store.add_rule(
                        session=session, network="x", kind=spec["kind"], query=query, channel_id="C1",
                        every_seconds=run["every_seconds"], lang=None, include_reposts=True, now=clock.now,
                        backfill=spec["backfill"]).id)
            for rule_id in rules:
                poller.poll_rule(rule_id)
                polls += 1
            clock.now += every
        wall = time.perf_counter() - began
        with session_scope(engine) as session:
            rows = spend_store.spent(session=session, start=START.date(), end=end.date() + timedelta(days=1))
            stored = session.exec(select(func.count()).select_from(PostRow)).one()
        http.close()
    engine.dispose()
    metered: Counter[str] = Counter()
    cost: Counter[str] = Counter()
    for row in rows:
        metered[row.kind] += row.reads
        cost[row.kind] += row.cost
    counted = hand.by_kind()
    kinds = sorted(set(metered) | set(counted))
    hand_cost = {k: counted[k] * billing.rates[k] for k in kinds}
    figures: dict[str, Any] = {
        "polls": polls, "requests": hand.requests, "wall_s": round(wall, 1), "posts_made": len(run["posts"]),
        "posts_stored": int(stored),
        "kinds": {k: {"metered": metered[k], "hand_count": counted[k], "served_with_repeats": hand.served[k],
                      "metered_dollars": round(cost[k], 4), "hand_dollars": round(hand_cost[k], 4)} for k in kinds},
        "metered_dollars": round(sum(cost.values()), 4),
        "hand_dollars": round(sum(hand_cost.values()), 4),
        "pages_read_twice": sum(1 for n in hand.pages.values() if n > 1),
        "pages_with_posts": len(hand.pages),
        "posts_a_rule_read_twice": sum(1 for n in hand.per_rule.values() if n > 1),
    }
    hand_total = figures["hand_dollars"]
    figures["difference_percent"] = (round(100 * abs(figures["metered_dollars"] - hand_total) / hand_total, 3)
                                     if hand_total else 0.0)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=3, help="simulated days of the run (default 3)")
    parser.add_argument("--posts", type=int, default=2400, help="posts over the run (default 2400)")
    parser.add_argument("--customers", type=int, default=300, help="accounts posting (default 300)")
    parser.add_argument("--every", type=int, default=30, metavar="MINUTES",
                        help="each rule's poll interval in simulated minutes (default 30)")
    parser.add_argument("--page-size", type=int, default=20, help="posts per page (default 20: walks of several pages)")
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--save", type=Path, metavar="FILE", help="write the run to FILE (JSON) before playing it")
    parser.add_argument("--replay", type=Path, metavar="FILE", help="play a run written by --save")
    add_json_option(parser)
    args = parser.parse_args()
    run = (json.loads(args.replay.read_text()) if args.replay else
           make_run(args.seed, args.days, args.posts, args.customers, args.every))
    if args.save:
        args.save.write_text(json.dumps(run))
    with tempfile.TemporaryDirectory() as tmp:
        figures = play(run, f"sqlite:///{Path(tmp) / 'spend.db'}", args.page_size)
    print(f"run: {len(run['posts'])} posts over {run['days']} simulated days, {len(run['rules'])} rules polled every "
          f"{run['every_seconds'] // 60} min: {figures['polls']} polls, {figures['requests']} answers "
          f"({figures['wall_s']} s); {figures['posts_stored']:,} of the {figures['posts_made']:,} posts stored")
    print(f"{'kind':8} {'metered':>9} {'hand count':>11} {'served':>8} {'metered $':>10} {'hand $':>9}")
    for kind, f in figures["kinds"].items():
        print(f"{kind:8} {f['metered']:>9,} {f['hand_count']:>11,} {f['served_with_repeats']:>8,} "
              f"{f['metered_dollars']:>10.3f} {f['hand_dollars']:>9.3f}")
    print(f"total: metered ${figures['metered_dollars']:.3f}, hand count ${figures['hand_dollars']:.3f}: "
          f"{figures['difference_percent']}% apart (goal: within 1%)")
    print(f"pages with posts: {figures['pages_with_posts']}, read twice: {figures['pages_read_twice']}; "
          f"posts a rule read twice: {figures['posts_a_rule_read_twice']}")
    write_json(args.json, figures)


if __name__ == "__main__":
    main()
