"""Rows 8, 10 and 11: the publisher under Slack's 429s, kills mid-publish, and hostile post text.
Every case must end with exactly one card in Slack (the emulator's messages) and its ts recorded."""

from __future__ import annotations

import random
import signal
import time
from datetime import UTC, datetime
from itertools import pairwise

from claims import seed_cases, wait_published
from faults.common import Bench, RowResult, Stack, note_log, settle
from faults.proxies import HeldSlack
from tests.e2e.helpers import block_text, case_id_of, cards

# --- 8 -----------------------------------------------------------------------------------------

RETRY_AFTER = 2  # seconds, as Slack's 429 says
LIMITED_CALLS = 5  # consecutive chat.postMessage calls answered 429 (slack_sdk itself retries twice)


def slack_429(bench: Bench, tries: int, burst: int = 10) -> RowResult:
    r = RowResult(tries=tries)
    with Stack(bench, "slack-429") as s:
        s.start()
        for i in range(tries):
            channel = s.emu.new_channel(f"limited{i}")
            since = time.monotonic()
            s.proxy.rate_limit("chat.postMessage", retry_after=RETRY_AFTER, times=LIMITED_CALLS)
            case_ids = seed_cases(s.engine, [channel], burst, tag=f"limited{i}")
            try:
                wait_published(s.engine, case_ids, timeout=90)
            except RuntimeError as exc:
                r.problems.append(f"try {i + 1}: {exc}")
            time.sleep(1)
            lost, dup, details = s.card_tally(case_ids, [channel])
            r.add_lost(lost)
            r.add_duplicated(dup)
            r.problems += [f"try {i + 1}: {d}" for d in details]
            limited = [c for c in s.proxy.calls_to("chat.postMessage") if c.at >= since and c.status == 429]
            r.check(len(limited) == LIMITED_CALLS, f"try {i + 1}: {len(limited)} calls were answered 429, "
                                                   f"expected {LIMITED_CALLS}")
            gaps = gaps_after_429(s, since)
            if gaps:
                r.notes.append(f"try {i + 1}: gaps after each 429 until the next chat.postMessage: "
                               + ", ".join(f"{g:.1f} s" for g in gaps))
            early = [g for g in gaps if g < RETRY_AFTER - 0.05]
            r.check(not early, f"try {i + 1}: {len(early)} chat.postMessage call(s) came sooner than Retry-After "
                               f"({RETRY_AFTER} s) after a 429: gaps {early[:5]}")
        note_log(r, s, fail=False)
    r.done = (f"a burst of {burst} cards in one channel, {tries}x, while the Slack proxy answered the first "
              f"{LIMITED_CALLS} chat.postMessage calls 429 with Retry-After: {RETRY_AFTER}: cards counted in the "
              "emulator and the database, gaps after each 429 measured at the proxy")
    return r


def gaps_after_429(s: Stack, since: float) -> list[float]:
    """Seconds between each 429 and the next chat.postMessage (one channel: Retry-After applies to all)."""
    calls = [c for c in s.proxy.calls_to("chat.postMessage") if c.at >= since]
    return [b.at - a.at for a, b in pairwise(calls) if a.status == 429]


# --- 10 ---------------------------------------------------------------------------------------

def kill_publish(bench: Bench, tries: int, per_try: int = 10) -> RowResult:
    """Each card's chat.postMessage is held by HeldSlack before it reaches Slack and again after Slack
    stored it, so every kill lands inside a post: odd tries kill -9 once the card is in Slack but its ts
    not yet recorded (the case the publisher must find by metadata), even tries before it reached Slack.
    The SIGTERM lands in the other window."""
    r = RowResult(tries=tries)
    rng = random.Random(11)
    with Stack(bench, "kill-publish", slack_front=HeldSlack) as s:
        s.start()
        channels = [s.emu.new_channel("kill"), s.emu.new_channel("kill")]
        case_ids: list[int] = []
        kills: list[tuple[str, int, datetime]] = []  # (how, case in flight, restarted at)
        stops: list[tuple[int, float]] = []
        for i in range(tries):
            case_ids += seed_cases(s.engine, channels, per_try, tag=f"kill{i}")
            windows = ("after", "before") if i % 2 == 0 else ("before", "after")
            for how, window in zip(("kill -9", "SIGTERM"), windows):
                in_flight = kill_mid_post(s, rng, how, window, stops)
                if r.check(in_flight is not None, f"try {i + 1}: no card was being posted for the {how}"):
                    kills.append((f"{how} {window} Slack stored it", in_flight, datetime.now(UTC)))  # type: ignore[arg-type]
        t = time.perf_counter()
        try:
            wait_published(s.engine, case_ids, timeout=150)
        except RuntimeError as exc:
            r.problems.append(str(exc))
        time.sleep(2)  # a late duplicate would show now
        r.lost, r.duplicated, details = s.card_tally(case_ids, channels)
        r.problems += details
        r.check(all(rc == 0 for rc, _ in stops), f"SIGTERM exit codes: {[rc for rc, _ in stops]}")
        r.notes.append(f"all cards in {time.perf_counter() - t:.0f} s after the last restart; SIGTERM stops took "
                       + ", ".join(f"{sec:.1f} s" for _, sec in stops))
        r.notes.append("the card in flight at each kill, after the restart: " + "; ".join(
            f"{how}: {late(s, case, at)}" for how, case, at in kills))
        note_log(r, s, fail=False)
    r.done = (f"{per_try} cards per try over 2 channels, chat.postMessage held 0.3 s before Slack and 0.7 s after; "
              f"the app killed -9 and stopped with SIGTERM inside a held post (once after Slack stored the card, once "
              f"before), {tries}x, restarted each time: cards counted in the emulator and the database")
    return r


def kill_mid_post(s: Stack, rng: random.Random, how: str, window: str, stops: list[tuple[int, float]]) -> int | None:
    """Kill or stop the app while a card's post is held in `window`, then start it again; the case in flight."""
    held: HeldSlack = s.slack_front
    case_id = held.wait_held(window, timeout=30)
    time.sleep(rng.uniform(0.0, 0.6 * (held.after if window == "after" else held.before)))
    if how == "kill -9":
        s.app.kill9()
    else:
        t = time.perf_counter()
        stops.append((s.app.stop(signal.SIGTERM), time.perf_counter() - t))
    s.start()
    return case_id


def late(s: Stack, case_id: int, restarted: datetime) -> str:
    """How long after the restart the case's card was recorded (its `card_posted` event)."""
    at = s.scalar("SELECT min(at) FROM case_events WHERE case_id = :c AND kind = 'card_posted'", c=case_id)
    if at is None:
        return f"case {case_id} never"
    when = datetime.fromisoformat(str(at)).replace(tzinfo=UTC)
    return f"case {case_id} {max((when - restarted).total_seconds(), 0):.0f} s"


# --- 11 ----------------------------------------------------------------------------------------

def hostile_posts(tag: str) -> list[tuple[str, dict]]:
    """(what, FakeX.post arguments) with the rule's word `tag` in each."""
    return [
        ("control characters", {"text": f"{tag} ctrl \x00 \x01 \x07 \x1b[31mred\x1b[0m \x7f \r\nsecond line \x85 end"}),
        ("mrkdwn injection", {"text": f"{tag} <!channel> <!here> <!everyone> <@U0ADMIN> <#C0GENERAL> "
                                      "<https://evil.example|your bank> *bold* _it_ ~strike~ `code` &amp; &lt;b&gt;"}),
        ("40,000 characters", {"text": "", "long_text": f"{tag} long: " + "so much to say. " * 2500}),
        ("RTL overrides", {"text": f"{tag} \u202egnp.exe\u202c \u2066isolate\u2069 \u200f\u200b\u200d\ufeff zero-width"}),
        ("combining marks, ZWJ emoji", {"text": f"{tag} Z\u0337\u0322\u031b\u0061\u0335l\u0336 👩‍👩‍👧‍👦 🏳️‍🌈"}),
        ("hostile author name", {"text": f"{tag} a normal question", "name": "<!channel> Evil \u202enimda\u202c"}),
    ]


INJECTED = ("<!channel>", "<!here>", "<!everyone>", "<@U0ADMIN>", "<#C0GENERAL>", "<https://evil.example")


def texts_of(card: dict) -> list[str]:
    """Every text Slack would render or notify with: the message's `text` and each block's texts."""
    found = [card.get("text", "")]

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("text"), str):
                found.append(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(card.get("blocks", []))
    return found


def hostile_text(bench: Bench, tries: int) -> RowResult:
    r = RowResult(tries=tries)
    with Stack(bench, "hostile-text") as s:
        channel = s.emu.new_channel("hostile")
        s.add_rule("acmehostile", channel, every=5)
        s.start()
        r.check(s.first_poll_done(), "the rule's first poll did not finish")
        posted: dict[str, str] = {}  # X post id -> what
        for i in range(tries):
            for j, (what, args) in enumerate(hostile_posts("acmehostile")):
                name = args.pop("name", None)
                user = f"hostile{i}x{j}"
                if name:
                    s.fake.add_user(username=user, name=name)
                posted[s.fake.post(username=user, **args)["id"]] = what
            settle(lambda: all(s.cases_of_posts(posted).values()), timeout=30)
        case_of = s.cases_of_posts(posted)
        r.add_lost(sum(1 for c in case_of.values() if c is None))
        case_ids = [c for c in case_of.values() if c is not None]
        try:
            wait_published(s.engine, case_ids, timeout=60)
        except RuntimeError as exc:
            r.problems.append(str(exc))
        time.sleep(1)
        lost, dup, details = s.card_tally(case_ids, [channel])
        r.add_lost(lost)
        r.add_duplicated(dup)
        r.problems += details
        check_escaping(s, r, channel, {c: posted[e] for e, c in case_of.items() if c is not None})
        note_log(r, s, fail=False)
    r.done = (f"{len(hostile_posts(''))} hostile posts per try on FakeX (control chars, <!channel> and other mrkdwn, "
              f"40,000 chars, RTL overrides, ZWJ emoji, an author named <!channel>), {tries}x, polled every 5 s: "
              "cards counted and every text in them checked for live mentions and links")
    return r


def check_escaping(s: Stack, r: RowResult, channel: str, what_of: dict[int, str]) -> None:
    survived: dict[str, set[str]] = {}
    for card in cards(s.emu, channel):
        what = what_of.get(case_id_of(card), "?")
        texts = texts_of(card)
        live = sorted({m for t in texts for m in INJECTED if m in t})
        r.check(not live, f"{what} card: live {live} in its text")
        if what == "mrkdwn injection":
            r.check("&lt;!channel&gt;" in block_text(card, "post"), "the <!channel> post is not shown escaped")
        if what == "hostile author name":
            r.check("&lt;!channel&gt;" in block_text(card, "author"), "the author named <!channel> is not shown escaped")
        post = block_text(card, "post")
        r.check(len(post) <= 3000, f"{what} card: post block of {len(post)} chars (Block Kit's limit is 3000)")
        raw = {f"U+{ord(ch):04X}" for t in texts for ch in t if ch in "\x00\x01\x07\x1b\x7f\u202e\u202c\u2066\u2069"}
        if raw:
            survived.setdefault(what, set()).update(raw)
    if survived:
        r.notes.append("characters passed to Slack as they are (not a failure: not mrkdwn): "
                       + "; ".join(f"{w}: {' '.join(sorted(c))}" for w, c in survived.items()))
