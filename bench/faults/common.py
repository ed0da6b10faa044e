"""What every fault row shares: one stack per row (its own FakeX, a SlackProxy in front of the
shared Slack emulator, a SQLite database and `socialdesk run` as a process), signed requests
timed on a reused HTTP client, and tallies taken from the database and the emulator's messages.

Nothing here reads the app's log to decide what was lost or doubled; the log is read only for
tracebacks and 500s.
"""

from __future__ import annotations

import dataclasses
import signal
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))  # tests.support
sys.path.insert(0, str(REPO / "bench"))  # bench/claims.py (seeding, waiting for cards)

import httpx  # noqa: E402
from sqlalchemy import text  # noqa: E402

from socialdesk.networks.x.fake.server import FakeX  # noqa: E402
from socialdesk.store.db import make_engine, upgrade  # noqa: E402
from tests.e2e.helpers import case_id_of, cards  # noqa: E402
from tests.support.app_process import AppProcess, app_env  # noqa: E402
from tests.support.slack_emulator import SlackEmulator  # noqa: E402
from tests.support.slack_proxy import SlackProxy  # noqa: E402
from tests.support.slack_signing import FORM, block_actions_body, new_trigger_id, sign, slash_command_body  # noqa: E402
from tests.support.waiting import wait_for  # noqa: E402

# The local servers here (SlackProxy, FakeX, FlakyX) are ThreadingHTTPServers, whose listen backlog of 5
# resets the app's connections when 50 clicks make it call Slack at once: a fault of the harness, not
# one under test (bench/claims.py raises it the same way).
ThreadingHTTPServer.request_queue_size = 128

X_TOKEN = "bench-faults-bearer"
ACK_LIMIT = 3.0  # seconds Slack waits for an answer
POST_INTERVAL = "0.3"  # seconds between cards in a channel (as the e2e tests run it; Slack's pace is ~1)
T = TypeVar("T")


@dataclass
class RowResult:
    """One row of the table. `lost`/`duplicated` None print as '-' (not measured by that row)."""

    tries: int = 0
    done: str = ""  # one line: what the row did
    lost: int | None = None
    duplicated: int | None = None
    acks: list[float] = field(default_factory=list)  # seconds until Slack's requests were answered 2xx
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    workdir: Path | None = None

    @property
    def worst_ack_ms(self) -> float | None:
        return max(self.acks) * 1000 if self.acks else None

    @property
    def passed(self) -> bool:
        return not self.problems

    def check(self, ok: bool, problem: str) -> bool:
        if not ok:
            self.problems.append(problem)
        return ok

    def add_lost(self, n: int) -> None:
        self.lost = (self.lost or 0) + n

    def add_duplicated(self, n: int) -> None:
        self.duplicated = (self.duplicated or 0) + n


@dataclass
class Bench:
    emu: SlackEmulator  # one emulator for the whole run; every row works in channels of its own
    workdir: Path


def settle(check: Callable[[], T], *, timeout: float, every: float = 0.2) -> T:
    """`check()` once it is truthy, or its last value after `timeout` (no exception: rows measure)."""
    try:
        return wait_for(check, timeout=timeout, what="", every=every)
    except AssertionError:
        return check()


class Stack:
    """One row's world. `with Stack(bench, "name") as s: s.start() …`; everything is stopped on exit."""

    def __init__(self, bench: Bench, name: str, *, x_front: Callable[[str], Any] | None = None,
                 slack_front: Callable[[str], Any] | None = None, **env: str) -> None:
        self.workdir = bench.workdir / name
        self.workdir.mkdir(parents=True, exist_ok=True)
        # A token of its own for reading channels: the emulator budgets 5,000 calls an hour per token.
        self.emu = dataclasses.replace(bench.emu, observer_token=f"xoxp-bench-{uuid.uuid4().hex[:12]}")
        self.fake = FakeX(bearer_token=X_TOKEN, own_username="acmephones", require_user_context=True).start()
        self.x_front = x_front(self.fake.url) if x_front else None  # e.g. a proxy that cuts connections
        # app -> SlackProxy (records calls, answers 429) [-> slack_front, e.g. one that holds calls] -> emulator
        self.slack_front = slack_front(self.emu.url) if slack_front else None
        self.proxy = SlackProxy(self.slack_front.url if self.slack_front else self.emu.url).__enter__()
        quiet_disconnects(self.proxy._server)
        self.db_url = f"sqlite:///{self.workdir / 'socialdesk.db'}"
        self.engine = make_engine(self.db_url)
        upgrade(self.engine)  # the app migrates too; seeding may come first
        x_url = self.x_front.url if self.x_front else self.fake.url
        self.app = AppProcess(
            env=app_env(db_url=self.db_url, slack_api_url=self.proxy.url, x_url=x_url, x_token=X_TOKEN,
                        SOCIALDESK_SLACK_POST_INTERVAL=POST_INTERVAL, **env),
            log_path=self.workdir / "app.log",
        )
        self.http = httpx.Client(timeout=15)

    def __enter__(self) -> Stack:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for step in (self._stop_app, self.http.close, self.engine.dispose,
                     lambda: self.proxy.__exit__(None, None, None),
                     lambda: self.slack_front.close() if self.slack_front else None,
                     lambda: self.x_front.close() if self.x_front else None, self.fake.stop):
            try:
                step()
            except Exception as exc:  # noqa: BLE001 - tear everything down whatever failed
                print(f"  (cleanup: {type(exc).__name__}: {exc})")

    def _stop_app(self) -> None:
        if self.app.proc is not None and self.app.proc.poll() is None:
            self.app.stop(signal.SIGTERM)

    # --- the app -------------------------------------------------------------------------
    def start(self) -> None:
        self.app.start(timeout=60)

    def log(self) -> str:
        return self.app.log()

    @property
    def secret(self) -> str:
        return self.app.signing_secret

    def uid(self, user: str) -> str:
        return self.emu.users[user]

    # --- Slack -> app ----------------------------------------------------------------------
    def send(self, body: bytes, content_type: str = FORM, *, timestamp: int | None = None,
             headers: dict[str, str] | None = None, signed: bool = True) -> tuple[httpx.Response, float]:
        """POST to /slack/events as Slack would (signed now, or at `timestamp`); (response, seconds)."""
        all_headers = {"Content-Type": content_type, **(sign(body, self.secret, timestamp) if signed else {}),
                       **(headers or {})}
        started = time.perf_counter()
        response = self.http.post(self.app.events_url, content=body, headers=all_headers)
        return response, time.perf_counter() - started

    def command(self, user: str, text_: str, channel: str) -> bytes:
        return slash_command_body(command="/social", text=text_, user_id=self.uid(user), user_name=user,
                                  channel_id=channel, team_id=self.emu.team_id, trigger_id=new_trigger_id())

    def click(self, user: str, card: dict, action_id: str, value: str, *, channel: str,
              action_type: str = "button", trigger_id: str | None = None) -> bytes:
        return block_actions_body(user_id=self.uid(user), user_name=user, team_id=self.emu.team_id,
                                  channel_id=channel, message_ts=card["ts"], action_id=action_id, value=value,
                                  trigger_id=trigger_id or new_trigger_id(), message=card, action_type=action_type)

    def told(self, user: str) -> list[str]:
        """What the app told `user` through Slack: ephemerals anywhere, and DMs (as the proxy saw them)."""
        uid = self.uid(user)
        return ([c.params.get("text", "") for c in self.proxy.calls_to("chat.postEphemeral") if c.params.get("user") == uid]
                + [c.params.get("text", "") for c in self.proxy.calls_to("chat.postMessage") if c.params.get("channel") == uid])

    # --- the database ------------------------------------------------------------------------
    def rows(self, sql: str, **params: Any) -> list[Any]:
        with self.engine.connect() as conn:
            return list(conn.execute(text(sql), params))

    def scalar(self, sql: str, **params: Any) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(text(sql), params).scalar()

    def events_of(self, case_ids: Iterable[int], kind: str) -> Counter[int]:
        ids = ",".join(str(int(c)) for c in case_ids) or "0"
        return Counter(r[0] for r in self.rows(f"SELECT case_id FROM case_events WHERE kind = :k AND case_id IN ({ids})",
                                               k=kind))

    def add_rule(self, query: str, channel: str, every: int = 5) -> int:
        from socialdesk.store.db import session_scope, utcnow
        from socialdesk.store.rules import add_rule

        with session_scope(self.engine) as session:
            return add_rule(session=session, network="x", query=query, channel_id=channel, every_seconds=every,
                            lang=None, include_reposts=False, now=utcnow()).id  # type: ignore[return-value]

    def first_poll_done(self, timeout: float = 30) -> bool:
        return bool(settle(lambda: (at := self.rows("SELECT last_success_at FROM rules")) and all(r[0] for r in at),
                           timeout=timeout))

    def cases_of_posts(self, external_ids: Iterable[str]) -> dict[str, int | None]:
        wanted = list(external_ids)
        found = {r[0]: r[1] for r in self.rows("SELECT external_id, case_id FROM posts WHERE network = 'x'")}
        return {e: found.get(e) for e in wanted}

    # --- tallies ---------------------------------------------------------------------------------
    def slack_cards(self, channels: Iterable[str]) -> Counter[int]:
        """case id -> how many cards for it the emulator holds in these channels."""
        counts: Counter[int] = Counter()
        for channel in channels:
            counts.update(case_id_of(c) for c in cards(self.emu, channel))
        return counts

    def card_tally(self, case_ids: list[int], channels: Iterable[str]) -> tuple[int, int, list[str]]:
        """(lost, duplicated, details) for cases that should each have exactly one card.

        Lost: no card in Slack, or no ts recorded. Duplicated: cards in Slack past the first,
        plus `card_posted` events past the first (the database saying it posted twice)."""
        in_slack = self.slack_cards(channels)
        ids = ",".join(str(c) for c in case_ids) or "0"
        recorded = {r[0]: r[1] for r in self.rows(f"SELECT id, message_ts FROM cases WHERE id IN ({ids})")}
        posted = self.events_of(case_ids, "card_posted")
        lost = [c for c in case_ids if not in_slack[c] or not recorded.get(c)]
        doubled = {c: in_slack[c] for c in case_ids if in_slack[c] > 1}
        events_doubled = {c: n for c, n in posted.items() if n > 1}
        details = []
        if lost:
            details.append(f"cases without a card: {lost[:10]}{' …' if len(lost) > 10 else ''}")
        if doubled:
            details.append(f"cases with more than one card: {dict(list(doubled.items())[:10])}")
        if events_doubled:
            details.append(f"cases with more than one card_posted event: {dict(list(events_doubled.items())[:10])}")
        dup = sum(n - 1 for n in doubled.values()) + sum(n - 1 for n in events_doubled.values())
        return len(lost), dup, details


def quiet_disconnects(server: ThreadingHTTPServer) -> None:
    """A killed app leaves the proxy answering into a closed socket; socketserver would print each
    BrokenPipeError's traceback on our stderr. Other errors are still printed."""
    default = server.handle_error

    def handle_error(request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            default(request, client_address)

    server.handle_error = handle_error  # type: ignore[method-assign]


BAD_LOG_MARKS = ("Traceback", "Failed to run listener", "Unexpected error", '" 500 ', " 500 Internal")


def log_trouble(log: str) -> list[str]:
    """Lines of the app's log that show a traceback, a listener failure or a 500."""
    return [ln for ln in log.splitlines() if any(m in ln for m in BAD_LOG_MARKS)]


def note_log(result: RowResult, stack: Stack, *, fail: bool) -> None:
    """Tracebacks in the app's log: a problem when the row says so (`fail`), else a note."""
    trouble = log_trouble(stack.log())
    if trouble:
        line = f"the app's log has {len(trouble)} traceback/500 line(s), e.g. {trouble[0][:160]!r}"
        (result.problems if fail else result.notes).append(line)
