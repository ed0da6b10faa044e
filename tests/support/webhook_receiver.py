"""A local HTTP endpoint that receives socialdesk webhooks the way a CRM should.

It checks each request's signature with `socialdesk.webhook_signature.verify_signature`
(answering 401 when it fails), records what came, and answers from a script first
(e.g. 500, then 503 with Retry-After) and 200 after that.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from socialdesk.webhook_signature import SignatureError, verify_signature


@dataclass(frozen=True)
class Scripted:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: str = ""


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: str
    verified: bool
    problem: str | None
    answered: int

    @property
    def json(self) -> dict[str, Any]:
        return json.loads(self.body)


class WebhookReceiver:
    def __init__(self, *, secret: str, clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 script: list[Scripted] | None = None) -> None:
        self.secret = secret
        self.clock = clock
        self.script = list(script or [])
        self.received: list[Received] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/hooks/socialdesk"

    def __enter__(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def verified(self) -> list[Received]:
        with self._lock:
            return [r for r in self.received if r.verified]

    def _handle(self, headers: dict[str, str], body: bytes) -> Scripted:
        try:
            verify_signature(self.secret, headers.get("x-socialdesk-timestamp", ""), body,
                             headers.get("x-socialdesk-signature", ""), now=self.clock())
            verified, problem = True, None
        except SignatureError as exc:
            verified, problem = False, str(exc)
        with self._lock:
            answer = Scripted(401, body=problem or "") if not verified else (
                self.script.pop(0) if self.script else Scripted(200, body="ok"))
            self.received.append(Received(headers=headers, body=body.decode(), verified=verified, problem=problem,
                                          answered=answer.status))
        return answer

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                answer = receiver._handle({k.lower(): v for k, v in self.headers.items()}, body)
                payload = answer.body.encode()
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *_args: object) -> None:
                pass

        return Handler
