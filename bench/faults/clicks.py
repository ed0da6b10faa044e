"""Rows 7 and 12: concurrent Claim clicks, on one card, and on 100 cards while another process
holds SQLite's write lock. Every click must be acked within Slack's 3 s; every case ends with
exactly one owner and one `claimed` event."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx

from claims import Click, seed_cases, wait_published
from faults.common import ACK_LIMIT, Bench, RowResult, Stack, note_log, settle
from socialdesk.slack import ids
from tests.support.slack_emulator import BOT_NAME
from tests.support.slack_signing import FORM, block_actions_body, new_trigger_id, sign


@dataclass
class Shot:
    click: Click
    sent_at: float  # perf_counter when the POST started
    seconds: float  # until the answer (the ack)
    status: int | None
    error: str = ""


def fire(s: Stack, clicks: list[Click], on_release=None) -> list[Shot]:  # type: ignore[no-untyped-def]
    """All clicks at once, one thread each, released by a barrier once every thread has its client
    (building an httpx.Client costs ~20 ms of CPU; see bench/claims.py). `on_release` runs as the
    barrier opens. The request is what Slack sends: a signed block_actions Claim."""
    barrier = threading.Barrier(len(clicks), action=on_release)

    def one(click: Click) -> Shot:
        body = block_actions_body(user_id=click.user_id, user_name=click.user_name, team_id=s.emu.team_id,
                                  channel_id=click.channel, message_ts=click.message_ts, action_id=ids.CLAIM,
                                  value=str(click.case_id), block_id="actions", trigger_id=new_trigger_id())
        with httpx.Client(timeout=30) as client:
            barrier.wait()
            started = time.perf_counter()
            try:
                resp = client.post(s.app.events_url, content=body, headers={"Content-Type": FORM, **sign(body, s.secret)})
            except httpx.HTTPError as exc:
                return Shot(click, started, time.perf_counter() - started, None, f"{type(exc).__name__}: {exc}")
            return Shot(click, started, time.perf_counter() - started, resp.status_code)

    with ThreadPoolExecutor(max_workers=len(clicks)) as pool:
        return list(pool.map(one, clicks))


def people(s: Stack) -> list[tuple[str, str]]:
    return sorted((n, u) for n, u in s.emu.users.items() if n != BOT_NAME)


def claimed(s: Stack, case_ids: list[int]) -> tuple[dict[int, str | None], dict[int, list[str]]]:
    """Each case's assignee, and the actors of its `claimed` events."""
    ids_ = ",".join(map(str, case_ids))
    owners = {r[0]: r[1] for r in s.rows(f"SELECT id, assignee FROM cases WHERE id IN ({ids_})")}
    events: dict[int, list[str]] = {c: [] for c in case_ids}
    for case_id, actor in s.rows(f"SELECT case_id, actor FROM case_events WHERE kind = 'claimed' AND case_id IN ({ids_})"):
        events[case_id].append(actor)
    return owners, events


def tally_claims(s: Stack, r: RowResult, shots: list[Shot], label: str, timeout: float = 30) -> None:
    """Lost: cases left without an owner. Duplicated: `claimed` events past the first."""
    case_ids = sorted({x.click.case_id for x in shots})
    settle(lambda: all(claimed(s, case_ids)[0].values()), timeout=timeout)
    owners, events = claimed(s, case_ids)
    clickers: dict[int, set[str]] = {}
    for x in shots:
        clickers.setdefault(x.click.case_id, set()).add(x.click.user_id)
    unowned = [c for c in case_ids if not owners.get(c)]
    wrong = [c for c in case_ids if owners.get(c) and owners[c] not in clickers[c]]
    r.add_lost(len(unowned))
    r.add_duplicated(sum(max(len(e) - 1, 0) for e in events.values()))
    r.check(not unowned, f"{label}: {len(unowned)} case(s) without an owner: {unowned[:10]}")
    r.check(not wrong, f"{label}: owned by someone who did not click: {wrong[:10]}")
    doubled = {c: e for c, e in events.items() if len(e) > 1}
    r.check(not doubled, f"{label}: cases with several 'claimed' events: {dict(list(doubled.items())[:5])}")


def tally_acks(r: RowResult, shots: list[Shot], label: str) -> None:
    failed = [x for x in shots if x.status != 200]
    slow = [x for x in shots if x.status == 200 and x.seconds > ACK_LIMIT]
    r.acks += [x.seconds for x in shots if x.status == 200]
    r.check(not failed, f"{label}: {len(failed)} of {len(shots)} clicks not acked, e.g. "
                        f"{failed[0].status if failed else ''} {failed[0].error[:80] if failed else ''}")
    r.check(not slow, f"{label}: {len(slow)} of {len(shots)} clicks acked after more than {ACK_LIMIT:.0f} s "
                      f"(slowest {max((x.seconds for x in slow), default=0):.1f} s)")


# --- 7 -----------------------------------------------------------------------------------------

def claim_race(bench: Bench, tries: int, clicks: int = 50) -> RowResult:
    r = RowResult(tries=tries)
    with Stack(bench, "claim-race") as s:
        s.start()
        agents = [p for p in people(s) if p[0].startswith("agent")]
        channel = s.emu.new_channel("race")
        for i in range(tries):
            [case_id] = seed_cases(s.engine, [channel], 1, tag=f"race{i}")
            [(chan, ts)] = wait_published(s.engine, [case_id], timeout=30).values()
            shots = fire(s, [Click(case_id, agents[k % len(agents)][1], agents[k % len(agents)][0], chan, ts)
                             for k in range(clicks)])
            tally_acks(r, shots, f"try {i + 1}")
            tally_claims(s, r, shots, f"try {i + 1}")
            owner = claimed(s, [case_id])[0][case_id]
            told = settle(lambda: (t := losers_told(s, case_id, owner)) >= clicks - 1 and t, timeout=20) or losers_told(s, case_id, owner)
            r.check(told == clicks - 1, f"try {i + 1}: {told} of {clicks - 1} losing clicks were told who won")
        note_log(r, s, fail=False)
    r.done = (f"{clicks} signed Claim clicks by {min(clicks, 20)} agents released at once on one fresh card, {tries}x: "
              "acks timed; owner and 'claimed' events from the database; losers' ephemerals at the Slack proxy")
    return r


def losers_told(s: Stack, case_id: int, owner: str | None) -> int:
    return sum(1 for c in s.proxy.calls_to("chat.postEphemeral")
               if f"#{case_id} is already claimed by <@{owner}>" in c.params.get("text", ""))


# --- 12 ----------------------------------------------------------------------------------------

LOCKER = textwrap.dedent("""
    import sqlite3, sys, time
    conn = sqlite3.connect(sys.argv[1], timeout=30, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")  # SQLite's write lock (WAL: readers go on, writers wait)
    print("locked", flush=True)
    sys.stdin.readline()  # "go": the clicks are on their way
    time.sleep(float(sys.argv[2]))
    conn.execute("COMMIT")
    print("released", flush=True)
""")


def db_locked(bench: Bench, tries: int, cards_per_try: int = 100, hold: float = 5.0) -> RowResult:
    r = RowResult(tries=tries)
    with Stack(bench, "db-locked") as s:
        s.start()
        everyone = people(s)
        db_path = s.db_url.removeprefix("sqlite:///")
        for i in range(tries):
            channels = [s.emu.new_channel(f"lock{i}") for _ in range(10)]
            case_ids = seed_cases(s.engine, channels, cards_per_try, tag=f"lock{i}")
            published = wait_published(s.engine, case_ids, timeout=120)
            clicks = [Click(c, everyone[k % len(everyone)][1], everyone[k % len(everyone)][0], *published[c])
                      for k, c in enumerate(case_ids)]
            shots, spread = clicks_under_lock(s, clicks, db_path, hold)
            tally_acks(r, shots, f"try {i + 1}")
            t = time.perf_counter()
            tally_claims(s, r, shots, f"try {i + 1}", timeout=60)
            r.notes.append(f"try {i + 1}: acks median {sorted(x.seconds for x in shots)[len(shots) // 2]:.2f} s, "
                           f"max {max(x.seconds for x in shots):.2f} s; {sum(x.seconds > ACK_LIMIT for x in shots)} over "
                           f"{ACK_LIMIT:.0f} s; all clicks sent within {spread:.2f} s of the {hold:.0f} s lock starting; "
                           f"every case claimed {time.perf_counter() - t:.1f} s after the last ack")
        note_log(r, s, fail=False)
    r.done = (f"another process held SQLite's write lock (BEGIN IMMEDIATE) for {hold:.0f} s while {cards_per_try} "
              f"Claim clicks on {cards_per_try} cards (one each, 24 users) arrived at once, {tries}x: acks timed, "
              "owners counted after the lock was released")
    return r


def clicks_under_lock(s: Stack, clicks: list[Click], db_path: str, hold: float) -> tuple[list[Shot], float]:
    """Fire `clicks` while a separate process holds the write lock for `hold` s from the moment they go;
    (shots, seconds from the lock's `hold` starting to the last click sent)."""
    locker = subprocess.Popen([sys.executable, "-c", LOCKER, db_path, str(hold)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        if locker.stdout.readline().strip() != "locked":  # type: ignore[union-attr]
            raise RuntimeError("the locking process did not take the lock")
        go = time.perf_counter()

        def release_clicks() -> None:
            nonlocal go
            go = time.perf_counter()
            locker.stdin.write("go\n")  # type: ignore[union-attr]
            locker.stdin.flush()  # type: ignore[union-attr]

        shots = fire(s, clicks, on_release=release_clicks)
        locker.wait(timeout=hold + 30)
        return shots, max(x.sent_at for x in shots) - go
    finally:
        if locker.poll() is None:
            locker.kill()
            locker.wait()
