"""What the event → card benchmarks share (bench/stream.py, bench/mastodon_stream.py).

The recording proxy that stands between the app and the Slack emulator and notes when
each call of some Web API methods was answered, nearest-rank percentiles, the commit
measured, and the small helpers that drive the fakes' child process and read the app's
warnings. Figures only; nothing here asserts a time.
"""

from __future__ import annotations

import logging
import multiprocessing
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]


def code_version() -> str:
    def git(*a: str) -> str:
        return subprocess.run(["git", *a], check=False, cwd=REPO, capture_output=True, text=True).stdout.strip()

    head = git("rev-parse", "--short", "HEAD") or "unknown"
    return head + (" + uncommitted changes in src/" if git("status", "--porcelain", "--", "src") else "")


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * p // 100))
    return ordered[int(rank) - 1]


class RecordingProxy:
    """Passes the app's Web API calls to the emulator with one shared client, and notes when
    each call of the `record`ed methods was answered (a card exists in Slack from then on):
    `calls[method]` is a list of (monotonic when answered, request body, ok); `cards` is
    chat.postMessage's. `methods` counts every call by method."""

    def __init__(self, target: str, record: Iterable[str] = ("chat.postMessage",)) -> None:
        target = target.rstrip("/") + "/"
        client = httpx.Client(timeout=30)
        self.calls: dict[str, list[tuple[float, str, bool]]] = {method: [] for method in record}
        self.methods: Counter[str] = Counter()
        lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                method = self.path.rsplit("/", 1)[-1]
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                headers = {k: v for k, v in self.headers.items() if k.lower() in ("authorization", "content-type")}
                answer = client.post(target + method, content=body, headers=headers)
                answered = time.monotonic()
                with lock:
                    proxy.methods[method] += 1
                    if method in proxy.calls:
                        ok = answer.status_code == 200 and b'"ok":true' in answer.content.replace(b" ", b"")
                        proxy.calls[method].append((answered, body.decode("utf-8", "replace"), ok))
                self.send_response(answer.status_code)
                for name in ("content-type", "retry-after"):
                    if name in answer.headers:
                        self.send_header(name, answer.headers[name])
                self.send_header("content-length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

        ThreadingHTTPServer.request_queue_size = 128
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/api/"

    @property
    def cards(self) -> list[tuple[float, str, bool]]:
        return self.calls.get("chat.postMessage", [])

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def start_fakes(target: Any, *args: Any) -> tuple[Any, Any, Any]:
    """The networks' fakes in a process of their own (they must not take turns with the app for
    its GIL): (the pipe to it, the process, what it sent first: its URLs)."""
    ctx = multiprocessing.get_context("spawn")
    conn, child_conn = ctx.Pipe()
    child = ctx.Process(target=target, name="fakes", daemon=True, args=(child_conn, *args))
    child.start()
    if not conn.poll(60):
        child.terminate()
        raise RuntimeError("the fakes' process did not start within 60 s")
    return conn, child, conn.recv()


def stop_fakes(conn: Any, child: Any, command: Any) -> None:
    """Ask the fakes' process to stop (`command`: what its loop takes for "stop"); end it if it does not."""
    try:
        ask(conn, command, timeout=10)
    except (RuntimeError, OSError, EOFError):
        pass
    child.join(10)
    if child.is_alive():
        child.terminate()


def ask(conn: Any, command: Any, timeout: float = 30.0) -> Any:
    conn.send(command)
    if not conn.poll(timeout):
        raise RuntimeError(f"the fakes' process did not answer {command!r} within {timeout:.0f} s")
    return conn.recv()


def wait_until(what: str, check: Any, timeout: float, every: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


BOLT_TOKEN_WARNING = "As you gave `client` as well, `token` will be unused."


def log_findings(records: list[logging.LogRecord], problems: list[str]) -> None:
    token = [r for r in records if BOLT_TOKEN_WARNING in r.getMessage()]
    other = [r for r in records if r not in token]
    if token:
        print(f"  note: slack_bolt warned at start: {BOLT_TOKEN_WARNING!r}")
    if other:
        lines = [f"{r.levelname} {r.name}: {r.getMessage()[:200]}" for r in other[:10]]
        problems.append(f"the app logged {len(other)} warning/error lines, e.g.:\n    " + "\n    ".join(lines))
