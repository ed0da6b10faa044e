"""The demo workspace's HTTP side: the page and its long poll, people's clicks (/ui/*), the Web API
(/api/*), response URLs, file uploads and downloads. `Workspace.start` serves it.
"""

from __future__ import annotations

import json
import logging
import mimetypes
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit

from socialdesk.demo.identity import BOT_USER_ID
from socialdesk.demo.workspace_files import MAX_UPLOAD

if TYPE_CHECKING:
    from socialdesk.demo.workspace import Workspace

log = logging.getLogger("socialdesk.demo.workspace")
STATIC = Path(__file__).parent / "static"
LONG_POLL_SECONDS = 20.0


class Handler(BaseHTTPRequestHandler):
    ws: Workspace
    protocol_version = "HTTP/1.1"
    server_version = "socialdesk-demo"

    def handle(self) -> None:
        try:
            super().handle()
        except (BrokenPipeError, ConnectionResetError):  # the page went away mid-answer (reload, long poll)
            pass

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        log.debug("workspace: " + format, *args)

    def _send(self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, data: Any, status: int = 200) -> None:
        self._send(status, json.dumps(data).encode(), "application/json; charset=utf-8")

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def do_GET(self) -> None:  # noqa: N802
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        if parts.path in ("/", "/index.html") or parts.path.startswith("/archives/"):
            return self._static("index.html")  # a permalink opens the page, which shows the message
        if parts.path.startswith("/static/"):
            return self._static(parts.path[len("/static/"):])
        if parts.path == "/state":
            return self._state(query)
        if parts.path == "/healthz":
            return self._json({"ok": True})
        if parts.path.startswith("/api/"):
            return self._api(parts.path[5:], query)
        if parts.path.startswith(("/files-pri/", "/files/")):
            return self._file(parts.path, download="download" in query)
        self._json({"ok": False, "error": "not_found"}, 404)

    do_HEAD = do_GET

    def _file(self, path: str, *, download: bool) -> None:
        """A shared file's bytes. The app reads them with its token as from Slack; the page's people
        are all on 127.0.0.1 and signed in as whoever they pick, so they need none (a wrong one is refused)."""
        auth = self.headers.get("Authorization") or ""
        if auth and auth[7:].strip() != self.ws.bot_token:
            return self._send(401, b"invalid_auth", "text/plain; charset=utf-8")
        file_id = path.split("/")[2]
        stored = self.ws.state.file_content(file_id)
        if stored is None:
            return self._send(404, b"file_not_found", "text/plain; charset=utf-8")
        name = stored.info["name"].replace('"', "")
        ctype = stored.info["mimetype"]
        if ctype.startswith("text/") or ctype.endswith(("json", "ndjson")):
            ctype += "; charset=utf-8"
        disposition = "attachment" if download else "inline"
        self._send(200, stored.data, ctype, {"Content-Disposition": f'{disposition}; filename="{name}"'})

    def _static(self, name: str) -> None:
        path = (STATIC / name).resolve()
        if STATIC.resolve() not in path.parents or not path.is_file():
            return self._json({"ok": False, "error": "not_found"}, 404)
        ctype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        if ctype.startswith("text/") or ctype.endswith("javascript"):
            ctype += "; charset=utf-8"
        self._send(200, path.read_bytes(), ctype)

    def _state(self, query: dict[str, str]) -> None:
        state = self.ws.state
        try:
            user = state.user_id(query.get("user") or next(u["name"] for u in state.users.values() if not u["is_bot"]))
        except KeyError:
            return self._json({"ok": False, "error": "user_not_found"}, 404)
        since = int(query.get("since") or -1)
        wait = min(float(query.get("wait") or 0), LONG_POLL_SECONDS)
        if wait > 0 and since >= state.version:
            state.wait(since, wait)
        snap = state.snapshot(user)
        self._json({"ok": True, "team_id": state.team_id, "bot_user_id": BOT_USER_ID, **snap})

    def do_POST(self) -> None:  # noqa: N802
        parts = urlsplit(self.path)
        if parts.path.startswith("/upload/v1/"):
            return self._upload(unquote(parts.path[len("/upload/v1/"):]))
        raw = self._body()
        if parts.path.startswith("/api/"):
            params: dict[str, Any] = {k: v[-1] for k, v in parse_qs(parts.query).items()}
            ctype = (self.headers.get("Content-Type") or "").lower()
            if "json" in ctype:
                try:
                    data = json.loads(raw or b"{}")
                except ValueError:
                    return self._json({"ok": False, "error": "invalid_json"})
                params.update(data if isinstance(data, dict) else {})
            else:
                params.update({k: v[-1] for k, v in parse_qs(raw.decode(errors="replace")).items()})
            return self._api(parts.path[5:], params)
        if parts.path.startswith("/response/"):
            token = parts.path.rsplit("/", 1)[-1]
            try:
                data = json.loads(raw or b"{}")
            except ValueError:
                data = {"text": raw.decode(errors="replace")}
            return self._json(self.ws.response_url_post(token, data if isinstance(data, dict) else {}))
        if parts.path.startswith("/ui/"):
            try:
                data = json.loads(raw or b"{}")
            except ValueError:
                return self._json({"ok": False, "error": "invalid_json"}, 400)
            return self._ui(parts.path[4:], data if isinstance(data, dict) else {})
        self._json({"ok": False, "error": "not_found"}, 404)

    def _upload(self, file_id: str) -> None:
        """The upload URL files.getUploadURLExternal gave: the body is the file (slack_sdk POSTs it raw)."""
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_UPLOAD:
            self.close_connection = True  # the body is not read
            return self._send(413, b"file_too_large", "text/plain; charset=utf-8")
        problem = self.ws.state.receive_upload(file_id, self.rfile.read(length) if length else b"")
        if problem:
            return self._send(404 if problem == "file_not_found" else 400, problem.encode(), "text/plain; charset=utf-8")
        self._send(200, b"OK - " + str(length).encode(), "text/plain; charset=utf-8")

    def _api(self, method: str, params: dict[str, Any]) -> None:
        auth = self.headers.get("Authorization") or ""
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else params.pop("token", None)
        params.pop("token", None)
        result = self.ws.state.call(method, params, token)
        if result.get("error") == "unknown_method":
            return self._json(result, 404)
        self._json(result)

    def _ui(self, action: str, data: dict) -> None:
        ws = self.ws
        try:
            user = ws.state.user_id(str(data.get("user") or ""))
        except KeyError:
            return self._json({"ok": False, "error": "user_not_found"}, 400)
        try:
            if action == "click":
                result = ws.click(user=user, block_id=str(data.get("block_id") or ""),
                                  action_id=str(data.get("action_id") or ""), value=data.get("value"),
                                  channel=data.get("channel"), message_ts=data.get("message_ts"),
                                  ephemeral=bool(data.get("ephemeral")), view_id=data.get("view_id"),
                                  values=data.get("values"),
                                  element=data.get("element") if isinstance(data.get("element"), dict) else None)
            elif action == "submit":
                result = ws.submit(user=user, view_id=str(data.get("view_id") or ""), values=data.get("values"))
            elif action == "close":
                result = ws.cancel(user=user, view_id=str(data.get("view_id") or ""), values=data.get("values"))
            elif action == "command":
                result = ws.command(user=user, channel=str(data.get("channel") or ""), text=str(data.get("text") or ""))
            elif action == "home":
                result = ws.open_home(user=user)
            elif action == "post":
                result = ws.post_as(user=user, channel=str(data.get("channel") or ""), text=str(data.get("text") or ""),
                                    thread_ts=data.get("thread_ts"))
            elif action == "dismiss":
                with ws.state.lock:
                    ws.state.ephemerals = [e for e in ws.state.ephemerals
                                           if not (e["user"] == user and e["ts"] == data.get("ts"))]
                ws.state.touch()
                result = {"ok": True}
            else:
                return self._json({"ok": False, "error": "not_found"}, 404)
        except Exception as exc:  # noqa: BLE001 - the page shows what went wrong
            log.exception("workspace UI %s failed", action)
            return self._json({"ok": False, "error": f"{type(exc).__name__}: {exc}"}, 500)
        self._json(result, HTTPStatus.OK)
