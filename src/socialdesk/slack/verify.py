"""Slack's requests, checked before anything parses them (DESIGN.md, "Reliability rules").

In front of Bolt on /slack/events, in this order:

1. size: at most `MAX_BODY` bytes are read (Slack's requests are a few KiB) → 413;
2. `X-Slack-Request-Timestamp`: present, a number, within 5 minutes of now → 401;
3. `X-Slack-Signature`: `v0=` HMAC-SHA256 of `v0:{timestamp}:{body}` with the signing
   secret, compared in constant time → 401;
4. shape, now that the body is known to be Slack's: UTF-8, a form or JSON; a JSON body
   and a form's `payload` field are JSON objects → 400 (what Bolt would otherwise
   turn into a 500 and a traceback);
5. replay: the signature is remembered while its timestamp is inside the window, so a
   signed request sent again, to this replica or another, has no effect. This replica's
   own memory answers at once: a replay of what it accepted gets 200 with an empty body.
   The database (store.requests, shared by the replicas) is asked without holding up the
   ack: the request goes on to Bolt while its check runs, and the work its listener leaves
   for after the ack (listeners.binding.Later, which reads `replay_check()`) waits for the
   answer and is dropped if another replica had the request first. Checks are batched: one
   transaction takes every request that came while the last one ran. Slack's Events API
   retries carry a new timestamp and signature: they pass, and are deduped on `event_id`
   (listeners.events). A request Bolt did not answer with a 2xx is forgotten again: Slack
   resends those (an Events API retry after an error comes at once, maybe within the same
   second, so with the same signature) and the resend must be handled, not dropped.

Each refusal is one log line: the reason and the client's address, never the body, the
signature or the secret. An accepted request goes on to Bolt with its body untouched.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from concurrent.futures import Future, ThreadPoolExecutor
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from sqlalchemy import Engine

from socialdesk.store.db import session_scope
from socialdesk.store.requests import forget_request, prune_requests, remember_requests

log = logging.getLogger(__name__)

# The database's answer for the request this thread is handling (True: the first time any
# replica saw it). Set around Bolt's handling of an accepted request; None elsewhere.
_REPLAY_CHECK: ContextVar[Future[bool] | None] = ContextVar("replay_check", default=None)


def replay_check() -> Future[bool] | None:
    """The shared replay check of the request being handled in this thread, if any."""
    return _REPLAY_CHECK.get()


@contextmanager
def replay_harmless() -> Iterator[None]:
    """Work started inside only reads: a replay of it repeats nothing, so it need not wait for the check."""
    token = _REPLAY_CHECK.set(None)
    try:
        yield
    finally:
        _REPLAY_CHECK.reset(token)

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

MAX_BODY = 256 * 1024  # Slack's largest (a view_submission with many blocks) are tens of KiB
WINDOW_SECONDS = 5 * 60  # Slack's replay window: a request is accepted within 5 minutes of its timestamp
PRUNE_EVERY_SECONDS = 60.0  # remembered requests older than the window are deleted this often (per replica)
FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
MAX_RECENT = 200_000  # remembered here at most (a few MB); the database remembers the rest
MAX_TIMESTAMP_DIGITS = 12  # int() of a long digit string is slow and means nothing here


@dataclass(frozen=True)
class Refusal:
    status: str  # "401 Unauthorized"
    reason: str  # logged, and the answer's text


@dataclass(frozen=True)
class Checked:
    """A request that is Slack's and well formed: its body, timestamp and signature."""

    body: bytes
    timestamp: int
    signature: str


def _refuse(code: int, reason: str) -> Refusal:
    return Refusal({400: "400 Bad Request", 401: "401 Unauthorized", 413: "413 Content Too Large"}[code], reason)


def read_body(environ: dict[str, Any], limit: int = MAX_BODY) -> bytes | Refusal:
    """At most `limit` bytes of the body: a longer one is refused without being read."""
    raw = (environ.get("CONTENT_LENGTH") or "").strip()
    if raw and not (raw.isascii() and raw.isdigit()):
        return _refuse(400, "Content-Length is not a number")
    declared = int(raw) if raw else None
    if declared is not None and declared > limit:
        return _refuse(413, f"body of {declared} bytes is over the {limit} byte limit")
    stream = environ.get("wsgi.input")
    if stream is None or declared == 0:
        return b""
    # No Content-Length (waitress sets one even for chunked bodies): read one byte past the limit to tell.
    wanted = declared if declared is not None else limit + 1
    chunks, got = [], 0
    while got < wanted:
        chunk = stream.read(wanted - got)
        if not chunk:
            break
        chunks.append(chunk)
        got += len(chunk)
    body = b"".join(chunks)
    if len(body) > limit:
        return _refuse(413, f"body is over the {limit} byte limit")
    return body


def signature_for(secret: str, timestamp: str, body: bytes) -> str:
    """Slack's v0 signature. On bytes: slack_sdk's SignatureVerifier decodes the body first and
    raises on one that is not UTF-8, and `hmac.compare_digest` raises on non-ASCII text."""
    digest = hmac.new(secret.encode(), b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256).hexdigest()
    return "v0=" + digest


def check_signed(environ: dict[str, Any], body: bytes, *, secret: str, now: float,
                 window: int = WINDOW_SECONDS) -> tuple[int, str] | Refusal:
    """The request's timestamp and signature, or why it is not Slack's."""
    timestamp = environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP")
    if not timestamp:
        return _refuse(401, "no X-Slack-Request-Timestamp")
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= MAX_TIMESTAMP_DIGITS):
        return _refuse(401, "X-Slack-Request-Timestamp is not a number")
    when = int(timestamp)
    if abs(now - when) > window:
        age = "older than" if when < now else "ahead of now by more than"
        return _refuse(401, f"X-Slack-Request-Timestamp is {age} {window // 60} minutes")
    given = environ.get("HTTP_X_SLACK_SIGNATURE")
    if not given:
        return _refuse(401, "no X-Slack-Signature")
    expected = signature_for(secret, timestamp, body)
    # WSGI headers are latin-1 text: as bytes, any header compares (in constant time) without raising.
    if not hmac.compare_digest(expected.encode(), given.encode("latin-1", "replace")):
        return _refuse(401, "X-Slack-Signature does not match the body")
    return when, given


def check_shape(environ: dict[str, Any], body: bytes) -> Refusal | None:
    """None when Bolt can parse the body; it parses as Bolt does (slack_bolt.request.internals.parse_body)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return _refuse(400, "body is not UTF-8")
    media_type = (environ.get("CONTENT_TYPE") or "").split(";", 1)[0].strip().lower()
    if media_type not in (FORM, JSON):
        return _refuse(400, f"Content-Type {media_type or 'missing'!r} is neither {FORM} nor {JSON}")
    if not text:
        return None
    if media_type == JSON or text.startswith("{"):
        return None if _is_json_object(text) else _refuse(400, "JSON body is not a JSON object")
    if "payload" in text:
        payload = dict(parse_qsl(text, keep_blank_values=True)).get("payload")
        if payload is not None and not _is_json_object(payload):
            return _refuse(400, "form field `payload` is not a JSON object")
    return None


def _is_json_object(text: str) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except (ValueError, RecursionError):  # RecursionError: nesting deeper than the parser goes
        return False


class RecentRequests:
    """The signatures this replica accepted within the window (a replay is found without the database)."""

    def __init__(self, window: int) -> None:
        self._window = window
        self._seen: dict[str, int] = {}  # signature -> timestamp, oldest first
        self._lock = threading.Lock()

    def add(self, signature: str, timestamp: int) -> bool:
        """False when `signature` was accepted before."""
        with self._lock:
            if signature in self._seen:
                return False
            self._seen[signature] = timestamp
            self._forget_old(timestamp)
            return True

    def discard(self, signature: str) -> None:
        with self._lock:
            self._seen.pop(signature, None)

    def _forget_old(self, now: int) -> None:
        # Timestamps arrive nearly in order, so the oldest entries are first; 2× the window, as on the database.
        while self._seen:
            signature, timestamp = next(iter(self._seen.items()))
            if timestamp >= now - 2 * self._window and len(self._seen) <= MAX_RECENT:
                return
            del self._seen[signature]


class RequestGuard:
    """WSGI: checks a request to /slack/events, then refuses it or hands it on to `app`."""

    def __init__(self, *, signing_secret: str, engine: Engine, clock: Callable[[], float] = time.time,
                 max_body: int = MAX_BODY, window: int = WINDOW_SECONDS) -> None:
        if not signing_secret:
            raise ValueError("a signing secret is required")
        self._secret = signing_secret
        self._engine = engine
        self._clock = clock
        self._max_body = max_body
        self._window = window
        # The database's part runs here, never on the ack's thread. One thread: a request's
        # check and a later `_forget` of it run in the order they were asked for.
        self._db = ThreadPoolExecutor(max_workers=1, thread_name_prefix="request-guard")
        # Requests waiting for their check: each transaction takes all that came while the last ran.
        self._waiting: list[tuple[str, datetime, Future[bool]]] = []
        self._waiting_lock = threading.Lock()
        self._forgetting: set[str] = set()  # failed requests whose forget has not run yet
        self._recent = RecentRequests(window)
        self._prune_lock = threading.Lock()
        self._next_prune = 0.0

    def __repr__(self) -> str:  # never the secret
        return f"RequestGuard(max_body={self._max_body}, window={self._window})"

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any], app: WsgiApp) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD", "GET") != "POST":
            return app(environ, start_response)  # Bolt answers anything else with 404 and reads no body
        outcome = self.check(environ)
        if isinstance(outcome, Refusal):
            log.warning("refused a request to %s from %s: %s (%s)", environ.get("PATH_INFO", ""),
                        environ.get("REMOTE_ADDR", "?"), outcome.reason, outcome.status)
            start_response(outcome.status, [("Content-Type", "text/plain; charset=utf-8")])
            return [f"{outcome.reason}\n".encode()]
        shared = self._first_time(outcome)
        if shared is None:
            log.warning("dropped a replayed request from %s (timestamp %d, already handled)",
                        environ.get("REMOTE_ADDR", "?"), outcome.timestamp)
            start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", "0")])
            return [b""]
        environ["wsgi.input"] = io.BytesIO(outcome.body)
        environ["CONTENT_LENGTH"] = str(len(outcome.body))
        statuses: list[str] = []

        def recording_start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
            statuses.append(status)
            return start_response(status, headers, exc_info)

        checking = _REPLAY_CHECK.set(shared)
        try:
            answer = app(environ, recording_start_response)  # Bolt's adapter answers before returning
        except BaseException:
            self._forget(outcome.signature)
            raise
        finally:
            _REPLAY_CHECK.reset(checking)
        if not statuses or not statuses[-1].startswith("2"):
            self._forget(outcome.signature)
        return answer

    def check(self, environ: dict[str, Any]) -> Checked | Refusal:
        body = read_body(environ, self._max_body)
        if isinstance(body, Refusal):
            return body
        signed = check_signed(environ, body, secret=self._secret, now=self._clock(), window=self._window)
        if isinstance(signed, Refusal):
            return signed
        malformed = check_shape(environ, body)
        if malformed is not None:
            return malformed
        timestamp, signature = signed
        return Checked(body=body, timestamp=timestamp, signature=signature)

    def _first_time(self, checked: Checked) -> Future[bool] | None:
        """None when this replica saw the request before; else the database's check, under way.

        This replica's own memory answers at once. The database (shared by the replicas) is
        asked in the background: whoever acts on the request waits for its answer, the ack
        does not, so a busy database (or 50 clicks at once) never delays an acknowledgement.
        """
        if not self._recent.add(checked.signature, checked.timestamp):
            return None
        check = self._remember(checked.signature, datetime.fromtimestamp(checked.timestamp, UTC))
        self._maybe_prune()
        return check

    def _remember(self, signature: str, sent_at: datetime) -> Future[bool]:
        """Queue the request for the next check; its future says whether it was new."""
        future: Future[bool] = Future()
        with self._waiting_lock:
            self._waiting.append((signature, sent_at, future))
            first = len(self._waiting) == 1  # otherwise a check is queued already and will take this one
        if first:
            self._db.submit(self._remember_waiting)
        return future

    def _remember_waiting(self) -> None:
        with self._waiting_lock:
            batch, self._waiting = self._waiting, []
            # A resend of a request that failed, checked before that request's forget has run:
            # forgotten here first (its own forget then has nothing left to do).
            resent = {sig for sig, _, _ in batch if sig in self._forgetting}
            self._forgetting -= resent
        try:
            with session_scope(self._engine) as session:
                for signature in resent:
                    forget_request(session=session, signature=signature)
                fresh = remember_requests(session=session, requests=[(sig, at) for sig, at, _ in batch])
        except Exception as exc:  # noqa: BLE001 - each waiting request decides what a failure means
            for _, _, future in batch:
                future.set_exception(exc)
            return
        for signature, _, future in batch:
            future.set_result(signature in fresh)

    def _forget(self, signature: str) -> None:
        self._recent.discard(signature)
        with self._waiting_lock:
            self._forgetting.add(signature)

        def forget() -> None:
            with self._waiting_lock:
                if signature not in self._forgetting:
                    return  # a resend's check forgot it first, and remembered the resend
                self._forgetting.discard(signature)
            with session_scope(self._engine) as session:
                forget_request(session=session, signature=signature)

        def forgotten(done: Future[None]) -> None:
            if done.exception() is not None:  # a resend within the window would be dropped: say so
                log.warning("could not forget a failed request (%s); Slack's resend of it would be dropped",
                            type(done.exception()).__name__)

        self._db.submit(forget).add_done_callback(forgotten)

    def _maybe_prune(self) -> None:
        """Now and then, off the ack path: forget requests whose timestamps have left the window."""
        now = time.monotonic()
        with self._prune_lock:
            if now < self._next_prune:
                return
            self._next_prune = now + PRUNE_EVERY_SECONDS
        self._db.submit(self.prune)

    def prune(self) -> int:
        # Twice the window: a replica whose clock is a little ahead must not forget what another still accepts.
        before = datetime.fromtimestamp(self._clock() - 2 * self._window, UTC)
        try:
            with session_scope(self._engine) as session:
                return prune_requests(session=session, before=before)
        except Exception as exc:  # noqa: BLE001 - pruning is tidying; the next run retries
            log.warning("could not prune remembered Slack requests (%s)", type(exc).__name__)
            return 0

    def settle(self, timeout: float = 10.0) -> None:
        """Wait until the database has done every check and forget asked of it so far."""
        self._db.submit(lambda: None).result(timeout=timeout)

    def close(self) -> None:
        self._db.shutdown(wait=False, cancel_futures=True)
