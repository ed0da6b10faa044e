"""The wire of X's filtered stream: an open response read by a thread, its lines, and what one line says.

X sends newline-delimited JSON (`\r\n` after each object) and a blank line as the
keep-alive. The reader thread only moves bytes to a queue (X drops a client that reads
slowly), so the consumer can wait with a timeout: a tick when nothing came for a while, a
drop when not even a keep-alive came.

A line is bounded (MAX_LINE_BYTES): a body that never sends a line end would grow without
limit, and bytes without one prove nothing, so silence counts from the last whole line.
"""

from __future__ import annotations

import json
import queue
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from socialdesk.domain import Post
from socialdesk.networks.base import SourceUnavailable
from socialdesk.networks.x.parse import describe_error, parse_tweet, parse_user
from socialdesk.networks.x.stream_rules import ids_from_tag

_END = object()

# X documents no largest message (refs/x/docs/consuming-streaming-data.mdx: newline-delimited
# posts and keep-alives, nothing on size). A post with every field we ask for is a few KiB:
# 16 MiB (Jetstream's bound too) is far past any real one and still small enough to hold.
MAX_LINE_BYTES = 16 * 2**20


@dataclass(frozen=True)
class StreamLine:
    post: Post | None = None
    rule_ids: tuple[int, ...] = ()
    disconnect: str | None = None  # X said it is ending the connection (an `errors`-only line)


def parse_line(line: bytes) -> StreamLine | None:
    """One non-blank line of the stream; None for what is not a post or an error (new message types)."""
    body = json.loads(line)
    if not isinstance(body, dict):
        return None
    data = body.get("data")
    if isinstance(data, dict) and "id" in data:
        users = {str(u["id"]): parse_user(u) for u in (body.get("includes") or {}).get("users") or []
                 if isinstance(u, dict) and "id" in u}
        ids = sorted({i for rule in body.get("matching_rules") or [] if isinstance(rule, dict)
                      for i in ids_from_tag(rule.get("tag"))})
        return StreamLine(post=parse_tweet(data, users), rule_ids=tuple(ids))
    errors = [e for e in body.get("errors") or [] if isinstance(e, dict)]
    if errors:
        return StreamLine(disconnect="; ".join(describe_error(e) for e in errors))
    return None



class Connection:
    """An open stream response read by a thread of its own; `lines` hands out what it read."""

    def __init__(self, client: httpx.Client, response: httpx.Response) -> None:
        self.client, self.response = client, response
        self._queue: queue.Queue[Any] = queue.Queue()
        self.last_line = time.monotonic()  # when the reader last got a line end (a keep-alive has one)
        self._reader = threading.Thread(target=self._read, name="x-stream-reader", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        try:
            for chunk in self.response.iter_bytes():
                if b"\n" in chunk:  # bytes without a line end prove nothing: a body may never send one
                    self.last_line = time.monotonic()
                self._queue.put(chunk)
            self._queue.put(SourceUnavailable("X closed the stream connection"))
        except Exception as exc:  # noqa: BLE001 - any way the read ends is a drop (or our close)
            self._queue.put(SourceUnavailable(f"X's stream connection dropped: {type(exc).__name__}: {exc}"))

    def lines(self, *, tick: float, silence: float, max_line: int = MAX_LINE_BYTES) -> Iterator[bytes | None]:
        """Complete lines (b"" for a keep-alive); None after `tick` seconds without one.

        Returns after `end()`; raises SourceUnavailable when the connection drops, sends no whole
        line (not even a keep-alive) for `silence` seconds, or more than `max_line` bytes without a
        line end (the buffer is dropped: the connection is as good as broken).
        """
        pending: list[bytes] = []  # the line so far, chunk by chunk: joined once, when its end comes
        size = 0
        while True:
            quiet = time.monotonic() - self.last_line
            if quiet >= silence:
                raise SourceUnavailable(f"X's stream was silent for {silence:.0f} s (no keep-alive)")
            try:
                item = self._queue.get(timeout=min(tick, silence - quiet))
            except queue.Empty:
                yield None
                continue
            if item is _END:
                return
            if isinstance(item, Exception):
                raise item
            start = 0
            while (end := item.find(b"\n", start)) >= 0:  # only the new chunk is searched
                pending.append(item[start:end])
                line = b"".join(pending)
                pending, size = [], 0
                yield line.strip(b"\r")
                start = end + 1
            if start < len(item):
                pending.append(item[start:])
                size += len(item) - start
                if size > max_line:
                    pending, size = [], 0
                    raise SourceUnavailable(f"X's stream sent more than {max_line} bytes without a line end")

    def end(self) -> None:
        """From any thread: `lines` returns, the socket is shut (the reader wakes and ends)."""
        self._queue.put(_END)
        stream = self.response.extensions.get("network_stream")
        sock = stream.get_extra_info("socket") if stream is not None else None
        if isinstance(sock, socket.socket):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self) -> None:
        self.end()
        try:
            self.response.close()
        finally:
            self.client.close()
