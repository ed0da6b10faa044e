"""X post → card latency through X's filtered stream, end to end, and one dropped stream.

The Slack emulator (npx emulate); a child process with a FakeX (search, the filtered
stream and its rules), the load generator and a recording proxy in front of the emulator;
the app in this process (`app.build` + `desk.start()`), its K rules marked `stream` (one
channel each), so FakeX matches posts against the rules the app registered and tags each
streamed post with them. Two phases (figures only; nothing here asserts a time):

1. Steady: M posts at a steady rate, three in four naming one rule's product ("order N"),
   one in four chatter no rule matches (it must give no card). Each card's chat.postMessage
   is matched to its post by the order number: post → card p50/p99.
2. Drop: more posts at the same rate; half way the stream is dropped (no last chunk) and
   the first reconnect is refused with a 503, so X's policy waits 5 s while posts come.
   The app reconnects and reads the gap with recent search. Prints the cards lost and
   doubled, and the posts X was asked for twice (streamed and searched, or searched twice:
   X bills each read), all three 0 when the gap is filled exactly. The gap's search starts
   a minute before the newest post streamed (X's stream is not in order: networks/x/stream.py
   REWIND), so the streamed posts of that minute are read once more by design: counted apart
   ("overlap"), not as reads twice.

    python bench/x_stream.py                        # 200 posts at 10/s over 10 rules
    python bench/x_stream.py --posts 1000 --rate 20 --rules 50 --drop-posts 300
"""

from __future__ import annotations

import argparse
import logging
import random
import re
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
sys.path.insert(0, str(REPO))  # bench._latency, tests.support

from bench._report import add_json_option, write_json  # noqa: E402
from bench._latency import (Collect, RecordingProxy, ask, code_version, log_findings, percentile,  # noqa: E402
                            start_fakes, stop_fakes, wait_until)

from socialdesk.networks.x.parse import snowflake_at, snowflake_time  # noqa: E402
from socialdesk.networks.x.stream import REWIND  # noqa: E402
from socialdesk.store.db import session_scope, utcnow  # noqa: E402
from socialdesk.store.rules import add_rule  # noqa: E402

ORDER0 = 10_000  # post i says "order {ORDER0 + i}": how its card is found
ORDER = re.compile(r"\border (\d{5})\b")
TOKEN = "bench-bearer"
SEARCH = "/2/tweets/search/recent"
CARD_WAIT = 60.0
TEXTS = ["my {p} is broken again, order {order}", "{p} support please help, order {order} still not working",
         "waiting two weeks for a refund for my {p} (order {order})"]
CHATTER = "lovely weather for a walk, note {order}"
RECONNECT = re.compile(r"^x stream: .*; reconnecting in [\d.e+-]+ s$")
BOLT_NOTE = "As `installation_store` or `authorize` has been used, `token`"
PUBLISH_SKIPPED = "skipped: maximum number of running instances reached"


def product(k: int) -> str:
    return f"zentrix{k:03d}"


def fakes_main(conn: Any, emulator_api: str) -> None:
    """The child process: FakeX + the recording proxy; makes the posts on command."""
    from socialdesk.networks.x.fake.server import FakeX
    from socialdesk.networks.x.parse import snowflake_at

    fake = FakeX(bearer_token=TOKEN).start()
    fake.stream_keepalive_seconds = 5.0
    proxy = RecordingProxy(emulator_api)
    conn.send({"url": fake.url, "slack": proxy.url})
    made: list[dict[str, Any]] = []
    try:
        while True:
            command, *rest = conn.recv()
            if command == "ready":  # our rules at X and one connection
                [count] = rest
                tags = [r for r in fake.stream_rules if str(r.get("tag", "")).startswith("socialdesk:")]
                conn.send(len(tags) == count and fake.stream_connections() == 1)
            elif command == "run":
                first, count, rate, rules, drop_after = rest
                conn.send(make_posts(fake, made, first, count, rate, rules, drop_after))
            elif command == "connections":
                conn.send(fake.stream_connections())
            elif command == "cards":
                conn.send(list(proxy.cards))
            elif command == "reads":  # post id → how many search answers it was in (ids are times)
                reads: Counter[str] = Counter()
                for request in fake.requests_to(SEARCH):
                    since = int(request.query.get("since_id") or 0)
                    until = int(request.query.get("until_id")
                                or snowflake_at(datetime.fromtimestamp(request.at, UTC)))
                    words = request.query.get("query", "")
                    for post in made:
                        if since < int(post["id"]) < until and post["product"] and post["product"] in words:
                            reads[post["id"]] += 1
                conn.send(dict(reads))
            elif command == "stop":
                break
    finally:
        proxy.close()
        fake.stop()


def make_posts(fake: Any, made: list[dict[str, Any]], first: int, count: int, rate: float, rules: int,
               drop_after: int | None) -> dict[str, Any]:
    """Posts `first` … every 1/rate s (i % 4 == 3: chatter); before post `first + drop_after` the stream drops."""
    posted, lags = [], []
    began = time.monotonic() + 0.2
    dropped_at = None
    for n in range(count):
        i = first + n
        wait = began + n / rate - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        lags.append(time.monotonic() - began - n / rate)
        if drop_after is not None and n == drop_after:
            fake.refuse_stream_next(503)
            fake.drop_stream()
            dropped_at = time.monotonic()
        order = ORDER0 + i
        name = product(i % rules) if i % 4 != 3 else ""
        text = TEXTS[i % len(TEXTS)].format(p=name, order=order) if name else CHATTER.format(order=order)
        mono = time.monotonic()
        post = fake.post(username=f"cust{i % 200}", text=text)
        entry = {"i": i, "id": post["id"], "product": name, "mono": mono}
        posted.append(entry)
        made.append(entry)
    return {"posted": posted, "lag_p99": percentile(lags, 99), "dropped_at": dropped_at}


def first_cards(cards: list[tuple[float, str, bool]]) -> tuple[dict[int, float], Counter[int]]:
    first: dict[int, float] = {}
    counts: Counter[int] = Counter()
    for at, body, ok in cards:
        if ok:
            for number in {int(n) - ORDER0 for n in ORDER.findall(body)}:
                counts[number] += 1
                first[number] = min(first.get(number, at), at)
    return first, counts


def figures(label: str, seconds: list[float]) -> str:
    if not seconds:
        return f"  {label:<22} none"
    ms = [x * 1000 for x in seconds]
    return (f"  {label:<22} p50 {percentile(ms, 50):6.0f} ms   p99 {percentile(ms, 99):6.0f} ms   "
            f"max {max(ms):6.0f} ms   (mean {statistics.mean(ms):.0f} ms, n={len(ms)})")


def run(args: argparse.Namespace, problems: list[str]) -> dict[str, Any]:
    from socialdesk.app import build
    from socialdesk.config import Settings
    from tests.support import slack_emulator

    print(f"\n== X post → card: {args.posts} posts at {args.rate:g}/s, {args.rules} streamed rules; "
          f"{args.drop_posts} posts across a dropped stream ==")
    workdir = Path(tempfile.mkdtemp(prefix="socialdesk-x-stream-"))
    collect = Collect()
    logging.getLogger().addHandler(collect)
    emu, emu_proc = slack_emulator.start(REPO, workdir)
    conn, child, urls = start_fakes(fakes_main, emu.url)
    desk = None
    try:
        channels = [emu.new_channel("x") for _ in range(args.rules)]
        settings = Settings(_env_file=None, SLACK_BOT_TOKEN=f"xoxb-bench-{secrets.token_hex(8)}",
                            SLACK_SIGNING_SECRET=secrets.token_hex(16), SOCIALDESK_SLACK_API_URL=urls["slack"],
                            SOCIALDESK_DATABASE_URL=f"sqlite:///{workdir / 'socialdesk.db'}",
                            SOCIALDESK_X_API_URL=urls["url"], SOCIALDESK_X_BEARER_TOKEN=TOKEN,
                            SOCIALDESK_BLUESKY_JETSTREAM_URL="", SOCIALDESK_SLACK_POST_INTERVAL=0)
        desk = build(settings)
        with session_scope(desk.engine) as session:
            for k, channel in enumerate(channels):
                add_rule(session=session, network="x", query=product(k), channel_id=channel, every_seconds=60,
                         lang=None, include_reposts=False, now=utcnow(), stream=True)
        started = time.monotonic()
        desk.start()
        wait_until("the rules at X and the stream connected", lambda: ask(conn, ("ready", args.rules)), 60, 0.2)
        print(f"  app started; {args.rules} rules at X's stream rules and connected after "
              f"{time.monotonic() - started:.1f} s")
        time.sleep(2.5)  # the rules' first polls (their newest pages) are done

        steady = ask(conn, ("run", 0, args.posts, args.rate, args.rules, None), timeout=args.posts / args.rate + 120)
        drop = ask(conn, ("run", args.posts, args.drop_posts, args.rate, args.rules, args.drop_posts // 2),
                   timeout=args.drop_posts / args.rate + 120)
        wanted = {p["i"] for p in steady["posted"] + drop["posted"] if p["product"]}

        def all_carded() -> bool:
            return wanted <= set(first_cards(ask(conn, ("cards",)))[0])

        try:
            wait_until("every card", all_carded, CARD_WAIT, 0.5)
        except RuntimeError as exc:
            problems.append(str(exc))
        time.sleep(3)  # anything late or doubled
        cards = ask(conn, ("cards",))
        reads = ask(conn, ("reads",))
    finally:
        if desk is not None:
            desk.close()
        stop_fakes(conn, child, ("stop",))
        logging.getLogger().removeHandler(collect)
        slack_emulator.stop(emu_proc)
        shutil.rmtree(workdir, ignore_errors=True)

    first, counts = first_cards(cards)
    steady_posts = [p for p in steady["posted"] if p["product"]]
    drop_posts = [p for p in drop["posted"] if p["product"]]
    chatter = [p for p in steady["posted"] + drop["posted"] if not p["product"]]
    print(f"  steady: {len(steady['posted'])} posts, schedule lag p99 {steady['lag_p99'] * 1000:.1f} ms")
    print(figures("post → card (stream)", [first[p["i"]] - p["mono"] for p in steady_posts if p["i"] in first]))
    print(figures("post → card (drop)", [first[p["i"]] - p["mono"] for p in drop_posts if p["i"] in first]))
    lost = [p["i"] for p in steady_posts + drop_posts if p["i"] not in first]
    doubled = [i for i, n in counts.items() if n > 1]
    stray = [p["i"] for p in chatter if p["i"] in counts]
    # Posts made before the drop were streamed; the gap's search re-reads the REWIND before the newest of them.
    before = drop["posted"][: args.drop_posts // 2]
    last = int(before[-1]["id"]) if before else 0
    overlap_from = snowflake_at(snowflake_time(str(last)) - REWIND) if last else 0
    streamed = steady_posts + [p for p in drop_posts if int(p["id"]) <= last]
    overlap = [p for p in streamed if overlap_from <= int(p["id"]) <= last and reads.get(p["id"], 0) == 1]
    streamed_then_searched = [p for p in streamed if reads.get(p["id"], 0) > 0 and p not in overlap]
    missed = [p for p in drop_posts if int(p["id"]) > last]  # made while the stream was down: the gap's
    read_twice = [p for p in missed if reads.get(p["id"], 0) > 1]
    gap = [p for p in missed if reads.get(p["id"], 0) == 1]
    print(f"  drop: {len(drop_posts)} matching posts across it, {len(gap)} of the {len(missed)} made while it was "
          f"down read by the gap's search; lost {len(lost)}, doubled {len(doubled)}, chatter carded {len(stray)}")
    print(f"  X reads: streamed posts searched again in the gap's overlap (the {REWIND.total_seconds():.0f} s before "
          f"the newest streamed, by design) {len(overlap)}; streamed posts searched otherwise "
          f"{len(streamed_then_searched)}, gap posts searched twice {len(read_twice)}")
    for what, found in (("lost", lost), ("doubled", doubled), ("chatter carded", stray)):
        if found:
            problems.append(f"{len(found)} card(s) {what}: posts {found[:10]}")
    # Expected: the reconnects after the drop, bolt's start-up note; the publisher's "skipped" runs
    # (a run outlasting its 1 s interval under the burst) are a finding, not a failure.
    expected = [r for r in collect.records if RECONNECT.match(r.getMessage()) or BOLT_NOTE in r.getMessage()]
    skipped = [r for r in collect.records if PUBLISH_SKIPPED in r.getMessage()]
    print(f"  log: {len([r for r in expected if RECONNECT.match(r.getMessage())])} reconnect warning(s)"
          + (f"; the publisher skipped {len(skipped)} run(s) still busy with the one before" if skipped else ""))
    log_findings([r for r in collect.records if r not in expected and r not in skipped], problems)
    steady_lags = [first[p["i"]] - p["mono"] for p in steady_posts if p["i"] in first]
    return {"p50_s": percentile(steady_lags, 50) if steady_lags else None,
            "p99_s": percentile(steady_lags, 99) if steady_lags else None,
            "lost": len(lost), "doubled": len(doubled), "read_twice": len(read_twice) + len(streamed_then_searched),
            "overlap_reads": len(overlap)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--posts", type=int, default=200)
    parser.add_argument("--rate", type=float, default=10.0)
    parser.add_argument("--rules", type=int, default=10)
    parser.add_argument("--drop-posts", type=int, default=100)
    add_json_option(parser)
    args = parser.parse_args(argv)
    random.seed(7)
    print(f"code {code_version()}")
    problems: list[str] = []
    write_json(args.json, {**run(args, problems), "problems": problems})
    for problem in problems:
        print(f"PROBLEM: {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
