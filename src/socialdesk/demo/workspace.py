"""A local stand-in for Slack: a Web API for the app, and a web page for people.

The app talks to `api_url` exactly as to slack.com (slack_sdk's WebClient with
`base_url`). People use the page at `url`; each click becomes the signed request
Slack would send (`block_actions`, `view_submission`, `view_closed`, slash
commands, `app_home_opened`), POSTed to `app_events_url`. Those requests are built in
`workspace_requests`, the Web API and its state are `workspace_api`; here are the server's
life, the response URLs the app answers on, and people's own messages.

Standard library only. No HTML is ever built from message text: the page builds
DOM nodes from Block Kit JSON.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from http.server import ThreadingHTTPServer

from socialdesk.demo.handler import Handler as _Handler
from socialdesk.demo.workspace_api import WorkspaceState, _truthy
from socialdesk.demo.workspace_requests import Requests

log = logging.getLogger(__name__)


class Workspace(Requests):
    """A local stand-in for Slack: a Web API for the app, and a web page for people."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 8700, signing_secret: str,
                 app_events_url: str | None = None, team_name: str = "Acme Phones",
                 users: tuple[str, ...] | list[str] = ("alice", "bob", "carol"),
                 channels: tuple[str, ...] | list[str] = ("social-care",),
                 local_pages: tuple[tuple[str, str], ...] | list[tuple[str, str]] = ()) -> None:
        """`local_pages`: (label, url) of pages the sidebar links to (the local networks' pages)."""
        self.host, self.port = host, port
        self.signing_secret = signing_secret
        self.app_events_url = app_events_url
        self.state = WorkspaceState(team_name=team_name, users=users, channels=channels)
        self.state.local_pages = [(str(label), str(url)) for label, url in local_pages]
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        # token -> (user, channel, thread, the clicked message's (ts, is ephemeral) or None)
        self._response_urls: dict[str, tuple[str, str | None, str | None, tuple[str, bool] | None]] = {}

    # --- life ------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def api_url(self) -> str:
        return self.url + "/api/"

    @property
    def bot_token(self) -> str:
        return self.state.bot_token

    @property
    def team_id(self) -> str:
        return self.state.team_id

    def channel_id(self, name: str) -> str:
        return self.state.channel_id(name)

    def user_id(self, name: str) -> str:
        return self.state.user_id(name)

    def link_pages(self, pages: list[tuple[str, str]]) -> None:
        """(label, url) of pages the sidebar links to: the local networks' pages, known once they run."""
        with self.state.lock:
            self.state.local_pages = [(str(label), str(url)) for label, url in pages]
        self.state.touch()

    def start(self) -> Workspace:
        workspace = self

        class Handler(_Handler):
            ws = workspace

        self._server = ThreadingHTTPServer((self.host, self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.state.base_url = self.url  # upload URLs, file links and permalinks point here
        self._thread = threading.Thread(target=self._server.serve_forever, name="demo-workspace", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self.state.touch()  # wake long polls
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Workspace:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- the app's answers (response URLs); the requests are in workspace_requests ---------

    def _response_url(self, user: str, channel: str | None, thread_ts: str | None = None,
                      source: tuple[str, bool] | None = None) -> str:
        token = uuid.uuid4().hex
        self._response_urls[token] = (user, channel, thread_ts, source)
        return f"{self.url}/response/{self.team_id}/{token}"

    def _show_response(self, user: str, channel: str | None, thread_ts: str | None, body: bytes | dict) -> None:
        if isinstance(body, (bytes, bytearray)):
            if not body.strip():
                return
            try:
                answer = json.loads(body)
            except ValueError:
                answer = {"text": body.decode(errors="replace")}
        else:
            answer = body
        if not isinstance(answer, dict) or not (answer.get("text") or answer.get("blocks")):
            return
        channel = channel or self.state.dm_of(user).id
        if answer.get("response_type") == "in_channel":
            params = {"channel": channel, "text": answer.get("text") or "", "blocks": answer.get("blocks")}
            if thread_ts:
                params["thread_ts"] = thread_ts
            self.state.call("chat.postMessage", params, self.bot_token)
        else:
            self.state.add_ephemeral(channel, user, text=answer.get("text") or "", blocks=answer.get("blocks"),
                                     thread_ts=thread_ts)

    def response_url_post(self, token: str, body: dict) -> dict:
        target = self._response_urls.get(token)
        if target is None:
            return {"ok": False, "error": "expired_url"}
        user, channel, thread, source = target
        replace, delete = (_truthy(body.get(k)) for k in ("replace_original", "delete_original"))
        if (replace or delete) and source is not None and channel:
            # Slack: the message the click was on is replaced (or deleted) in place; for an ephemeral
            # one (Prev/Next on a list) this is the only way to change it.
            return self._replace(user, channel, source, None if delete else body)
        self._show_response(user, channel, thread, body)
        return {"ok": True}

    def _replace(self, user: str, channel: str, source: tuple[str, bool], body: dict | None) -> dict:
        ts, ephemeral = source
        with self.state.lock:
            if ephemeral:
                found = [e for e in self.state.ephemerals if e["ts"] == ts and e["user"] == user]
            else:
                ch = self.state.channels.get(channel)
                found = [m for m in (ch.messages if ch else []) if m["ts"] == ts]
            if not found:
                return {"ok": False, "error": "message_not_found"}
            msg = found[0]
            if body is None:
                if ephemeral:
                    self.state.ephemerals.remove(msg)
                else:
                    self.state.channels[channel].messages.remove(msg)
            else:
                msg["text"] = str(body.get("text") or "")
                if body.get("blocks"):
                    msg["blocks"] = body["blocks"]
                else:
                    msg.pop("blocks", None)
        self.state.touch()
        return {"ok": True}

    def post_as(self, *, user: str, channel: str, text: str, thread_ts: str | None = None) -> dict:
        """A person's own message (not sent to the app: it subscribes to no message events)."""
        with self.state.lock:
            ch = self.state.channels.get(channel)
            if ch is None or user not in ch.members:
                return {"ok": False, "error": "channel_not_found"}
            ts = self.state.next_ts()
            msg = {"type": "message", "text": text, "user": user, "ts": ts, "team": self.team_id}
            if thread_ts:
                parent = next((m for m in ch.messages if m["ts"] == thread_ts), None)
                if parent is None:
                    return {"ok": False, "error": "thread_not_found"}
                msg["thread_ts"] = thread_ts
                parent["thread_ts"] = thread_ts
                parent["reply_count"] = parent.get("reply_count", 0) + 1
                parent["latest_reply"] = ts
                if user not in parent.setdefault("reply_users", []):
                    parent["reply_users"].append(user)
                parent["reply_users_count"] = len(parent["reply_users"])
            ch.messages.append(msg)
        self.state.touch()
        return {"ok": True, "ts": ts}
