"""FakeStreaming: Mastodon's streaming server as a WebSocket (docs/streaming.md), for tests and the demo.

One multiplexed connection at `{url}/api/v1/streaming`, the token in the Authorization header,
the `access_token` query parameter or Sec-WebSocket-Protocol (a missing or wrong one: the
handshake is refused with 401). The client sends

    {"type": "subscribe", "stream": "hashtag", "tag": "acme"}
    {"type": "subscribe", "stream": "user:notification"}
    {"type": "unsubscribe", "stream": "public"}

(or `?stream=…&tag=…` on the URL) and receives, once per subscribed stream that carries it,

    {"stream": ["hashtag", "acme"], "event": "update", "payload": "<the Status as a JSON string>"}

with the events "update", "status.update", "delete" (payload: the id) and "notification".
A stream name it does not know gets {"error": "Unknown stream type", "status": 400}.
`GET /api/v1/streaming/health` answers "OK". Faults: `refuse(status, times)`,
`drop_connections()` (no close frame), `pause()` / `resume()` (silent, events queue up).
"""

from __future__ import annotations

import copy
import json
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.sync.server import Server, ServerConnection, serve

from socialdesk.networks.mastodon.fake.world import MastodonWorld, StreamMessage

__all__ = ["ConnectionRecord", "FakeStreaming"]

PATH = "/api/v1/streaming"
STREAMS = {"public", "public:media", "public:local", "public:local:media", "public:remote", "public:remote:media",
           "hashtag", "hashtag:local", "user", "user:notification", "list", "direct"}
_TAGGED = {"hashtag", "hashtag:local"}


@dataclass
class ConnectionRecord:
    """One handshake the fake saw, refused or not, and what the client said on it."""

    path: str
    query: dict[str, list[str]]
    refused: int | None  # the HTTP status it was refused with
    at: float  # time.time()
    auth: str = ""  # where the token came from: "header", "query", "protocol"; "" when none
    subscriptions: list[tuple[str, str | None]] = field(default_factory=list)  # current, in order
    messages: list[Any] = field(default_factory=list)  # every message the client sent, parsed
    open: bool = False


@dataclass
class _Client:
    record: ConnectionRecord
    socket: socket.socket | None
    generation: int
    queue: deque[str] = field(default_factory=deque)
    subscribed: dict[tuple[str, str | None], str | None] = field(default_factory=dict)  # key → tag as sent
    closed: bool = False

    def subscribe(self, stream: str, tag: str | None) -> None:
        key = (stream, tag.lower() if tag else None)
        if key not in self.subscribed:
            self.subscribed[key] = tag
            self.record.subscriptions.append((stream, tag))

    def unsubscribe(self, stream: str, tag: str | None) -> None:
        key = (stream, tag.lower() if tag else None)
        if self.subscribed.pop(key, "missing") != "missing":
            self.record.subscriptions = [s for s in self.record.subscriptions
                                         if (s[0], s[1].lower() if s[1] else None) != key]


class FakeStreaming:
    def __init__(self, world: MastodonWorld) -> None:
        self.world = world
        self.unhealthy = False  # the health check answers 503 (connections are still taken)
        self._cond = threading.Condition()
        self._clients: dict[ServerConnection, _Client] = {}
        self._pending: dict[ServerConnection, _Client] = {}
        self._records: list[ConnectionRecord] = []
        self._refusals: list[list[Any]] = []  # [status, remaining, body]
        self._generation = 0
        self._paused = False
        self._stopping = False
        self._server: Server | None = None
        self._thread: threading.Thread | None = None
        self._unsubscribe = lambda: None

    # --- lifecycle ----------------------------------------------------------------------

    def start(self) -> FakeStreaming:
        if self._server is None:
            self._server = serve(self._handle, "127.0.0.1", 0, process_request=self._handshake,
                                 process_response=self._accepted,
                                 select_subprotocol=self._select_subprotocol, compression=None)
            self._thread = threading.Thread(target=self._server.serve_forever, name="fake-mastodon-streaming",
                                            daemon=True)
            self._thread.start()
            self._unsubscribe = self.world.subscribe(self.publish)
        return self

    def stop(self) -> None:
        self._unsubscribe()
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._server is not None:
            self._server.shutdown()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The base, as configuration.urls.streaming gives it: ws://host:port (no path)."""
        assert self._server is not None, "start() the fake first"
        host, port = self._server.socket.getsockname()[:2]
        return f"ws://{host}:{port}"

    # --- events -------------------------------------------------------------------------

    def publish(self, message: StreamMessage) -> None:
        """Queue `message` for every connection subscribed to one of its streams (once per stream)."""
        with self._cond:
            for client in self._clients.values():
                for stream in message.streams:
                    key = (stream[0], stream[1].lower() if len(stream) > 1 else None)
                    if key in client.subscribed:
                        named = [stream[0]] + ([client.subscribed[key] or ""] if key[1] is not None else [])
                        client.queue.append(json.dumps({"stream": named, "event": message.event,
                                                        "payload": message.payload}, ensure_ascii=False))
            self._cond.notify_all()

    def send_raw(self, text: str) -> int:
        """Send `text` as is to every live connection (malformed frames); returns how many."""
        with self._cond:
            for client in self._clients.values():
                client.queue.append(text)
            self._cond.notify_all()
            return len(self._clients)

    # --- faults -------------------------------------------------------------------------

    def refuse(self, status: int, times: int = 1, body: str = "") -> None:
        """Answer the next `times` handshakes with HTTP `status` instead of upgrading."""
        with self._cond:
            self._refusals.append([status, times, body or json.dumps({"error": f"refused with {status}"})])

    def drop_connections(self) -> int:
        """Cut every client's TCP connection without a close frame; returns how many."""
        with self._cond:
            self._generation += 1
            sockets = [c.socket for c in self._clients.values() if c.socket is not None]
            self._cond.notify_all()
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)  # abrupt: the client sees EOF, no closing handshake
            except OSError:
                pass
        return len(sockets)

    def pause(self) -> None:
        """Go silent: connections stay open (and answer pings), events wait."""
        with self._cond:
            self._paused = True

    def resume(self) -> None:
        with self._cond:
            self._paused = False
            self._cond.notify_all()

    # --- what happened ------------------------------------------------------------------

    @property
    def connections(self) -> list[ConnectionRecord]:
        """Every handshake so far (copies), oldest first."""
        with self._cond:
            return copy.deepcopy(self._records)

    @property
    def live_connections(self) -> int:
        with self._cond:
            return len(self._clients)

    def subscriptions(self) -> list[list[tuple[str, str | None]]]:
        """What each live connection is subscribed to, as (stream, tag as sent)."""
        with self._cond:
            return [list(c.record.subscriptions) for c in self._clients.values()]

    def wait_for_connections(self, count: int, timeout: float = 10.0) -> bool:
        """Wait until `count` handshakes (refused or not) have been seen in total."""
        with self._cond:
            return self._cond.wait_for(lambda: len(self._records) >= count, timeout)

    def wait_for_subscription(self, stream: str, tag: str | None = None, *, timeout: float = 5.0) -> bool:
        """Wait until a live connection is subscribed to `stream` (and `tag`): the server never says."""
        key = (stream, tag.lower() if tag else None)
        with self._cond:
            return self._cond.wait_for(lambda: any(key in c.subscribed for c in self._clients.values()), timeout)

    # --- server internals ---------------------------------------------------------------

    def _select_subprotocol(self, connection: ServerConnection, offered: Any) -> Any:
        return offered[0] if offered else None  # the token, echoed as browsers require

    def _handshake(self, connection: ServerConnection, request: Request) -> Response | None:
        parts = urlsplit(request.path)
        path = parts.path.rstrip("/")
        query = parse_qs(parts.query)
        if path == f"{PATH}/health":  # `unhealthy`: up but not serving (Redis gone, say)
            return connection.respond(503, "Service Unavailable") if self.unhealthy else connection.respond(200, "OK")
        token, auth = _token(request.headers, query)
        with self._cond:
            refused, body = None, ""
            if path != PATH:
                refused, body = 400, json.dumps({"error": "Unknown channel requested"})
            elif self._refusals:
                refused, _, body = self._refusals[0]
                self._refusals[0][1] -= 1
                if self._refusals[0][1] <= 0:
                    self._refusals.pop(0)
            elif self.world.token_owner(token) is None:
                refused, body = 401, json.dumps({"error": "Invalid access token"})
            record = ConnectionRecord(path, query, refused, time.time(), auth)
            self._records.append(record)
            self._cond.notify_all()
            if refused is not None:
                response = connection.respond(refused, body)
                if body.startswith("{"):
                    response.headers["Content-Type"] = "application/json; charset=utf-8"
                return response
            client = _Client(record, connection.socket, self._generation)
            stream = (query.get("stream") or [None])[0]
            if stream in STREAMS:
                client.subscribe(stream, (query.get("tag") or [None])[0] if stream in _TAGGED else None)
            self._pending[connection] = client  # live once the upgrade is answered (_accepted)
        return None

    def _accepted(self, connection: ServerConnection, request: Request, response: Response) -> None:
        """Before the 101 goes out: a client that sees its handshake done is counted live."""
        with self._cond:
            client = self._pending.pop(connection, None)
            if client is not None and response.status_code == 101:
                client.record.open = True
                self._clients[connection] = client
                self._cond.notify_all()

    def _handle(self, connection: ServerConnection) -> None:
        with self._cond:
            client = self._clients[connection]
        reader = threading.Thread(target=self._read, args=(connection, client), daemon=True,
                                  name="fake-mastodon-streaming-reader")
        reader.start()
        try:
            while True:
                with self._cond:
                    self._cond.wait_for(lambda: self._stopping or client.closed
                                        or client.generation != self._generation
                                        or (not self._paused and bool(client.queue)))
                    if self._stopping or client.closed or client.generation != self._generation:
                        return
                    text = client.queue.popleft()
                connection.send(text)
        except (ConnectionClosed, OSError):
            return
        finally:
            with self._cond:
                self._clients.pop(connection, None)
                client.record.open = False
                self._cond.notify_all()
            if client.generation != self._generation:
                connection.close_socket()  # dropped: no closing handshake

    def _read(self, connection: ServerConnection, client: _Client) -> None:
        try:
            for raw in connection:
                try:
                    message = json.loads(raw)
                except ValueError:
                    continue  # Mastodon ignores what it cannot parse
                error = None
                with self._cond:
                    client.record.messages.append(message)
                    error = self._apply(client, message)
                if error:
                    connection.send(json.dumps({"error": error, "status": 400}))
        except (ConnectionClosed, OSError):
            pass
        finally:
            with self._cond:
                client.closed = True
                self._cond.notify_all()

    def _apply(self, client: _Client, message: Any) -> str | None:
        if not isinstance(message, dict) or message.get("type") not in ("subscribe", "unsubscribe"):
            return None
        stream, tag = message.get("stream"), message.get("tag")
        if stream not in STREAMS:
            return "Unknown stream type"
        if stream in _TAGGED and not (isinstance(tag, str) and tag):
            return "No tag for stream provided"
        tag = tag if stream in _TAGGED else None
        if message["type"] == "subscribe":
            client.subscribe(stream, tag)
        else:
            client.unsubscribe(stream, tag)
        self._cond.notify_all()
        return None


def _token(headers: Headers, query: dict[str, list[str]]) -> tuple[str | None, str]:
    bearer = (headers.get("Authorization") or "").removeprefix("Bearer ").strip()
    if bearer:
        return bearer, "header"
    if query.get("access_token"):
        return query["access_token"][0], "query"
    protocol = (headers.get("Sec-WebSocket-Protocol") or "").split(",")[0].strip()
    return (protocol, "protocol") if protocol else (None, "")
