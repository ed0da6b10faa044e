"""Rows 1-3 and 6: what the request guard and the event dedupe do with requests that are
not Slack's, are malformed, or are Slack's sent again."""

from __future__ import annotations

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlencode

from faults.common import Bench, RowResult, Stack, note_log, settle
from tests.support.slack_signing import FORM, JSON, app_home_opened_event, event_callback_body, sign


def rules_with(stack: Stack, word: str) -> int:
    return sum(word in r[0] for r in stack.rows("SELECT query FROM rules"))


# --- 1 -----------------------------------------------------------------------------------------

STALE_SKEWS = {"6 min old": -6 * 60, "6 min ahead": 6 * 60, "1 h old": -3600}


def stale_signature(bench: Bench, tries: int) -> RowResult:
    r = RowResult(tries=tries)
    with Stack(bench, "stale-signature") as s:
        s.start()
        channel = s.emu.new_channel("stale")
        for i in range(tries):
            for label, skew in STALE_SKEWS.items():
                body = s.command("mia", f"rules add acme stale{i} every:120", channel)
                resp, _ = s.send(body, timestamp=int(time.time()) + skew)
                r.check(resp.status_code == 401 and "5 minutes" in resp.text,
                        f"rules add signed {label}: {resp.status_code} {resp.text[:80]!r}")
                event = event_callback_body(event=app_home_opened_event(user_id=s.uid("alice")),
                                            event_id=f"EvStale{uuid.uuid4().hex[:8]}", team_id=s.emu.team_id)
                resp, _ = s.send(event, JSON, timestamp=int(time.time()) + skew)
                r.check(resp.status_code == 401, f"event signed {label}: {resp.status_code} {resp.text[:80]!r}")
        time.sleep(1)
        rules = rules_with(s, "stale")
        published = len(s.proxy.calls_to("views.publish"))
        r.duplicated = rules + published  # effects a refused request must not have
        r.check(rules == 0, f"{rules} rule(s) made by stale requests")
        r.check(published == 0, f"{published} App Home publish(es) for stale events")
        note_log(r, s, fail=False)
    n = len(STALE_SKEWS) * tries
    r.done = (f"{n} signed `/social rules add` and {n} app_home_opened events, timestamps 6 min old, 6 min ahead "
              "and 1 h old: 401 each; rules and App Home publishes counted")
    return r


# --- 2 -----------------------------------------------------------------------------------------

def replayed_command(bench: Bench, tries: int) -> RowResult:
    r = RowResult(tries=tries)
    with Stack(bench, "replay") as s:
        s.start()
        channel = s.emu.new_channel("replay")
        for i in range(tries):
            body = s.command("mia", f"rules add acme replay{i}x every:120", channel)
            headers = {"Content-Type": FORM, **sign(body, s.secret)}
            answers = replay(s, body, headers, at_once=i % 2 == 1)
            for resp, seconds in answers:
                r.check(resp.status_code == 200, f"try {i + 1}: a copy got {resp.status_code} {resp.text[:80]!r}")
                if resp.status_code == 200:
                    r.acks.append(seconds)
            added = [a for a, _ in answers if a.content and a.json().get("text", "").startswith("Rule ")]
            r.check(len(added) == 1, f"try {i + 1}: {len(added)} of 3 copies answered 'Rule … added'")
            made = rules_with(s, f"replay{i}x")
            r.add_lost(made == 0)
            r.add_duplicated(max(made - 1, 0))
            r.check(made == 1, f"try {i + 1}: {made} rules from one request sent 3 times")
        dropped = s.log().count("dropped a replayed request")
        r.check(dropped == 2 * tries, f"the app logged {dropped} dropped replays, expected {2 * tries}")
        note_log(r, s, fail=False)
    r.done = (f"one signed `/social rules add` sent 3 times, {tries}x (odd tries one after another, even tries "
              "the 3 copies at once): rules in the database counted")
    return r


def replay(s: Stack, body: bytes, headers: dict[str, str], *, at_once: bool) -> list:  # type: ignore[type-arg]
    def one(_: object = None):  # type: ignore[no-untyped-def]
        started = time.perf_counter()
        resp = s.http.post(s.app.events_url, content=body, headers=headers)
        return resp, time.perf_counter() - started

    if not at_once:
        return [one() for _ in range(3)]
    gate = threading.Barrier(3)
    with ThreadPoolExecutor(3) as pool:
        return list(pool.map(lambda _: (gate.wait(), one())[1], range(3)))


# --- 3 -----------------------------------------------------------------------------------------

def junk_requests(secret: str) -> list[tuple[str, bytes, str, dict[str, str], int]]:
    """(what, body, content type, headers, expected status)."""
    def signed(body: bytes) -> dict[str, str]:
        return sign(body, secret)

    form = b"command=%2Fsocial&text=rules+add+junk"
    not_json = urlencode({"payload": "{not json"}).encode()
    a_list = urlencode({"payload": "[1, 2]"}).encode()
    deep = b"[" * 200_000
    latin1 = "command=/social&text=r\xe8gles".encode("latin-1")
    return [
        ("unsigned binary junk", b"\x00\xffjunk-" + uuid.uuid4().hex.encode(), "application/octet-stream", {}, 401),
        ("unsigned form", form, FORM, {}, 401),
        ("signature of another body", form, FORM, signed(b"other"), 401),
        ("timestamp not a number", form, FORM, {**signed(form), "X-Slack-Request-Timestamp": "yesterday"}, 401),
        ("signed text/plain body", b"rules add junk", "text/plain", signed(b"rules add junk"), 400),
        ("signed form, payload not JSON", not_json, FORM, signed(not_json), 400),
        ("signed form, payload a JSON list", a_list, FORM, signed(a_list), 400),
        ("signed JSON list body", b'["event_callback"]', JSON, signed(b'["event_callback"]'), 400),
        ("signed JSON nested 200,000 deep", deep, JSON, signed(deep), 400),
        ("signed body not UTF-8", latin1, FORM, signed(latin1), 400),
    ]


def junk(bench: Bench, tries: int) -> RowResult:
    r = RowResult(tries=tries)
    with Stack(bench, "junk") as s:
        s.start()
        for i in range(tries):
            for what, body, content_type, headers, expected in junk_requests(s.secret):
                resp, _ = s.send(body, content_type, headers=headers, signed=False)
                r.check(resp.status_code == expected,
                        f"{what}: {resp.status_code} {resp.text[:80]!r}, expected {expected}")
        rules = rules_with(s, "junk")
        r.duplicated = rules
        r.check(rules == 0, f"{rules} rule(s) made by junk")
        note_log(r, s, fail=True)
        log = s.log()
        r.check(s.secret not in log, "the signing secret is in the app's log")
        r.check("junk-" not in log, "a junk body is echoed in the app's log")
    r.done = (f"{len(junk_requests('x'))} kinds of bad request x{tries} (unsigned, mis-signed, text/plain, payload "
              "not an object, a JSON list, 200,000-deep JSON, not UTF-8): status, effects and the app's log checked")
    return r


# --- 6 -----------------------------------------------------------------------------------------

def event_retry(bench: Bench, tries: int) -> RowResult:
    r = RowResult(tries=tries)
    users = ["alice", "bob", "carol", "agent01", "agent02"]
    with Stack(bench, "event-retry") as s:
        s.start()
        for i in range(tries):
            uid = s.uid(users[i % len(users)])
            before = publishes_for(s, uid)
            body = event_callback_body(event=app_home_opened_event(user_id=uid), event_id=f"Ev{uuid.uuid4().hex[:10]}",
                                       team_id=s.emu.team_id)
            for attempt in range(3):  # Slack's retries carry a new timestamp (so a new signature), same event_id
                if attempt:
                    time.sleep(1.05)
                retry = {"X-Slack-Retry-Num": str(attempt), "X-Slack-Retry-Reason": "http_timeout"} if attempt else {}
                resp, seconds = s.send(body, JSON, headers=retry)
                if r.check(resp.status_code == 200, f"try {i + 1} delivery {attempt}: {resp.status_code} {resp.text[:80]!r}"):
                    r.acks.append(seconds)
            settle(lambda: publishes_for(s, uid) > before, timeout=10)
            time.sleep(1.0)  # let a second effect show, if there is one
            effects = publishes_for(s, uid) - before
            r.add_lost(effects == 0)
            r.add_duplicated(max(effects - 1, 0))
            r.check(effects == 1, f"try {i + 1}: {effects} App Home publishes for one event delivered 3 times")
        note_log(r, s, fail=False)
    r.done = (f"app_home_opened delivered 3 times with one event_id (X-Slack-Retry-Num 1 and 2, a second apart, "
              f"freshly signed), {tries}x: views.publish calls counted at the Slack proxy")
    return r


def publishes_for(s: Stack, uid: str) -> int:
    return sum(1 for c in s.proxy.calls_to("views.publish") if c.params.get("user_id") == uid)
