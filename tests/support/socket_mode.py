"""Slack's Socket Mode, locally: `apps.connections.open` hands out ws:// URLs to a WebSocket server
that speaks Slack's envelopes and records the app's acks.

What Slack documents (api.slack.com/apis/connections/socket-implement), and what this does:
- `apps.connections.open`, called with the app-level token (`xapp-…`), answers
  `{"ok": true, "url": "wss://wss.slack.com/link/?ticket=…&app_id=…"}`; every call gives a new
  URL and a URL is good for one connection. Here: `ws://127.0.0.1:PORT/link/?ticket=…&app_id=…`
  (served through `SlackProxy.answer("apps.connections.open", server.apps_connections_open)`),
  and a handshake with an unknown or used ticket is refused.
- On connect Slack sends `{"type": "hello", "num_connections": 1, "debug_info": {"host": …,
  "build_number": …, "approximate_connection_time": …}, "connection_info": {"app_id": …}}`.
- Requests come as envelopes `{"envelope_id", "type": "events_api" | "interactive" |
  "slash_commands", "payload", "accepts_response_payload", "retry_attempt", "retry_reason"}`;
  the app answers `{"envelope_id": …}` (plus `"payload"` when it accepts one) within 3 seconds.
  `payload` is what Slack would POST in HTTP mode, as JSON (a slash command's form fields become
  a JSON object of strings).
- `{"type": "disconnect", "reason": "refresh_requested" | "warning" | "link_disabled", "debug_info":
  {"host": …}}` asks the app to reconnect: it calls `apps.connections.open` again and opens the new
  URL; Slack keeps the old connection open meanwhile, so the app closes it itself.
- A connection can also just die (`drop`): the TCP connection is cut without a WebSocket close.

slack_sdk's builtin client (the one `SocketModeHandler` uses) takes ws:// URLs: it picks TLS by
port, not by scheme (`server_port != 443` → a plain socket; slack_sdk/socket_mode/builtin/internals.py
`_establish_new_socket_connection`), so any port but 443 works here.
"""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
import uuid
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlparse

from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request
from websockets.sync.server import ServerConnection, serve

from tests.support.slack_emulator import APP_ID
from tests.support.waiting import wait_for

ACK_DEADLINE = 3.0  # seconds: Slack's rule for every envelope
# Interactive payload types whose ack may carry a response (a modal's errors or next view, options).
RESPONSE_PAYLOAD_TYPES = frozenset({"view_submission", "block_suggestion", "dialog_suggestion"})


@dataclass
class Link:
    """One WebSocket connection the app opened."""
    index: int
    ticket: str
    connection: ServerConnection
    opened_at: float  # time.monotonic()
    closed_at: float | None = None
    closed_by: str = ""  # "app" (it closed the WebSocket) or "drop" (we cut it)

    @property
    def open(self) -> bool:
        return self.closed_at is None


@dataclass(frozen=True)
class Envelope:
    envelope_id: str
    type: str
    payload: dict[str, Any]
    link: int
    sent_at: float
    accepts_response_payload: bool
    retry_attempt: int


@dataclass(frozen=True)
class Ack:
    envelope_id: str
    payload: dict[str, Any] | None  # absent when the app acked without a response
    link: int  # the connection it came back on
    took: float  # seconds from sending the envelope to receiving this ack


@dataclass
class SocketModeServer:
    app_token: str = field(default_factory=lambda: f"xapp-1-{APP_ID}-1-{uuid.uuid4().hex}")
    app_id: str = APP_ID
    links: list[Link] = field(default_factory=list)
    envelopes: list[Envelope] = field(default_factory=list)
    acks: list[Ack] = field(default_factory=list)
    others: list[dict[str, Any]] = field(default_factory=list)  # anything else the app sent
    opens: list[str] = field(default_factory=list)  # tickets handed out by apps.connections.open

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._tickets: set[str] = set()  # handed out, not used yet
        self._ticket_of: dict[int, str] = {}  # id(connection) -> its ticket, between handshake and handler
        self._server = serve(self._handle, "127.0.0.1", 0, process_request=self._check_ticket, compression=None)
        self._thread = threading.Thread(target=self._server.serve_forever, name="socket-mode", daemon=True)

    # -- lifecycle

    @property
    def port(self) -> int:
        return self._server.socket.getsockname()[1]

    def __enter__(self) -> SocketModeServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._thread.join(timeout=5)

    # -- apps.connections.open (through SlackProxy.answer)

    def apps_connections_open(self, params: dict[str, Any], authorization: str) -> dict[str, Any]:
        if not authorization.startswith("Bearer "):
            return {"ok": False, "error": "not_authed"}
        token = authorization.removeprefix("Bearer ").strip()
        if not token.startswith("xapp-"):
            return {"ok": False, "error": "not_allowed_token_type"}
        if token != self.app_token:
            return {"ok": False, "error": "invalid_auth"}
        ticket = uuid.uuid4().hex
        with self._lock:
            self._tickets.add(ticket)
            self.opens.append(ticket)
        return {"ok": True, "url": f"ws://127.0.0.1:{self.port}/link/?ticket={ticket}&app_id={self.app_id}"}

    # -- what tests do

    def current(self) -> Link | None:
        """The newest open connection (where envelopes go), if any."""
        with self._lock:
            return next((link for link in reversed(self.links) if link.open), None)

    def open_links(self) -> list[Link]:
        with self._lock:
            return [link for link in self.links if link.open]

    def push(self, type_: str, payload: dict[str, Any], *, accepts_response_payload: bool | None = None,
             retry_attempt: int = 0, retry_reason: str = "") -> Envelope:
        """Send an envelope (a new envelope_id, as each of Slack's deliveries has) on the current
        connection; the envelope as sent."""
        link = self.current()
        if link is None:
            raise AssertionError("no open Socket Mode connection to send on")
        if accepts_response_payload is None:
            accepts_response_payload = type_ == "slash_commands" or (
                type_ == "interactive" and payload.get("type") in RESPONSE_PAYLOAD_TYPES)
        envelope = Envelope(str(uuid.uuid4()), type_, payload, link.index, time.monotonic(),
                            accepts_response_payload, retry_attempt)
        message = {"envelope_id": envelope.envelope_id, "payload": payload, "type": type_,
                   "accepts_response_payload": accepts_response_payload}
        if type_ == "events_api":  # Slack adds these to Events API envelopes only
            message |= {"retry_attempt": retry_attempt, "retry_reason": retry_reason}
        with self._lock:
            self.envelopes.append(envelope)
        link.connection.send(json.dumps(message))
        return envelope

    def events_api(self, payload: dict[str, Any], **kw: Any) -> Envelope:
        return self.push("events_api", payload, **kw)

    def interactive(self, payload: dict[str, Any], **kw: Any) -> Envelope:
        return self.push("interactive", payload, **kw)

    def slash_command(self, payload: dict[str, Any], **kw: Any) -> Envelope:
        return self.push("slash_commands", payload, **kw)

    def disconnect(self, reason: str = "refresh_requested") -> Link:
        """Ask the app to reconnect (the connection stays open, as Slack's does for a while)."""
        link = self.current()
        if link is None:
            raise AssertionError("no open Socket Mode connection to ask to reconnect")
        link.connection.send(json.dumps({"type": "disconnect", "reason": reason,
                                         "debug_info": {"host": f"applink-local-{link.index}"}}))
        return link

    def drop(self) -> Link:
        """Cut the current connection's TCP at once: no WebSocket close frame, an RST to the app."""
        link = self.current()
        if link is None:
            raise AssertionError("no open Socket Mode connection to drop")
        sock = link.connection.socket
        with self._lock:
            link.closed_at, link.closed_by = time.monotonic(), "drop"
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
        return link

    def acks_for(self, envelope_id: str) -> list[Ack]:
        with self._lock:
            return [a for a in self.acks if a.envelope_id == envelope_id]

    def ack_of(self, envelope: Envelope, timeout: float = ACK_DEADLINE + 2) -> Ack:
        """The app's ack of `envelope` (waits for it)."""
        return wait_for(lambda: self.acks_for(envelope.envelope_id), timeout=timeout, every=0.02,
                        what=f"the ack of {envelope.type} envelope {envelope.envelope_id}")[0]

    def late_or_missing_acks(self) -> list[str]:
        """Envelopes not acked exactly once within 3 s (say why); [] when all are fine."""
        problems = []
        with self._lock:
            envelopes, acks = list(self.envelopes), list(self.acks)
        for envelope in envelopes:
            mine = [a for a in acks if a.envelope_id == envelope.envelope_id]
            if not mine:
                problems.append(f"{envelope.type} {envelope.envelope_id}: no ack")
            elif len(mine) > 1:
                problems.append(f"{envelope.type} {envelope.envelope_id}: {len(mine)} acks")
            elif mine[0].took >= ACK_DEADLINE:
                problems.append(f"{envelope.type} {envelope.envelope_id}: acked after {mine[0].took:.2f} s")
        return problems

    def wait_link(self, after: int = 0, timeout: float = 15) -> Link:
        """An open connection numbered `after` or later (0: the first one), once the app has opened it."""
        def found() -> Link | None:
            with self._lock:
                return next((link for link in self.links if link.index >= after and link.open), None)
        return wait_for(found, timeout=timeout, every=0.05, what=f"Socket Mode connection #{after} or later")

    def wait_closed(self, link: Link, timeout: float = 15) -> None:
        wait_for(lambda: not link.open, timeout=timeout, every=0.05, what=f"the app to close connection #{link.index}")

    # -- the server side

    def _check_ticket(self, connection: ServerConnection, request: Request):  # type: ignore[no-untyped-def]
        url = urlparse(request.path)
        ticket = (parse_qs(url.query).get("ticket") or [""])[0]
        with self._lock:
            known = url.path == "/link/" and ticket in self._tickets
            self._tickets.discard(ticket)
        if not known:
            return connection.respond(HTTPStatus.UNAUTHORIZED, "unknown or used ticket: call apps.connections.open\n")
        with self._lock:
            self._ticket_of[id(connection)] = ticket
        return None

    def _handle(self, connection: ServerConnection) -> None:
        with self._lock:  # the link is listed once hello is out: nothing is sent before it
            link = Link(len(self.links), self._ticket_of.pop(id(connection)), connection, time.monotonic())
            connection.send(json.dumps({
                "type": "hello",
                "num_connections": 1 + len([x for x in self.links if x.open]),
                "debug_info": {"host": f"applink-local-{link.index}", "build_number": 1,
                               "approximate_connection_time": 18060},
                "connection_info": {"app_id": self.app_id},
            }))
            self.links.append(link)
        try:
            for raw in connection:
                self._received(link, raw)
        except (ConnectionClosed, OSError):
            pass
        finally:
            with self._lock:
                if link.closed_at is None:
                    link.closed_at, link.closed_by = time.monotonic(), "app"

    def _received(self, link: Link, raw: str | bytes) -> None:
        now = time.monotonic()
        try:
            message = json.loads(raw)
        except ValueError:
            message = {"unparsed": raw if isinstance(raw, str) else raw.decode(errors="replace")}
        with self._lock:
            envelope = next((e for e in self.envelopes if e.envelope_id == message.get("envelope_id")), None)
            if envelope is None:
                self.others.append(message)
                return
            self.acks.append(Ack(envelope.envelope_id, message.get("payload"), link.index, now - envelope.sent_at))


# -- payloads: what Slack would POST in HTTP mode (tests.support.slack_signing builds those), as JSON


def payload_of(body: bytes) -> dict[str, Any]:
    """The Socket Mode `payload` for an HTTP-mode body: JSON as is, `payload=<json>` unwrapped,
    a slash command's form fields as an object of strings."""
    text = body.decode()
    if text.startswith("{"):
        return json.loads(text)
    fields = dict(parse_qsl(text, keep_blank_values=True))
    if set(fields) == {"payload"}:
        return json.loads(fields["payload"])
    return fields


class ResponseUrls:
    """Slack's `response_url`s, locally: every URL from `new()` records the JSON the app POSTs to it
    (a command answered later, or an ephemeral message replaced)."""

    def __init__(self) -> None:
        self.posted: list[tuple[str, dict[str, Any]]] = []  # (path, body)
        self._lock = threading.Lock()
        urls = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = {"unparsed": raw.decode(errors="replace")}
                with urls._lock:
                    urls.posted.append((self.path, body))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *_args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="response-urls", daemon=True)

    def new(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/commands/{uuid.uuid4().hex}"

    def posted_to(self, url: str) -> list[dict[str, Any]]:
        path = urlparse(url).path
        with self._lock:
            return [body for p, body in self.posted if p == path]

    def __enter__(self) -> ResponseUrls:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
