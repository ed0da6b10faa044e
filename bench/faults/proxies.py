"""Small HTTP proxies the fault rows put between the app and its services, for faults the
services' own fakes cannot make: connections cut with a TCP reset (FlakyX, in front of FakeX)
and Slack calls held open at a chosen point (HeldSlack, in front of the emulator)."""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

import httpx

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding"}


class FlakyX:
    """A pass-through proxy in front of FakeX that can cut connections with a TCP reset, before
    answering or halfway through the body, for the next N requests to a path (FakeX's own faults
    are HTTP answers; a dropped connection needs a socket)."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.cut: list[tuple[str, str]] = []  # (path prefix, "before" | "mid-body"), taken in order
        self.cuts_done: list[tuple[str, float]] = []  # (mode, time.time())
        self._lock = threading.Lock()
        client = httpx.Client(timeout=60)
        flaky = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as X's front end: a reset can hit a reused connection

            def log_message(self, *args: object) -> None:
                pass

            def _reset(self) -> None:
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.close_connection = True
                self.connection.close()  # with linger 0: RST, not FIN

            def _serve(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                mode = flaky._take(self.path)
                if mode == "before":
                    return self._reset()
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
                answer = client.request(self.command, flaky.upstream + self.path, content=body, headers=headers)
                self.send_response(answer.status_code)
                for name, value in answer.headers.items():
                    if name.lower() not in HOP_BY_HOP:
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                if mode == "mid-body":
                    self.wfile.write(answer.content[: len(answer.content) // 2])
                    return self._reset()
                self.wfile.write(answer.content)

            do_GET = do_POST = _serve

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._client = client
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def reset_next(self, path: str, mode: str = "before") -> None:
        with self._lock:
            self.cut.append((path, mode))

    def _take(self, raw_path: str) -> str | None:
        with self._lock:
            for i, (path, mode) in enumerate(self.cut):
                if raw_path.startswith(path):
                    del self.cut[i]
                    self.cuts_done.append((mode, time.time()))
                    return mode
        return None

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._client.close()


class HeldSlack:
    """A pass-through in front of the Slack emulator that holds each `method` call twice: `before`
    seconds before forwarding it (the app has asked, Slack has nothing yet), and `after` seconds
    after Slack answered (the message exists, the app has no ts yet). `wait_held(phase)` returns
    the case id of a call while it is held in that phase."""

    def __init__(self, upstream_api_url: str, *, method: str = "chat.postMessage", before: float = 0.3,
                 after: float = 0.7) -> None:
        self.upstream, self.method, self.before, self.after = upstream_api_url, method, before, after
        self.held: dict[int, tuple[str, int | None]] = {}  # call number -> (phase, case id)
        self._changed = threading.Condition()
        self._count = 0
        held = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                method = self.path.rsplit("/", 1)[-1]
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k: v for k, v in self.headers.items() if k.lower() in ("authorization", "content-type")}
                number = held._enter(case_of(body, self.headers.get("Content-Type", ""))) if method == held.method else None
                try:
                    if number is not None:
                        time.sleep(held.before)
                    answer = httpx.post(held.upstream + method, content=body, headers=headers, timeout=30)
                    if number is not None:
                        held._phase(number, "after")
                        time.sleep(held.after)
                    self.send_response(answer.status_code)
                    self.send_header("Content-Type", answer.headers.get("content-type", "application/json"))
                    self.send_header("Content-Length", str(len(answer.content)))
                    self.end_headers()
                    self.wfile.write(answer.content)
                except OSError:
                    pass  # the app was killed while its call was held
                finally:
                    if number is not None:
                        held._phase(number, None)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/api/"

    def _enter(self, case_id: int | None) -> int:
        with self._changed:
            self._count += 1
            self.held[self._count] = ("before", case_id)
            self._changed.notify_all()
            return self._count

    def _phase(self, number: int, phase: str | None) -> None:
        with self._changed:
            if phase is None:
                self.held.pop(number, None)
            else:
                self.held[number] = (phase, self.held[number][1])
            self._changed.notify_all()

    def wait_held(self, phase: str, timeout: float) -> int | None:
        """The case id of a call held in `phase` ("before" or "after"), once there is one; None on timeout."""
        with self._changed:
            found = self._changed.wait_for(
                lambda: next((c for p, c in self.held.values() if p == phase and c is not None), None), timeout=timeout)
            return found

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def case_of(body: bytes, content_type: str) -> int | None:
    """The case id in a card's message metadata (JSON body, or a form with `metadata` as JSON)."""
    try:
        params = json.loads(body) if "json" in content_type else dict(parse_qsl(body.decode()))
        metadata = params.get("metadata")
        metadata = json.loads(metadata) if isinstance(metadata, str) else metadata
        return int(metadata["event_payload"]["case_id"])
    except (ValueError, KeyError, TypeError):
        return None
