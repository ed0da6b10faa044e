"""Claim acknowledgement latency through the real running app.

Starts the Slack emulator and `socialdesk run` (HTTP mode, SQLite), seeds cases in
the app's database, lets the running app publish their cards, then fires
concurrent signed `block_actions` Claim clicks at /slack/events:

  (a) one click on each of 50 different cases;
  (b) 50 clicks on one case by 20 different users.

For each POST it records the HTTP response time (Slack needs the ack within 3 s)
and prints median, p95, p99 and max; then it checks the outcome in the database
(exactly one owner and one `claimed` event per case) and in Slack (one thread
note per claimed case, losers told who won). Figures only; nothing here asserts
a time.

    python bench/claims.py                 # 50 cases, 50 clicks per scenario
    python bench/claims.py --rounds 5      # repeat both scenarios on fresh cases
"""

from __future__ import annotations

import argparse
import csv
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # tests.support

import httpx  # noqa: E402
from sqlalchemy import func  # noqa: E402
from sqlmodel import col, select  # noqa: E402

from socialdesk.domain import EventKind  # noqa: E402
from socialdesk.slack import ids  # noqa: E402
from socialdesk.store.db import make_engine, session_scope, utcnow  # noqa: E402
from socialdesk.store.ingest import store_posts  # noqa: E402
from socialdesk.store.models import CaseEventRow, CaseRow  # noqa: E402
from socialdesk.store.rules import add_rule  # noqa: E402
from tests.support import slack_emulator  # noqa: E402
from tests.support.factories import x_post  # noqa: E402
from tests.support.ports import free_port  # noqa: E402
from tests.support.slack_signing import FORM, block_actions_body, new_trigger_id, sign  # noqa: E402
from bench._report import add_json_option, write_json  # noqa: E402

SLACK_ACK_LIMIT = 3.0  # seconds Slack waits for the ack before showing the user an error
TEXTS = ["my Acme phone won't charge", "@acmephones battery dies by noon", "screen cracked, is it covered?",
         "stuck on the boot logo since the update", "repair takes two weeks??"]


@dataclass
class Click:
    case_id: int
    user_id: str
    user_name: str
    channel: str
    message_ts: str


@dataclass
class Outcome:
    click: Click
    seconds: float
    status: int | None
    body: str
    error: str | None = None


# --- processes ------------------------------------------------------------------------

def start_app(workdir: Path, db_url: str, emu_url: str, secret: str) -> tuple[subprocess.Popen, str, Path]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOCIALDESK_", "SLACK_"))}
    env |= {
        "SOCIALDESK_DATABASE_URL": db_url,
        # The emulator accepts any token and budgets 5000 requests/hour per token string.
        "SLACK_BOT_TOKEN": f"xoxb-bench-{secrets.token_hex(8)}",
        "SLACK_SIGNING_SECRET": secret,
        "SOCIALDESK_SLACK_API_URL": emu_url,
        "SOCIALDESK_HTTP_HOST": "127.0.0.1",
        "SOCIALDESK_HTTP_PORT": str(port),
    }
    exe = shutil.which("socialdesk")
    argv = [exe, "run"] if exe else [sys.executable, "-m", "socialdesk", "run"]
    log = workdir / "socialdesk.log"
    proc = subprocess.Popen(argv, cwd=workdir, env=env, stdin=subprocess.DEVNULL,
                            stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"socialdesk run exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                return proc, base, log
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    stop_app(proc)
    raise RuntimeError(f"socialdesk run did not answer /healthz within 60 s:\n{log.read_text()[-3000:]}")


def stop_app(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()  # SIGTERM: the app stops cleanly
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


class SlowSlack:
    """A pass-through proxy in front of the emulator that adds `delay` seconds to every
    Web API call, as the real Slack API's round trip would (the emulator answers in ~1 ms)."""

    def __init__(self, target: str, delay: float) -> None:
        target = target.rstrip("/")
        client = httpx.Client(timeout=30)

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
                time.sleep(delay)
                answer = client.request(self.command, target + self.path, content=body, headers=headers)
                self.send_response(answer.status_code)
                for name in ("content-type", "retry-after"):
                    if name in answer.headers:
                        self.send_header(name, answer.headers[name])
                self.send_header("content-length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

            do_GET = do_POST

        ThreadingHTTPServer.request_queue_size = 128  # the default listen backlog of 5 would drop SYNs
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._client = client
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/api/"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._client.close()


# --- seeding --------------------------------------------------------------------------

def seed_cases(engine, channels: list[str], count: int, tag: str) -> list[int]:  # type: ignore[no-untyped-def]
    """`count` new cases spread over `channels` (round-robin), each under a paused rule
    (so the app does not try to poll X for it)."""
    now = utcnow()
    case_ids: list[int] = []
    with session_scope(engine) as session:
        rules = {}
        for channel in channels:
            rule = add_rule(session=session, network="x", query=f"acme phone bench {tag}", channel_id=channel,
                            every_seconds=60, lang=None, include_reposts=False, now=now)
            rule.paused = True
            session.add(rule)
            rules[channel] = rule.id
        for i in range(count):
            channel = channels[i % len(channels)]
            post = x_post(TEXTS[i % len(TEXTS)], handle=f"cust{tag}{i}")
            case_ids += store_posts(session=session, posts=[post], rule_id=rules[channel], channel_id=channel, now=now)
    return case_ids


def wait_published(engine, case_ids: list[int], timeout: float) -> dict[int, tuple[str, str]]:  # type: ignore[no-untyped-def]
    """Wait for the running app to post every card; returns case id → (channel, ts)."""
    deadline = time.monotonic() + timeout
    while True:
        with session_scope(engine) as session:
            rows = session.exec(select(CaseRow).where(col(CaseRow.id).in_(case_ids))).all()
        cards = {r.id: (r.channel_id, r.message_ts) for r in rows if r.message_ts}
        if len(cards) == len(case_ids):
            return cards  # type: ignore[return-value]
        if time.monotonic() > deadline:
            errors = {r.id: r.publish_error for r in rows if r.publish_error}
            raise RuntimeError(f"only {len(cards)}/{len(case_ids)} cards published in {timeout:.0f} s; errors: {errors}")
        time.sleep(0.2)


# --- clicking -------------------------------------------------------------------------

def fire(url: str, secret: str, team_id: str, clicks: list[Click]) -> list[Outcome]:
    """All clicks at once: every thread waits at a barrier, then POSTs.

    Each thread builds its httpx.Client before the barrier: `post_signed` makes a new
    client per call, and building one costs ~20 ms of CPU (its SSL context), which
    for 50 threads on 2 cores would be timed as ack latency. The request is the one
    `post_signed` sends (same body, Content-Type and `sign()` headers).
    """
    barrier = threading.Barrier(len(clicks))

    def one(click: Click) -> Outcome:
        body = block_actions_body(
            user_id=click.user_id, user_name=click.user_name, team_id=team_id, channel_id=click.channel,
            message_ts=click.message_ts, action_id=ids.CLAIM, value=str(click.case_id), block_id="actions",
            trigger_id=new_trigger_id(),
        )
        with httpx.Client(timeout=10) as client:
            barrier.wait()
            started = time.perf_counter()
            try:
                response = client.post(url, content=body, headers={"Content-Type": FORM, **sign(body, secret)})
            except httpx.HTTPError as exc:
                return Outcome(click, time.perf_counter() - started, None, "", f"{type(exc).__name__}: {exc}")
            return Outcome(click, time.perf_counter() - started, response.status_code, response.text[:200])

    with ThreadPoolExecutor(max_workers=len(clicks)) as pool:
        return list(pool.map(one, clicks))


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * p // 100))
    return ordered[int(rank) - 1]


def latency_line(label: str, outcomes: list[Outcome]) -> str:
    ms = [o.seconds * 1000 for o in outcomes]
    slow = sum(o.seconds > SLACK_ACK_LIMIT for o in outcomes)
    return (f"{label:<34} n={len(ms):<4} median {statistics.median(ms):7.1f} ms   p95 {percentile(ms, 95):7.1f} ms   "
            f"p99 {percentile(ms, 99):7.1f} ms   max {max(ms):7.1f} ms   over 3 s: {slow}")


# --- checking -------------------------------------------------------------------------

def settle(engine, case_ids: list[int], timeout: float = 30) -> tuple[dict[int, CaseRow], dict[int, list[str]]]:  # type: ignore[no-untyped-def]
    """Wait for every case to be claimed; returns the cases and each case's `claimed` event actors."""
    deadline = time.monotonic() + timeout
    while True:
        with session_scope(engine) as session:
            cases = {c.id: c for c in session.exec(select(CaseRow).where(col(CaseRow.id).in_(case_ids)))}
            events: dict[int, list[str]] = {cid: [] for cid in case_ids}
            for e in session.exec(select(CaseEventRow).where(col(CaseEventRow.case_id).in_(case_ids),
                                                             CaseEventRow.kind == EventKind.CLAIMED.value)):
                events[e.case_id].append(e.actor)
        if all(c.assignee for c in cases.values()) or time.monotonic() > deadline:
            return cases, events  # type: ignore[return-value]
        time.sleep(0.2)


def check(engine, emu, outcomes: list[Outcome], problems: list[str], label: str) -> None:  # type: ignore[no-untyped-def]
    not_acked = [o for o in outcomes if o.status != 200]
    for o in not_acked[:5]:
        problems.append(f"{label}: click on case {o.click.case_id} by {o.click.user_id} not acknowledged: "
                        f"status {o.status} {o.error or o.body!r}")
    if len(not_acked) > 5:
        problems.append(f"{label}: … {len(not_acked) - 5} more clicks not acknowledged")

    clickers: dict[int, set[str]] = {}
    for o in outcomes:
        clickers.setdefault(o.click.case_id, set()).add(o.click.user_id)
    cases, events = settle(engine, list(clickers))
    owners = 0
    for case_id, users in clickers.items():
        case = cases[case_id]
        claimed = events[case_id]
        if case.status != "claimed" or not case.assignee:
            problems.append(f"{label}: case {case_id} has no owner (status {case.status}) after the clicks")
            continue
        if case.assignee not in users:
            problems.append(f"{label}: case {case_id} is owned by {case.assignee}, who did not click")
        if claimed != [case.assignee]:
            problems.append(f"{label}: case {case_id} has claimed events by {claimed}, owner {case.assignee}")
        if case.version != 2:
            problems.append(f"{label}: case {case_id} version {case.version} (one claim makes it 2)")
        owners += 1
    clicks_per_case = Counter(o.click.case_id for o in outcomes)
    print(f"  owners: {owners}/{len(clickers)} cases have exactly one owner and one 'claimed' event"
          + (f"; case {next(iter(clickers))} won by {cases[next(iter(clickers))].assignee} "
             f"out of {len(next(iter(clickers.values())))} users / {clicks_per_case.most_common(1)[0][1]} clicks"
             if len(clickers) == 1 else ""))
    check_slack(emu, cases, clicks_per_case, problems, label)


def check_slack(emu, cases: dict[int, CaseRow], clicks: Counter, problems: list[str], label: str,  # type: ignore[no-untyped-def]
                timeout: float = 30) -> None:
    """After the acks the app updates the card, notes the claim in the thread and tells losers."""
    deadline = time.monotonic() + timeout
    while True:
        notes = {cid: [m for m in emu.replies(c.channel_id, c.message_ts)[1:] if "claimed this case" in m.get("text", "")]
                 for cid, c in cases.items()}
        if all(len(n) >= 1 for n in notes.values()) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    wrong = {cid: len(n) for cid, n in notes.items() if len(n) != 1}
    if wrong:
        problems.append(f"{label}: thread notes per case should be 1, got {wrong}")
    stale = []
    for cid, case in cases.items():
        card = next((m for m in emu.history(case.channel_id) if m.get("ts") == case.message_ts), None)
        status = next((b for b in (card or {}).get("blocks", []) if b.get("block_id") == "status"), {})
        if f"<@{case.assignee}>" not in str(status):
            stale.append(cid)
    if stale:
        problems.append(f"{label}: cards not updated to show the owner: cases {stale[:10]}")
    losers = {cid: n - 1 for cid, n in clicks.items() if n > 1}
    for cid, expected in losers.items():
        case = cases[cid]
        while True:  # the losers' replies go out after their acks, a few at a time
            texts = [t for t in emu.ephemeral_texts(case.channel_id) if f"#{cid}" in t]
            told = [t for t in texts if f"already claimed by <@{case.assignee}>" in t]
            if len(texts) >= min(expected, 20) or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        # The inspector lists at most 20 ephemerals per channel.
        print(f"  losers: {len(told)} of the {min(expected, 20)} most recent ephemerals visible say "
              f"'already claimed by <@{case.assignee}>' ({expected} losing clicks)")
        if len(told) < min(expected, 20) or len(told) != len(texts):
            problems.append(f"{label}: losers' ephemerals: {len(told)}/{len(texts)} name the winner, "
                            f"expected {min(expected, 20)}")
    print(f"  slack: {len(notes) - len(wrong)}/{len(notes)} threads have one claim note; "
          f"{len(cases) - len(stale)}/{len(cases)} cards show the owner")


BOLT_TOKEN_WARNING = "As you gave `client` as well, `token` will be unused."


def app_log_findings(log: Path) -> tuple[list[str], list[str]]:
    """(notes, problems) from the app's log. Notes: waitress queueing under the burst, and
    bolt's start-up warning (App() reads SLACK_BOT_TOKEN itself although app.build passes
    a client). Any other warning or error is a problem."""
    lines = log.read_text(errors="replace").splitlines()
    bad = [ln for ln in lines if any(w in ln for w in (" ERROR ", " CRITICAL ", "Traceback", " WARNING "))]
    depths = [int(ln.rsplit(" ", 1)[1]) for ln in bad if "Task queue depth is" in ln]
    limits = [ln for ln in bad if "connection limit" in ln]
    token = [ln for ln in bad if BOLT_TOKEN_WARNING in ln]
    other = [ln for ln in bad if ln not in limits and ln not in token and "Task queue depth is" not in ln]
    notes, problems = [], []
    if depths:
        notes.append(f"waitress logged 'Task queue depth is N' {len(depths)} times (deepest {max(depths)}): "
                     "requests waited for one of its 32 threads")
    if limits:
        notes.append(f"waitress reached its connection limit {len(limits)} times (stopped accepting for a moment)")
    if token:
        notes.append(f"slack_bolt warned at start: {BOLT_TOKEN_WARNING!r}")
    if other:
        problems.append(f"the app logged {len(other)} other warning/error lines, e.g.:\n    " + "\n    ".join(other[:10]))
    return notes, problems


# --- main -----------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=50, help="cases for scenario (a), one click each (default 50)")
    parser.add_argument("--clicks", type=int, default=50, help="clicks on the one case in scenario (b) (default 50)")
    parser.add_argument("--users", type=int, default=20, help="distinct users clicking in scenario (b) (default 20)")
    parser.add_argument("--channels", type=int, default=10,
                        help="channels to spread cards over; the app posts ~1 card/s per channel (default 10)")
    parser.add_argument("--rounds", type=int, default=1, help="repeat both scenarios on fresh cases (default 1)")
    parser.add_argument("--slack-latency", type=float, default=0, metavar="MS",
                        help="add this many ms to each of the app's Slack Web API calls (default 0: the bare emulator)")
    parser.add_argument("--keep", action="store_true",
                        help="keep the work directory (app and emulator logs, database, clicks.csv)")
    add_json_option(parser)
    args = parser.parse_args(argv)

    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--", "src"], cwd=REPO, capture_output=True, text=True).stdout
    print(f"code: {head or 'unknown'}{' + uncommitted changes in src/' if dirty.strip() else ''}")
    print(f"{os.cpu_count()} CPUs, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} "
          "(other work on the machine skews the figures)")
    workdir = Path(tempfile.mkdtemp(prefix="socialdesk-claims-"))
    secret = secrets.token_hex(16)
    problems: list[str] = []
    all_a: list[Outcome] = []
    all_b: list[Outcome] = []
    emu, emu_proc = slack_emulator.start(REPO, workdir)
    app = None
    slow = SlowSlack(emu.base, args.slack_latency / 1000) if args.slack_latency else None
    try:
        db_url = f"sqlite:///{workdir / 'socialdesk.db'}"
        app, base, log = start_app(workdir, db_url, slow.url if slow else emu.url, secret)
        print(f"emulator {emu.base}, app {base} (log {log})"
              + (f"; the app's Slack calls take +{args.slack_latency:.0f} ms" if slow else ""))
        engine = make_engine(db_url)
        humans = {n: uid for n, uid in emu.users.items() if n != slack_emulator.BOT_NAME}
        agents = [(n, humans[n]) for n in sorted(humans) if n.startswith("agent")][: args.users]
        everyone = sorted(humans.items())
        for round_no in range(1, args.rounds + 1):
            channels = [emu.new_channel("bench") for _ in range(args.channels)]
            t = time.perf_counter()
            case_ids = seed_cases(engine, channels, args.cases + 1, tag=f"r{round_no}")
            cards = wait_published(engine, case_ids, timeout=args.cases / args.channels * 3 + 60)
            print(f"\nround {round_no}: {len(case_ids)} cases seeded and their cards published by the app "
                  f"in {time.perf_counter() - t:.1f} s over {len(channels)} channels")

            spread, single = case_ids[: args.cases], case_ids[args.cases]
            clicks_a = [Click(cid, everyone[i % len(everyone)][1], everyone[i % len(everyone)][0], *cards[cid])
                        for i, cid in enumerate(spread)]
            out_a = fire(base + "/slack/events", secret, emu.team_id, clicks_a)
            all_a += out_a
            print(latency_line(f"(a) {len(clicks_a)} clicks, {len(spread)} cases", out_a))
            check(engine, emu, out_a, problems, f"round {round_no} (a)")

            clicks_b = [Click(single, agents[i % len(agents)][1], agents[i % len(agents)][0], *cards[single])
                        for i in range(args.clicks)]
            out_b = fire(base + "/slack/events", secret, emu.team_id, clicks_b)
            all_b += out_b
            print(latency_line(f"(b) {len(clicks_b)} clicks, 1 case, {len(agents)} users", out_b))
            check(engine, emu, out_b, problems, f"round {round_no} (b)")
        engine.dispose()

        if args.rounds > 1:
            print("\nall rounds")
            print(latency_line("(a) different cases", all_a))
            print(latency_line("(b) same case", all_b))
            print(latency_line("(a)+(b)", all_a + all_b))
    finally:
        if app is not None:
            stop_app(app)
        if slow is not None:
            slow.close()
        slack_emulator.stop(emu_proc)

    notes, log_problems = app_log_findings(workdir / "socialdesk.log")
    problems += log_problems
    with (workdir / "clicks.csv").open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["scenario", "case_id", "user_id", "seconds", "status", "error"])
        for scenario, outcomes in (("a", all_a), ("b", all_b)):
            out.writerows([scenario, o.click.case_id, o.click.user_id, f"{o.seconds:.4f}", o.status, o.error or ""]
                          for o in outcomes)
    every = [o.seconds * 1000 for o in all_a + all_b if o.status == 200]
    write_json(args.json, {
        "clicks": len(all_a) + len(all_b), "answered": len(every), "problems": problems,
        "p99_ms": percentile(every, 99) if every else None, "median_ms": statistics.median(every) if every else None,
        "over_3s": sum(1 for o in all_a + all_b if o.seconds > SLACK_ACK_LIMIT),
    })
    print("\nnotes from the app's log:")
    for n in notes:
        print(f"  - {n}")
    print("\nproblems:" if problems else "\nno problems: every click acknowledged, one owner per case, Slack updated")
    for p in problems:
        print(f"  - {p}")
    if args.keep or problems:
        print(f"work directory kept: {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
