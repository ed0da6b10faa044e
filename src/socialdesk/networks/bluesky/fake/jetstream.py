"""FakeJetstream: a local Jetstream v1 `/subscribe` WebSocket server for tests and the demo.

It behaves like Jetstream as far as socialdesk can tell: a buffer of events ordered by
`time_us`, replay of the buffered events newer than `?cursor=` (unix microseconds)
followed by live ones, the `wantedCollections` / `wantedDids` filters, and the faults a
real instance shows (refused handshakes, dropped connections, going silent).

The shipped corpus, `golden_v1.jsonl`, is a verbatim copy of ten events captured from a
real Jetstream v1 server: bluesky-social/jetstream, internal/subscribe/testdata/golden_v1.jsonl
at commit 9a30defd224e9058814a7d6ce8d9e4fc48d5493c (sha256 c1d7fc24…cc4f; see
../shared/refs/SOURCES.json). `golden_events()` loads it.

Filter semantics follow Jetstream: `wantedCollections` (exact NSIDs or `prefix.*`)
constrains commit events only, identity and account events reach every subscriber;
`wantedDids` applies to every kind.
"""

from __future__ import annotations

import bisect
import copy
import hashlib
import json
import socket
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.sync.server import Server, ServerConnection, serve

__all__ = ["ConnectionRecord", "FakeJetstream", "delete_commit", "golden_events", "post_commit"]

POST_COLLECTION = "app.bsky.feed.post"
_BATCH = 256  # events copied out of the buffer per lock hold; pause/drop are checked per event


def golden_events(*, retime: bool = False, now_us: int | None = None) -> list[dict[str, Any]]:
    """The ten captured events, in file order (their `time_us` are not monotonic: real data).

    With `retime`, every `time_us` is shifted by the same amount so the newest is `now_us`
    (default: now), keeping their spacing, so cursors taken from them make sense today.
    """
    text = resources.files(__package__).joinpath("golden_v1.jsonl").read_text(encoding="utf-8")
    events = [json.loads(line) for line in text.splitlines() if line.strip()]
    if retime:
        now = _now_us() if now_us is None else now_us
        shift = now - max(e["time_us"] for e in events)
        for event in events:
            event["time_us"] += shift
    return events


def post_commit(did: str, rkey: str, text: str, *, operation: str = "create", time_us: int | None = None,
                reply_to: tuple[str, str] | None = None, root: tuple[str, str] | None = None,
                langs: tuple[str, ...] = ("en",), created_at: str = "2026-05-25T14:23:28.757Z",
                cid: str | None = None) -> dict[str, Any]:
    """A post commit in the shape of the captured one (`reply_to` / `root`: (uri, cid))."""
    record: dict[str, Any] = {"$type": POST_COLLECTION, "createdAt": created_at, "langs": list(langs), "text": text}
    if reply_to is not None:
        parent = {"cid": reply_to[1], "uri": reply_to[0]}
        top = {"cid": root[1], "uri": root[0]} if root else parent
        record["reply"] = {"parent": parent, "root": dict(top)}
    event: dict[str, Any] = {"did": did, "kind": "commit", "commit": {
        "rev": rkey, "operation": operation, "collection": POST_COLLECTION, "rkey": rkey,
        "record": record, "cid": cid or _fake_cid(did, rkey, text)}}
    if time_us is not None:
        event["time_us"] = time_us
    return event


def delete_commit(did: str, rkey: str, *, collection: str = POST_COLLECTION,
                  time_us: int | None = None) -> dict[str, Any]:
    """A delete commit in the shape of the captured one (no record, no cid)."""
    event: dict[str, Any] = {"did": did, "kind": "commit", "commit": {
        "rev": rkey, "operation": "delete", "collection": collection, "rkey": rkey}}
    if time_us is not None:
        event["time_us"] = time_us
    return event


@dataclass(frozen=True)
class ConnectionRecord:
    """One handshake the fake saw, refused or not."""

    path: str
    query: dict[str, list[str]]
    refused: int | None  # the HTTP status it was refused with
    at: float  # time.time()

    @property
    def cursor(self) -> int | None:
        values = self.query.get("cursor")
        return int(values[0]) if values else None


@dataclass
class _Entry:
    time_us: int
    text: str  # exactly what is sent
    kind: str | None
    did: str | None
    collection: str | None


@dataclass
class _Subscriber:
    collections: list[str]
    dids: set[str]
    position: int  # absolute index of the next buffer entry to consider
    generation: int  # drop_connections() bumps the fake's; a stale subscriber leaves
    socket: socket.socket | None = field(default=None, repr=False)

    def wants(self, entry: _Entry) -> bool:
        if self.dids and entry.did not in self.dids:
            return False
        if entry.kind != "commit" or not self.collections:
            return True
        name = entry.collection or ""
        return any(name == c or (c.endswith(".*") and name.startswith(c[:-1])) for c in self.collections)


class FakeJetstream:
    """A Jetstream `/subscribe` endpoint on 127.0.0.1 (a free port). Thread-safe.

    `publish(event)` appends a live event and has the shape of a fake-world subscriber
    (`Callable[[dict], None]`). Faults: `refuse(status, times)`, `drop_connections()`,
    `pause()` / `resume()`. `connections` records every handshake's query.
    """

    def __init__(self, events: Iterable[dict[str, Any]] = (), *, golden: bool = False, retime: bool = True,
                 max_buffer: int = 200_000) -> None:
        self._cond = threading.Condition()
        self._buffer: list[_Entry] = []
        self._times: list[int] = []  # time_us of each entry, for bisect
        self._base = 0  # absolute index of _buffer[0] (old entries are trimmed)
        self._max_buffer = max_buffer
        self._last_us = 0
        self._paused = False
        self._stopping = False
        self._generation = 0
        self._refusals: list[list[Any]] = []  # [status, remaining, body]
        self._records: list[ConnectionRecord] = []
        self._subscribers: dict[ServerConnection, _Subscriber] = {}
        self._server: Server | None = None
        self._thread: threading.Thread | None = None
        seed = [*(golden_events(retime=retime) if golden else []), *events]
        for event in sorted(seed, key=lambda e: e.get("time_us", 0)):
            self.publish(event)

    # --- lifecycle ----------------------------------------------------------------------

    def start(self) -> FakeJetstream:
        # compression=None: Jetstream never negotiates permessage-deflate.
        self._server = serve(self._handle, "127.0.0.1", 0, process_request=self._handshake, compression=None,
                             max_size=2**24)
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-jetstream", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._server is not None:
            self._server.shutdown()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def __enter__(self) -> FakeJetstream:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the fake first"
        host, port = self._server.socket.getsockname()[:2]
        return f"ws://{host}:{port}/subscribe"

    # --- events -------------------------------------------------------------------------

    def publish(self, event: dict[str, Any]) -> dict[str, Any]:
        """Append `event` (a Jetstream v1 event dict) and send it to matching clients.

        Its `time_us` is kept when newer than every buffered event, else (or when absent)
        replaced by a strictly greater one (now, or last + 1 µs). Returns what was stored.
        """
        stored = copy.deepcopy(event)
        commit = stored.get("commit") if isinstance(stored.get("commit"), dict) else {}
        with self._cond:
            stored["time_us"] = self._next_time(stored.get("time_us"))
            self._append(_Entry(stored["time_us"], json.dumps(stored, ensure_ascii=False, separators=(",", ":")),
                                stored.get("kind"), stored.get("did"), commit.get("collection")))
        return stored

    def publish_raw(self, text: str) -> int:
        """Send `text` as is (malformed or unexpected messages); returns its buffer time_us."""
        with self._cond:
            time_us = self._next_time(None)
            self._append(_Entry(time_us, text, None, None, None))
        return time_us

    @property
    def events(self) -> list[dict[str, Any]]:
        """The buffered events that are JSON objects, oldest first."""
        with self._cond:
            texts = [e.text for e in self._buffer]
        out = []
        for text in texts:
            try:
                value = json.loads(text)
            except ValueError:
                continue
            if isinstance(value, dict):
                out.append(value)
        return out

    # --- faults -------------------------------------------------------------------------

    def refuse(self, status: int, times: int = 1, body: str = "") -> None:
        """Answer the next `times` handshakes with HTTP `status` instead of upgrading."""
        with self._cond:
            self._refusals.append([status, times, body or f"refused with {status}"])

    def drop_connections(self) -> int:
        """Cut every client's TCP connection without a close frame; returns how many."""
        with self._cond:
            self._generation += 1
            sockets = [s.socket for s in self._subscribers.values() if s.socket is not None]
            self._cond.notify_all()
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)  # abrupt: the client sees EOF, no closing handshake
            except OSError:
                pass
        return len(sockets)

    def pause(self) -> None:
        """Go silent: connections stay open (and answer pings) but no event is sent."""
        with self._cond:
            self._paused = True

    def resume(self) -> None:
        with self._cond:
            self._paused = False
            self._cond.notify_all()

    # --- what happened ------------------------------------------------------------------

    @property
    def connections(self) -> list[ConnectionRecord]:
        with self._cond:
            return list(self._records)

    @property
    def live_connections(self) -> int:
        with self._cond:
            return len(self._subscribers)

    def wait_for_connections(self, count: int, timeout: float = 10.0) -> bool:
        """Wait until `count` handshakes (refused or not) have been seen in total."""
        with self._cond:
            return self._cond.wait_for(lambda: len(self._records) >= count, timeout)

    # --- server internals ---------------------------------------------------------------

    def _next_time(self, wanted: Any) -> int:
        if isinstance(wanted, int) and not isinstance(wanted, bool) and wanted > self._last_us:
            self._last_us = wanted
        else:
            self._last_us = max(self._last_us + 1, _now_us())
        return self._last_us

    def _append(self, entry: _Entry) -> None:
        self._buffer.append(entry)
        self._times.append(entry.time_us)
        if len(self._buffer) > self._max_buffer:  # keep memory bounded in a long demo
            cut = len(self._buffer) // 2
            del self._buffer[:cut], self._times[:cut]
            self._base += cut
        self._cond.notify_all()

    def _handshake(self, connection: ServerConnection, request: Request) -> Response | None:
        parts = urlsplit(request.path)
        query = parse_qs(parts.query)
        with self._cond:
            refused = None
            if parts.path != "/subscribe":
                refused, body = 404, "not found"
            elif self._refusals:
                refused, _, body = self._refusals[0]
                self._refusals[0][1] -= 1
                if self._refusals[0][1] <= 0:
                    self._refusals.pop(0)
            elif not _valid_cursor(query):
                refused, body = 400, "cursor must be an integer"
            self._records.append(ConnectionRecord(parts.path, query, refused, time.time()))
            self._cond.notify_all()
            if refused is not None:
                return connection.respond(refused, body + "\n")
            cursor = int(query["cursor"][0]) if "cursor" in query else None
            # No cursor (or a future one): live tip. Otherwise replay what is newer than it.
            start = len(self._times) if cursor is None else bisect.bisect_right(self._times, cursor)
            self._subscribers[connection] = _Subscriber(
                collections=query.get("wantedCollections", []), dids=set(query.get("wantedDids", [])),
                position=self._base + start, generation=self._generation, socket=connection.socket)
        return None

    def _handle(self, connection: ServerConnection) -> None:
        with self._cond:
            sub = self._subscribers[connection]
        try:
            while True:
                with self._cond:
                    self._cond.wait_for(lambda: self._stopping or sub.generation != self._generation or (
                        not self._paused and sub.position < self._base + len(self._buffer)))
                    if self._stopping or sub.generation != self._generation:
                        return
                    sub.position = max(sub.position, self._base)  # a slow reader loses trimmed events
                    first = sub.position - self._base
                    batch = self._buffer[first:first + _BATCH]
                for entry in batch:
                    if self._paused or sub.generation != self._generation:
                        break  # the unsent rest is sent again after resume()
                    sub.position += 1
                    if sub.wants(entry):
                        connection.send(entry.text)
        except (ConnectionClosed, OSError):
            return
        finally:
            with self._cond:
                self._subscribers.pop(connection, None)
                self._cond.notify_all()
            if sub.generation != self._generation:
                connection.close_socket()  # dropped: no closing handshake


def _valid_cursor(query: dict[str, list[str]]) -> bool:
    values = query.get("cursor")
    return not values or values[0].lstrip("-").isdigit()


def _fake_cid(*parts: str) -> str:
    """A stable CID-looking string (not a real content hash: nothing here verifies CIDs)."""
    return "bafyrei" + hashlib.sha256("\0".join(parts).encode()).hexdigest()[:52]


def _now_us() -> int:
    return time.time_ns() // 1000
