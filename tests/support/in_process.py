"""The app built in this process (`app.build`), its WSGI entry called directly: Slack's requests
as bytes, no server and no port. The jobs are not started; listeners run as in production."""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from socialdesk.app import Socialdesk, build, http_client
from socialdesk.config import Settings
from socialdesk.store.db import make_engine
from tests.support.http import ssl_context


@dataclass
class Answer:
    status: int
    body: bytes

    def json(self) -> dict:
        return json.loads(self.body)


def url_of(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def make_desk(url: str, slack_api_url: str, *, secret: str, clock: Callable[[], datetime] | None = None,
              **settings: Any) -> Socialdesk:
    """`clock`: the app's clock (a test's, moved forward without sleeping); None: the real one."""
    values: dict[str, Any] = dict(
        SOCIALDESK_DATABASE_URL=url,
        SLACK_BOT_TOKEN=f"xoxb-in-process-{uuid.uuid4().hex}",  # a token of its own: the emulator budgets per token
        SLACK_SIGNING_SECRET=secret,
        SOCIALDESK_SLACK_API_URL=slack_api_url,
        SOCIALDESK_OWN_HANDLES="acmephones",
        SOCIALDESK_BLUESKY_JETSTREAM_URL="",
    )
    return build(Settings(**(values | settings)), engine=make_engine(url), http=http_client(verify=ssl_context()),
                 **({"clock": clock} if clock else {}))


def post(desk: Socialdesk, body: bytes | None, headers: dict[str, str] | None = None, *,
         content_type: str | None = "application/x-www-form-urlencoded", content_length: str | None = None,
         stream: Any = None) -> Answer:
    """POST to /slack/events through the app's WSGI callable; the answer is the response Slack would get."""
    environ = {
        "REQUEST_METHOD": "POST", "PATH_INFO": "/slack/events", "QUERY_STRING": "", "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "203.0.113.9", "wsgi.input": stream if stream is not None else io.BytesIO(body or b""),
    }
    if content_type is not None:
        environ["CONTENT_TYPE"] = content_type
    if content_length is not None:
        environ["CONTENT_LENGTH"] = content_length
    elif body is not None:
        environ["CONTENT_LENGTH"] = str(len(body))
    for name, value in (headers or {}).items():
        environ["HTTP_" + name.upper().replace("-", "_")] = value
    started: list[str] = []
    chunks = desk.wsgi(environ, lambda status, _headers, _exc=None: started.append(status))
    answer = b"".join(chunks)
    return Answer(int(started[0].split()[0]), answer)
