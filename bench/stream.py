"""Recorded Jetstream events replayed through the matcher and the store, then event → card latency.

Two parts (figures only; nothing here asserts a time):

1. Matching throughput, one core, in process. N Jetstream commit messages shaped like the
   captured post event in fake/golden_v1.jsonl (`post_commit`, same keys), 1,000 rules in
   socialdesk's query language (bench/match.py's generator, with Bluesky handles). Times
   the stream worker's path per message, `decode_message` → `target_of` → `RuleIndex.match`,
   then each stage alone; then stores the matched posts through `Poller.store_matches`
   on a temp SQLite database, twice (the second time as a replay: at-least-once delivery).
2. Event → card latency, end to end: the Slack emulator (npx emulate), a FakeBluesky and a
   FakeJetstream (in a child process, with a recording proxy in front of the emulator), and
   the app in this process (`app.build` + `desk.start()`). M matching posts over K channels'
   rules at a steady rate plus background chatter; each card's arrival at Slack is matched
   to its post by text.

    python bench/stream.py                   # 100,000 messages x 1,000 rules; 200 cards over 20 channels
    python bench/stream.py --skip-latency    # part 1 only
    python bench/stream.py --cards 500 --rate 10 --chatter 400
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import hashlib
import json
import logging
import os
import random
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # tests.support, bench.match

from sqlalchemy import func  # noqa: E402
from sqlmodel import col, select  # noqa: E402

from bench._latency import (Collect, RecordingProxy, ask, code_version, log_findings, percentile, start_fakes,  # noqa: E402
                            stop_fakes, wait_until)
from bench._report import add_json_option, write_json  # noqa: E402
from bench.match import CJK_POSTS, COMPLAINTS, EMOJI, EVERYDAY, SPANISH, brand_names  # noqa: E402
from socialdesk.domain import Author  # noqa: E402
from socialdesk.jobs.poll import Poller  # noqa: E402
from socialdesk.matcher import RuleIndex, parse, target_of  # noqa: E402
from socialdesk.networks.bluesky.fake.jetstream import golden_events, post_commit  # noqa: E402
from socialdesk.networks.bluesky.jetstream import decode_message  # noqa: E402
from socialdesk.store.db import make_engine, session_scope, upgrade, utcnow  # noqa: E402
from socialdesk.store.models import CaseRow, PostRow, RuleRow  # noqa: E402
from socialdesk.store.rules import add_rule  # noqa: E402

BRAND, PASSWORD = "acmephones.bsky.social", "bench-app-password"
ORDER0 = 70_000  # matching post i says "order {ORDER0 + i}": how its card is found
CARD_WAIT = 30.0  # seconds after the last post for the last card
CUSTOMERS = 200


def shape(value: Any) -> Any:
    """The keys of a JSON value, recursively (lists by their first item)."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return type(value).__name__


# --- part 1: rules and messages -------------------------------------------------------

def build_rules(rng: random.Random, brands: list[str], count: int) -> list[str]:
    """bench/match.py's rules, with Bluesky handles (`@brand.bsky.social`)."""
    texts: list[str] = []
    for number, brand in enumerate(brands):
        product = f"{brand} {rng.choice(['phone', 'app', 'tablet', 'camera', 'account'])}"
        texts += [
            f"{brand} ({' OR '.join(rng.sample(COMPLAINTS, 3))} OR \"not working\") -giveaway -#ad",
            f"\"{product}\" OR #{brand}fail OR @{brand}.bsky.social",
            f"{brand} (roto OR reembolso OR ayuda) lang:es",
            f"@{brand}help.bsky.social -from:{brand}help.bsky.social",
        ]
        if number % 10 == 0:
            texts.append(f"{brand} (故障 OR 坏了 OR 壊れ)")
    texts[:2] = ["lang:ja -spam", "lang:zh -广告"]  # nothing to index by: checked on every post
    return texts[:count]


def did_for(name: str) -> str:
    return "did:plc:" + hashlib.sha256(name.encode()).hexdigest()[:24]


def build_messages(rng: random.Random, brands: list[str], count: int, brand_share: float
                   ) -> tuple[list[str], dict[str, str]]:
    """`count` post commit messages (JSON text as Jetstream sends it) and DID → handle."""
    weights = [1 / rank for rank in range(1, len(EVERYDAY) + 1)]
    handles = [f"user{i}.bsky.social" for i in range(5_000)] + [f"{b}help.bsky.social" for b in brands[:20]]
    dids = {h: did_for(h) for h in handles}
    start_us = golden_events()[1]["time_us"]
    messages = []
    for i in range(count):
        roll = rng.random()
        if roll < 0.05:
            lang = rng.choice(["ja", "zh"])
            words = [rng.choice(CJK_POSTS)]
        elif roll < 0.15:
            lang, words = "es", rng.choices(SPANISH, k=rng.randint(8, 25))
        else:
            lang, words = "en", rng.choices(EVERYDAY, weights, k=rng.randint(12, 38))
        if rng.random() < brand_share:
            brand = rng.choice(brands)
            words.insert(rng.randrange(len(words) + 1),
                         rng.choice([brand, brand.title(), f"@{brand}.bsky.social", f"#{brand}fail",
                                     f"@{brand}help.bsky.social"]))
            if rng.random() < 0.4:
                words.insert(rng.randrange(len(words) + 1), rng.choice(COMPLAINTS + ["not working"]))
        if rng.random() < 0.1:
            words.append(f"@{rng.choice(handles)}")
        if rng.random() < 0.2:
            words.insert(rng.randrange(len(words) + 1), rng.choice(EMOJI))
        text = " ".join(words)
        text = (text[0].upper() + text[1:] + rng.choice(["", ".", "!", "!!", "?"]))[:300]
        handle = rng.choice(handles)
        did, rkey, time_us = dids[handle], f"3mm{i:010d}", start_us + i * 50
        reply = None
        if rng.random() < 0.3:  # a reply in someone else's thread (each its own thread: no follow-ups)
            other = did_for(f"thread{i}")
            reply = (f"at://{other}/app.bsky.feed.post/3mr{i:010d}", "bafyrei" + f"{rng.getrandbits(200):052x}"[:52])
        created = datetime.fromtimestamp(time_us / 1e6, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        event = post_commit(did, rkey, text, time_us=time_us, reply_to=reply, langs=(lang,), created_at=created)
        if rng.random() < 0.1:  # a shortened link, as the Bluesky app writes it
            record = event["commit"]["record"]
            start = len(record["text"].encode()) + 1
            record["text"] += " example.com/support/t..."
            record["facets"] = [{"index": {"byteStart": start, "byteEnd": len(record["text"].encode())},
                                 "features": [{"$type": "app.bsky.richtext.facet#link",
                                               "uri": "https://example.com/support/ticket/12345"}]}]
        messages.append(json.dumps(event, ensure_ascii=False, separators=(",", ":")))
    return messages, {did: handle for handle, did in dids.items()}


def throughput(args: argparse.Namespace, problems: list[str], findings: list[str]) -> None:
    rng = random.Random(11)
    brands = brand_names(rng, max(250, args.rules // 4))
    clock = time.perf_counter
    t = clock()
    texts = build_rules(rng, brands, args.rules)
    rules = [(i, parse(text)) for i, text in enumerate(texts)]
    index = RuleIndex(rules)
    prepared = clock() - t
    t = clock()
    messages, handles = build_messages(rng, brands, args.posts, brand_share=0.03)
    built = clock() - t
    size = sum(len(m.encode()) for m in messages) / len(messages)
    print(f"\n== part 1: {len(messages):,} Jetstream post commits x {len(rules):,} rules, one core ==")
    print(f"  {len(rules):,} rules parsed and indexed in {prepared * 1000:.0f} ms "
          f"({len(index.always_checked)} with nothing to index by); messages built in {built:.1f} s, "
          f"{size:.0f} bytes on average")
    recorded = next(e for e in golden_events() if (e.get("commit") or {}).get("collection") == "app.bsky.feed.post")
    replies = [json.loads(m) for m in messages[:200] if '"reply":' in m and '"facets":' not in m]
    if not replies or shape(replies[0]) != shape(recorded):
        problems.append(f"generated messages are not shaped like the recorded post event: "
                        f"{shape(replies[0]) if replies else 'no reply generated'} vs {shape(recorded)}")
    else:
        print("  shape: a generated reply has exactly the keys of the recorded post event (golden_v1.jsonl)")

    # As the stream worker runs: decode one message, match its post, let it go.
    matched: list[tuple[Any, list[int]]] = []
    matches = 0
    match, cpu = index.match, time.process_time
    gc.collect()
    t, c = clock(), cpu()
    for raw in messages:
        decoded = decode_message(raw)
        if decoded.post is not None:
            found = match(target_of(decoded.post))
            if found:
                matches += len(found)
                matched.append((decoded.post, found))
    stream, stream_cpu = clock() - t, cpu() - c
    n = len(messages)
    evaluated = index.stats.evaluated

    # Each stage alone. The inputs of a stage are built beforehand and frozen, so the garbage
    # collector does not walk 100,000 live posts or targets, which a stream worker never holds.
    gc.collect()
    t = clock()
    for raw in messages:
        decode_message(raw)
    decode = clock() - t
    posts = [decode_message(raw).post for raw in messages]
    gc.collect()
    gc.freeze()
    t = clock()
    for post in posts:
        target_of(post)  # type: ignore[arg-type]
    prepare = clock() - t
    targets = [target_of(post) for post in posts]  # type: ignore[arg-type]
    gc.collect()
    gc.freeze()
    t = clock()
    for target in targets:
        match(target)
    match_only = clock() - t
    gc.unfreeze()
    del posts, targets
    gc.collect()

    print(f"  decode + match              {n / stream:>10,.0f} messages/s   {stream / n * 1e6:6.1f} µs each "
          f"(message by message, as the stream worker)")
    print(f"    per CPU second            {n / stream_cpu:>10,.0f} messages/s   ({stream:.2f} s wall, {stream_cpu:.2f} s "
          "CPU: wall above CPU means other work had the core)")
    print(f"    decode_message only       {n / decode:>10,.0f} messages/s   {decode / n * 1e6:6.1f} µs each")
    print(f"    target_of only            {n / prepare:>10,.0f} posts/s      {prepare / n * 1e6:6.1f} µs each")
    print(f"    RuleIndex.match only      {n / match_only:>10,.0f} posts/s      {match_only / n * 1e6:6.1f} µs each")
    print(f"  rules evaluated per post    {evaluated / n:>10.2f}   (of {len(rules):,})")
    print(f"  matches                     {matches:>10,}   ({len(matched):,} posts matched a rule, "
          f"{len(matched) / n:.1%})")

    # An event names its author by DID only: the stream worker matches `from:` rules with the handle
    # it looked up for that DID when the rules were loaded (jobs/stream_rules.StreamRules.match; tested
    # in tests/jobs/test_stream.py). Here the event's empty handle is matched, which costs the same.

    store(args, texts, matched, handles, problems)


def store(args: argparse.Namespace, texts: list[str], matched: list[tuple[Any, list[int]]],
          handles: dict[str, str], problems: list[str]) -> None:
    """The matched posts through the stream worker's store path, then all of them again (a replay)."""
    workdir = Path(tempfile.mkdtemp(prefix="socialdesk-stream-store-"))
    try:
        engine = make_engine(f"sqlite:///{workdir / 'store.db'}")
        upgrade(engine)
        now = utcnow()
        with session_scope(engine) as session:
            rows = {i: add_rule(session=session, network="bluesky", query=text, channel_id=f"C{i % 50:08d}",
                                every_seconds=60, lang=None, include_reposts=False, now=now)
                    for i, text in enumerate(texts)}
        poller = Poller(engine=engine, networks={}, own_handles=frozenset(), clock=utcnow)
        # What `stream.complete` does before storing: the author's profile instead of a bare DID.
        completed = [(dataclasses.replace(post, author=Author(network="bluesky", external_id=post.author.external_id,
                                                              handle=handles[post.author.external_id],
                                                              name=handles[post.author.external_id].split(".")[0])),
                      found) for post, found in matched]
        figures = []
        for label in ("first delivery", "replayed"):
            opened: list[int] = []
            t = time.perf_counter()
            for post, found in completed:
                for rule_id in found:
                    opened += poller.store_matches(rows[rule_id], [post])
            seconds = time.perf_counter() - t
            figures.append((label, seconds, opened))
        with session_scope(engine) as session:
            post_count = session.exec(select(func.count()).select_from(PostRow)).one()
            case_count = session.exec(select(func.count()).select_from(CaseRow)).one()
            cases_per_post = Counter(session.exec(select(PostRow.case_id)).all())
        engine.dispose()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    distinct = len({post.external_id for post, _ in matched})
    print(f"\n  store on SQLite (Poller.store_matches per matched rule, as jobs/stream.py does; "
          f"{sum(len(f) for _, f in matched):,} calls for {distinct:,} posts)")
    for label, seconds, opened in figures:
        print(f"    {label:<16} {distinct / seconds:>8,.0f} posts/s   {len(opened):,} cases opened "
              f"({seconds:.2f} s, {seconds / distinct * 1000:.2f} ms per post)")
    first, replay = figures[0][2], figures[1][2]
    shared = [cid for cid, k in cases_per_post.items() if cid is not None and k > 1]
    ok = len(first) == distinct and len(set(first)) == distinct and not replay and post_count == distinct \
        and case_count == distinct and not shared and None not in cases_per_post
    print(f"    check: {post_count:,} posts and {case_count:,} cases stored for {distinct:,} matched posts; "
          f"replay opened {len(replay)}" + ("" if ok else "  <- WRONG"))
    if not ok:
        problems.append(f"store: expected one case per matched post ({distinct}), got {len(first)} opened "
                        f"({len(set(first))} distinct), {post_count} posts, {case_count} cases, {len(shared)} cases "
                        f"with several posts, {len(replay)} opened on replay")


# --- part 2: the child process (fakes, load, recording proxy) -------------------------

CARD_TEXTS = [
    "my {brand} phone is broken again, order {order} 😡",
    "{Brand} support please help, order {order} still not working",
    "waiting two weeks for a refund from {brand} (order {order})",
    "screen cracked on day one. {brand} order {order}, is it covered?",
]


def card_rule(brand: str) -> str:
    # No OR: the app polls each new rule once with Bluesky search, which refuses OR.
    return f"{brand} -giveaway -#ad"


def fakes_main(conn: Any, emulator_api: str, brands: list[str], cards: int, rate: float, chatter: float) -> None:
    """The child process: FakeBluesky + FakeJetstream + the recording proxy; makes the posts on command."""
    from socialdesk.networks.bluesky.fake.jetstream import FakeJetstream
    from socialdesk.networks.bluesky.fake.pds import FakeBluesky

    pds = FakeBluesky(brand_handle=BRAND, brand_password=PASSWORD).start()
    jetstream = FakeJetstream(golden=True).start()
    unsubscribe = pds.world.subscribe(jetstream.publish)
    proxy = RecordingProxy(emulator_api)
    customers = [pds.world.add_account(f"cust{i}.bsky.social", f"Customer {i}", followers=10 * i)
                 for i in range(CUSTOMERS)]
    conn.send({"pds": pds.url, "jetstream": jetstream.url, "slack": proxy.url})
    rng = random.Random(5)
    weights = [1 / rank for rank in range(1, len(EVERYDAY) + 1)]
    noise = [" ".join(rng.choices(EVERYDAY, weights, k=rng.randint(8, 30))) for _ in range(1_000)]
    try:
        while True:
            command = conn.recv()
            if command == "live":
                conn.send(jetstream.live_connections)
            elif command == "calls":
                conn.send((list(proxy.cards), dict(proxy.methods)))
            elif command == "run":
                conn.send(make_posts(pds, jetstream, customers, brands, cards, rate, chatter, noise, rng))
            elif command == "stop":
                break
    finally:
        unsubscribe()
        proxy.close()
        jetstream.stop()
        pds.stop()


def make_posts(pds: Any, jetstream: Any, customers: list[str], brands: list[str], cards: int, rate: float,
               chatter: float, noise: list[str], rng: random.Random) -> dict[str, Any]:
    """Matching posts every 1/rate s (through the fake world: a PDS post, then its Jetstream
    event) and chatter every 1/chatter s (straight into Jetstream), on one schedule."""
    duration = cards / rate
    schedule = [(i / rate, 0, i) for i in range(cards)]
    if chatter > 0:
        schedule += [(j / chatter, 1, j) for j in range(int(duration * chatter))]
    schedule.sort()
    posted, lags = [], []
    began = time.monotonic() + 0.2
    for at, kind, i in schedule:
        wait = began + at - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        lags.append(time.monotonic() - began - at)
        if kind == 0:
            brand = brands[i % len(brands)]
            text = rng.choice(CARD_TEXTS).format(brand=brand, Brand=brand.title(), order=ORDER0 + i)
            mono, wall = time.monotonic(), time.time()
            ref = pds.world.add_post(customers[i % len(customers)], text)
            posted.append((i, ref["uri"], mono, wall))
        else:
            did = did_for(f"chatter{i % 3000}")
            reply = None
            if i % 3 == 0:
                reply = (f"at://{did_for(f't{i}')}/app.bsky.feed.post/3mt{i:010d}", f"bafyreichatter{i:040d}")
            jetstream.publish(post_commit(did, f"3mc{i:010d}", noise[i % len(noise)], reply_to=reply,
                                          created_at=datetime.now(UTC).isoformat(timespec="milliseconds")
                                          .replace("+00:00", "Z")))
    return {"posted": posted, "chatter": sum(k for _, k, _ in schedule), "seconds": time.monotonic() - began,
            "lag_p99": percentile(lags, 99), "lag_max": max(lags)}


# --- part 2: the app ------------------------------------------------------------------

def latency(args: argparse.Namespace, problems: list[str], measured: dict[str, Any]) -> None:
    from socialdesk.app import build
    from socialdesk.config import Settings
    from tests.support import slack_emulator

    print(f"\n== part 2: event → card, {args.cards} matching posts at {args.rate:g}/s over {args.channels} "
          f"channels, chatter {args.chatter:g}/s ==")
    workdir = Path(tempfile.mkdtemp(prefix="socialdesk-stream-"))
    collect = Collect()
    logging.getLogger().addHandler(collect)
    brands = brand_names(random.Random(23), args.channels)
    emu, emu_proc = slack_emulator.start(REPO, workdir)
    conn, child, urls = start_fakes(fakes_main, emu.url, brands, args.cards, args.rate, args.chatter)
    desk = None
    try:
        channels = [emu.new_channel("stream") for _ in range(args.channels)]
        settings = Settings(
            _env_file=None,
            SLACK_BOT_TOKEN=f"xoxb-bench-{secrets.token_hex(8)}",  # the emulator budgets 5,000 calls/h per token
            SLACK_SIGNING_SECRET=secrets.token_hex(16),
            SOCIALDESK_SLACK_API_URL=urls["slack"],
            SOCIALDESK_DATABASE_URL=f"sqlite:///{workdir / 'socialdesk.db'}",
            SOCIALDESK_BLUESKY_HANDLE=BRAND,
            SOCIALDESK_BLUESKY_APP_PASSWORD=PASSWORD,
            SOCIALDESK_BLUESKY_SERVICE_URL=urls["pds"],
            SOCIALDESK_BLUESKY_JETSTREAM_URL=urls["jetstream"],
            SOCIALDESK_SLACK_POST_INTERVAL=0,
            # Its posts are numbered look-alikes: with incidents on they would be one storm, most
            # of them in one card's thread (as in the end-to-end tests, tests/support/app_process.py).
            SOCIALDESK_INCIDENT_WINDOW="0",
        )
        desk = build(settings)
        now = utcnow()
        with session_scope(desk.engine) as session:
            rule_ids = [add_rule(session=session, network="bluesky", query=card_rule(brand), channel_id=channel,
                                 every_seconds=60, lang=None, include_reposts=False, now=now).id
                        for brand, channel in zip(brands, channels)]
        t = time.monotonic()
        desk.start()
        wait_until("the app's Jetstream connection", lambda: ask(conn, "live") >= 1, 30)
        connected = time.monotonic() - t

        def polled() -> bool:  # each new rule's first search (its newest page) is done: only the stream is left
            with session_scope(desk.engine) as session:  # type: ignore[union-attr]
                rows = session.exec(select(RuleRow).where(col(RuleRow.id).in_(rule_ids))).all()
            return all(r.last_success_at or r.last_error for r in rows)

        wait_until("the rules' first polls", polled, 60, every=0.2)
        print(f"  app started; Jetstream connected after {connected:.1f} s, the {len(rule_ids)} rules' first "
              f"search polls done after {time.monotonic() - t:.1f} s")

        run = ask(conn, "run", timeout=args.cards / args.rate + 120)
        posted = run["posted"]
        print(f"  made {len(posted)} matching posts and {run['chatter']:,} chatter events in {run['seconds']:.1f} s "
              f"(schedule lag p99 {run['lag_p99'] * 1000:.1f} ms, max {run['lag_max'] * 1000:.1f} ms)")

        def cards_in() -> Any:
            calls, methods = ask(conn, "calls")
            seen = {i for i, *_ in posted if any(f"order {ORDER0 + i}" in body for _, body, ok in calls if ok)}
            return (calls, methods) if len(seen) == len(posted) else None

        try:
            calls, methods = wait_until("every card", cards_in, CARD_WAIT, every=0.5)
        except RuntimeError:
            calls, methods = ask(conn, "calls")
        time.sleep(2)  # anything late or doubled
        calls, methods = ask(conn, "calls")
        stream = desk.streams[0] if desk.streams else None
        seen_events = stream.events_seen if stream else 0
        with session_scope(desk.engine) as session:
            opened = {uri: (at, ts) for uri, at, ts in session.exec(
                select(PostRow.external_id, CaseRow.opened_at, CaseRow.message_ts)
                .join(CaseRow, CaseRow.first_post_id == PostRow.id)).all()}
    finally:
        if desk is not None:
            desk.close()
        stop_fakes(conn, child, "stop")
        logging.getLogger().removeHandler(collect)

    try:
        report_latency(args, emu, channels, posted, calls, methods, opened, seen_events, run, problems, measured)
    finally:
        slack_emulator.stop(emu_proc)
        shutil.rmtree(workdir, ignore_errors=True)
    log_findings(collect.records, problems)


def report_latency(args: argparse.Namespace, emu: Any, channels: list[str], posted: list[tuple[int, str, float, float]],
                   calls: list[tuple[float, str, bool]], methods: dict[str, int],
                   opened: dict[str, tuple[datetime, str | None]], seen_events: int, run: dict[str, Any],
                   problems: list[str], measured: dict[str, Any]) -> None:
    latencies, to_case, to_card = [], [], []
    counts: Counter[int] = Counter()
    for i, uri, mono, wall in posted:
        marker = f"order {ORDER0 + i}"
        arrivals = [at for at, body, ok in calls if ok and marker in body]
        counts[i] = len(arrivals)
        if not arrivals:
            continue
        latencies.append(arrivals[0] - mono)
        if uri in opened:
            stored = opened[uri][0].replace(tzinfo=UTC).timestamp() - wall
            to_case.append(stored)
            to_card.append(arrivals[0] - mono - stored)
    n = len(posted)
    arrived = sum(1 for c in counts.values() if c)
    print(f"  cards arrived: {arrived}/{n}; chat.postMessage calls {methods.get('chat.postMessage', 0)} "
          f"({sum(1 for *_, ok in calls if not ok)} failed); stream worker saw {seen_events:,} events")
    if latencies:
        ms = [x * 1000 for x in latencies]
        measured.update(p50_s=percentile(ms, 50) / 1000, p99_s=percentile(ms, 99) / 1000, cards=len(ms))
        print(f"  event → card     p50 {percentile(ms, 50):7.0f} ms   p95 {percentile(ms, 95):7.0f} ms   "
              f"p99 {percentile(ms, 99):7.0f} ms   max {max(ms):7.0f} ms   (mean {statistics.mean(ms):.0f} ms)")
    if to_case:
        for label, values in (("  of which post → case stored", to_case), ("          case stored → card", to_card)):
            ms = [x * 1000 for x in values]
            print(f"{label:<31} p50 {percentile(ms, 50):6.0f} ms   p99 {percentile(ms, 99):6.0f} ms   "
                  f"max {max(ms):6.0f} ms")
    other = {m: k for m, k in sorted(methods.items()) if m != "chat.postMessage"}
    print(f"  the app's other Slack calls: {other or 'none'}")

    # In Slack: each post's card exactly once, in its rule's channel, and nothing else posted.
    in_slack: Counter[int] = Counter()
    stray = 0
    for k, channel in enumerate(channels):
        for message in emu.history(channel):
            blob = json.dumps(message, ensure_ascii=False)
            hits = [i for i, *_ in posted if f"order {ORDER0 + i}" in blob]
            if not hits:
                stray += 1
            for i in hits:
                in_slack[i] += 1
                if i % len(channels) != k:
                    problems.append(f"latency: the card of post {i} is in channel {k}, its rule's is {i % len(channels)}")
    doubled = {i: c for i, c in in_slack.items() if c > 1}
    missing = [i for i, *_ in posted if not in_slack[i]]
    measured.update(missing=len(missing), doubled=len(doubled), expected=n)
    print(f"  check in Slack: {n - len(missing) - len(doubled)}/{n} posts have exactly one card; "
          f"{len(missing)} missing, {len(doubled)} doubled, {stray} other messages in the channels")
    if missing or doubled or stray or arrived != n:
        problems.append(f"latency: {len(missing)} cards missing {missing[:10]}, {len(doubled)} doubled "
                        f"{dict(list(doubled.items())[:10])}, {stray} other messages")
    expected = len(posted) + run["chatter"]
    if seen_events < expected:
        problems.append(f"latency: the stream worker saw {seen_events} events, {expected} were sent")


# --- main -----------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=100_000, help="Jetstream messages to match (default 100,000)")
    parser.add_argument("--rules", type=int, default=1_000, help="rules to match them against (default 1,000)")
    parser.add_argument("--cards", type=int, default=200, help="matching posts made in part 2 (default 200)")
    parser.add_argument("--channels", type=int, default=20,
                        help="channels (one rule each) the cards are spread over (default 20)")
    parser.add_argument("--rate", type=float, default=5.0, help="matching posts per second in part 2 (default 5)")
    parser.add_argument("--chatter", type=float, default=200.0,
                        help="non-matching Jetstream events per second in part 2 (default 200)")
    parser.add_argument("--skip-latency", action="store_true", help="part 1 only (no emulator, no app)")
    add_json_option(parser)
    args = parser.parse_args(argv)
    print(f"code: {code_version()}")
    print(f"{os.cpu_count()} CPUs, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} "
          "(other work on the machine skews the figures)")
    problems: list[str] = []
    findings: list[str] = []  # about the app, not the measurement
    throughput(args, problems, findings)
    measured: dict[str, Any] = {}
    if not args.skip_latency:
        latency(args, problems, measured)
    print("\nproblems:" if problems else "\nno problems: one case per matched post (none on replay), "
          "every card exactly once")
    for p in problems:
        print(f"  - {p}")
    if findings:
        print("\nfindings about the app (not failures of this run):")
    for f in findings:
        print(f"  - {f}")
    write_json(args.json, {**measured, "problems": problems})
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
