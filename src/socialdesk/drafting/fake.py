"""FakeChat: an OpenAI-compatible chat-completions server on 127.0.0.1, for the tests and the demo.

`with FakeChat() as chat:` serves POST /v1/chat/completions (and /chat/completions) in the
shape of OpenAI's chat.completion object (id, object, created, model, choices[0].message,
finish_reason, usage), as Ollama and vLLM answer it too. Its `url` is the base URL to give
SOCIALDESK_LLM_URL. Every request is recorded (`requests`). Faults are injected for the
next requests: an error status with an OpenAI-shaped error body (`fail_next`), a slow
answer (`delay_next`), or any raw body (`answer_next`: malformed JSON, an empty choice).

The "model" is deterministic: it answers with the first of the team's earlier answers the
prompt quotes (socialdesk.drafting.prompt), after an apology if it has none; with none, it asks the
customer for a direct message. `reply=` replaces it. An answer longer than `max_tokens`
allows (about 3 characters a token) is cut, with finish_reason "length".
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PATHS = ("/v1/chat/completions", "/chat/completions")
CHARS_PER_TOKEN = 3
NO_ANSWER = ("Sorry for the trouble! Could you send us a direct message with your order number, so we can look "
             "into it right away?")
_FIRST_ANSWER = re.compile(r"^1\. (?:FAQ entry\. Question: .*\n\s+Answer: |Our reply on an answered case[^:]*: )(.+)$",
                           re.MULTILINE)


def canned_reply(request: dict[str, Any]) -> str:
    """The fake model: the prompt's first earlier answer, after an apology; else ask for a DM."""
    prompt = "\n".join(str(m.get("content", "")) for m in request.get("messages") or [] if isinstance(m, dict))
    found = _FIRST_ANSWER.search(prompt)
    if not found:
        return NO_ANSWER
    answer = found.group(1).strip()
    return answer if answer.casefold().startswith(("sorry", "thank")) else f"Sorry about that! {answer}"


@dataclass(frozen=True)
class ChatRequest:
    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes
    at: float  # time.time() when it arrived

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class _Next:
    status: int = 200
    body: bytes | None = None  # raw answer instead of a completion
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


class FakeChat:
    def __init__(self, *, reply: Callable[[dict[str, Any]], str] = canned_reply, api_key: str | None = None,
                 models: tuple[str, ...] | None = None, host: str = "127.0.0.1", port: int = 0) -> None:
        self.requests: list[ChatRequest] = []
        self._reply = reply
        self._api_key = api_key
        self._models = models  # None: any model name is served
        self._next: list[_Next] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                request = ChatRequest(self.path, {k.lower(): v for k, v in self.headers.items()}, body, time.time())
                status, payload, headers = fake._answer(request)
                self.send_response(status)
                for name, value in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                try:
                    self.wfile.write(payload)
                except OSError:  # the client gave up (its timeout) while we were slow on purpose
                    pass

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self._server.block_on_close = False
        self._thread: threading.Thread | None = None

    # --- lifecycle -------------------------------------------------------------------------
    def start(self) -> FakeChat:
        if self._thread is None:
            self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), name="FakeChat",
                                            daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # wakes a handler sleeping on an injected delay
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(5)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> FakeChat:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The base URL for SOCIALDESK_LLM_URL (OpenAI's and Ollama's end in /v1)."""
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    # --- faults ----------------------------------------------------------------------------
    def fail_next(self, status: int, *, message: str = "", headers: dict[str, str] | None = None,
                  times: int = 1) -> None:
        """The next `times` requests get `status` with an OpenAI-shaped error body."""
        body = json.dumps({"error": {"message": message or f"fake failure {status}", "type": "server_error",
                                     "code": status}}).encode()
        self._queue(_Next(status=status, body=body, headers=dict(headers or {})), times)

    def delay_next(self, seconds: float, *, times: int = 1) -> None:
        """The next `times` answers come after `seconds` (a slow model; the client's timeout)."""
        self._queue(_Next(delay=seconds), times)

    def answer_next(self, body: bytes | dict[str, Any], *, status: int = 200, times: int = 1) -> None:
        """The next `times` answers are `body` as it is (a dict as JSON): malformed or empty completions."""
        raw = json.dumps(body).encode() if isinstance(body, dict) else body
        self._queue(_Next(status=status, body=raw), times)

    def _queue(self, step: _Next, times: int) -> None:
        with self._lock:
            self._next.extend([step] * times)

    # --- answering -------------------------------------------------------------------------
    def _answer(self, request: ChatRequest) -> tuple[int, bytes, dict[str, str]]:
        with self._lock:
            self.requests.append(request)
            step = self._next.pop(0) if self._next else _Next()
        if step.delay:
            self._stopping.wait(step.delay)
        if request.path.split("?")[0] not in PATHS:
            return 404, _error(f"no route for {request.path}", "not_found"), {}
        if self._api_key is not None and request.headers.get("authorization") != f"Bearer {self._api_key}":
            sent = request.headers.get("authorization", "").removeprefix("Bearer ")
            # As OpenAI does, the error names the key it was given (the client must not log it).
            return 401, _error(f"Incorrect API key provided: {sent}.", "invalid_api_key"), {}
        if step.body is not None:
            return step.status, step.body, step.headers
        try:
            asked = json.loads(request.body)
        except ValueError:
            return 400, _error("the body is not JSON", "invalid_request_error"), {}
        model = asked.get("model") if isinstance(asked, dict) else None
        if not isinstance(model, str) or not isinstance(asked.get("messages"), list):
            return 400, _error("model and messages are required", "invalid_request_error"), {}
        if self._models is not None and model not in self._models:
            return 404, _error(f"model \"{model}\" not found, try pulling it first", "model_not_found"), {}
        return 200, json.dumps(self._completion(asked, model)).encode(), {}

    def _completion(self, asked: dict[str, Any], model: str) -> dict[str, Any]:
        content = self._reply(asked)
        limit = asked.get("max_tokens")
        finish = "stop"
        if isinstance(limit, int) and len(content) > limit * CHARS_PER_TOKEN:
            content, finish = content[:limit * CHARS_PER_TOKEN], "length"
        prompt_tokens = sum(len(str(m.get("content", ""))) for m in asked["messages"] if isinstance(m, dict))
        prompt_tokens //= CHARS_PER_TOKEN
        completion_tokens = max(1, len(content) // CHARS_PER_TOKEN)
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex[:24]}", "object": "chat.completion", "created": int(time.time()),
            "model": model, "system_fingerprint": "fp_fakechat",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "logprobs": None,
                         "finish_reason": finish}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens},
        }


def _error(message: str, code: str) -> bytes:
    return json.dumps({"error": {"message": message, "type": "invalid_request_error", "code": code}}).encode()


__all__ = ["ChatRequest", "FakeChat", "NO_ANSWER", "PATHS", "canned_reply"]
