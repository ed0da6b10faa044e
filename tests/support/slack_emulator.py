"""A real Slack Web API for tests: the `emulate` npm package (0.11.2), run as a process.

Things about emulate 0.11.2 that tests must know (checked against its source):
- Auth: any non-empty bearer token is accepted. Seeded tokens act as their user;
  unknown ones fall back to the default user "admin" (U000000001). No header at
  all gives `not_authed`. Scope checks are off unless `strict_scopes: true`.
- Only POST is routed for most methods (conversations.history/replies/list,
  users.list/info ...); a GET, or an unknown method, is an HTTP 404 with a
  non-Slack JSON body. slack_sdk's sync WebClient always POSTs, so it works;
  AsyncWebClient honours GET for those helpers and would get the 404.
- No Slack rate limiting (no 429 / Retry-After). There is a generic budget of
  5000 requests per hour per token string: the 5000th gets HTTP 403
  {"message": "API rate limit exceeded"}. The helpers below use their own token
  so they never eat the app's budget; a load test can use fresh unknown tokens.
- conversations.history always returns `metadata` (include_all_metadata is
  ignored), ignores `oldest`/`latest`, and pages with the message ts as cursor.
- Bot messages carry `user` = the bot user id but no `bot_id`.
- chat.update keeps metadata unless it is sent again; sending `text` without
  `blocks` clears the blocks.
- chat.postEphemeral messages are stored but only visible in the HTML inspector
  (GET /?tab=messages&channel=C...); see `ephemeral_texts`.
"""

from __future__ import annotations

import html
import os
import re
import signal
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from socialdesk.slack.scopes import BOT_SCOPES
from tests.support.http import local
from tests.support.ports import free_port

BOT_TOKEN = "xoxb-socialdesk-test"
# The helpers' own identity: the default "admin" user, a member of every channel.
OBSERVER_TOKEN = "xoxp-socialdesk-observer"
TEAM_NAME = "Acme Phones"
USER_NAMES = ["alice", "bob", "carol"] + [f"agent{i:02d}" for i in range(1, 21)]
ADMIN_NAMES = ["mia"]  # a workspace admin (users.info says is_admin): manages rules, digests, webhooks
CHANNEL_NAMES = ["social-care", "vip-care"]
# Fixed so tests and app config can name them; other ids are random per run.
BOT_NAME = "socialdesk"
APP_ID = "A0SOCIALDK"
BOT_ID = "B0SOCIALDK"
BOT_USER_ID = "U0SOCIALDK"


def seed_config() -> dict[str, Any]:
    users = [
        {"name": n, "real_name": n.capitalize(), "email": f"{n}@acme-phones.test"}
        for n in USER_NAMES
    ] + [
        {"name": n, "real_name": n.capitalize(), "email": f"{n}@acme-phones.test", "is_admin": True}
        for n in ADMIN_NAMES
    ]
    return {
        "slack": {
            "team": {"name": TEAM_NAME, "domain": "acme-phones"},
            # Users before channels: the emulator makes every existing user a member.
            "users": users,
            "channels": [{"name": n, "topic": f"#{n}"} for n in CHANNEL_NAMES],
            "oauth_apps": [
                {
                    "client_id": "1111.2222",
                    "client_secret": "socialdesk-client-secret",
                    "app_id": APP_ID,
                    "name": BOT_NAME,
                    "bot_name": BOT_NAME,
                    "bot_id": BOT_ID,
                    "bot_user_id": BOT_USER_ID,
                    "redirect_uris": ["http://127.0.0.1/slack/oauth_redirect"],
                    "scopes": list(BOT_SCOPES),
                }
            ],
            "tokens": [
                {
                    "token": BOT_TOKEN,
                    "type": "bot",
                    "user": BOT_USER_ID,
                    "bot_id": BOT_ID,
                    "bot_user_id": BOT_USER_ID,
                    "app_id": APP_ID,
                    "scopes": list(BOT_SCOPES),
                },
                {"token": OBSERVER_TOKEN, "type": "user", "user": "U000000001"},
            ],
        }
    }


class SlackApiError(RuntimeError):
    pass


@dataclass
class SlackEmulator:
    url: str  # Web API base, ends with "/api/" (slack_sdk's base_url)
    base: str  # server root, for the inspector
    token: str = BOT_TOKEN
    channels: dict[str, str] = field(default_factory=dict)  # name -> C…
    users: dict[str, str] = field(default_factory=dict)  # name -> U… (incl. "socialdesk")
    team_id: str = ""
    bot_user_id: str = BOT_USER_ID
    bot_id: str = BOT_ID
    app_id: str = APP_ID
    observer_token: str = OBSERVER_TOKEN

    def call(self, method: str, *, token: str | None = None, **params: Any) -> dict:
        """POST a Web API method as JSON; raise SlackApiError unless ok."""
        resp = local().post(
            self.url + method,
            json=params,
            headers={"Authorization": f"Bearer {token or self.token}"},
            timeout=10,
        )
        resp.raise_for_status()
        data = resp.json()
        if not data.get("ok"):
            raise SlackApiError(f"{method}: {data}")
        return data

    def _observe(self, method: str, **params: Any) -> dict:
        return self.call(method, token=self.observer_token, **params)

    def history(self, channel: str, **params: Any) -> list[dict]:
        """Top-level messages, newest first, every page, with metadata."""
        channel = self.channels.get(channel, channel)
        messages: list[dict] = []
        cursor = ""
        while True:
            page = self._observe(
                "conversations.history",
                channel=channel,
                include_all_metadata=True,
                limit=200,
                cursor=cursor,
                **params,
            )
            messages += page["messages"]
            cursor = page.get("response_metadata", {}).get("next_cursor", "")
            if not cursor:
                return messages

    def replies(self, channel: str, ts: str) -> list[dict]:
        """The thread's parent then its replies, oldest first."""
        channel = self.channels.get(channel, channel)
        return self._observe("conversations.replies", channel=channel, ts=ts)["messages"]

    def trigger_id(self, user: str | None = None) -> str:
        """A modal trigger id for `user` (name or id), valid for views.open."""
        params = {"user_id": self.users.get(user, user)} if user else {}
        return self.call("views.generateTriggerId", **params)["trigger_id"]

    def new_channel(self, prefix: str = "t", *, private: bool = False) -> str:
        """A fresh channel with the bot and every seeded user in it, so a test
        sees only its own messages in a session-wide emulator. Returns its id."""
        name = f"{prefix}-{uuid.uuid4().hex[:8]}"
        channel = self.call("conversations.create", name=name, is_private=private)["channel"]["id"]
        humans = [uid for n, uid in self.users.items() if n != BOT_NAME]
        self.call("conversations.invite", channel=channel, users=",".join(humans))
        self.channels[name] = channel
        return channel

    def ephemeral_texts(self, channel: str) -> list[str]:
        """Texts of ephemeral messages in `channel` (newest first, at most 20).

        The API has no read access to them; this scrapes the inspector's
        "Ephemeral" table, whose Message column is the text, or the blocks'
        text when the text is empty.
        """
        channel = self.channels.get(channel, channel)
        page = local().get(self.base + "/", params={"tab": "messages", "channel": channel}).text
        section = page.split(">Ephemeral<", 1)[1].split(">Scheduled<", 1)[0]
        rows = re.findall(r"<tr>(.*?)</tr>", section, re.S)
        texts = []
        for row in rows:
            cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
            if len(cells) >= 3:
                texts.append(html.unescape(re.sub(r"<[^>]+>", "", cells[2])).strip())
        return texts


def start(repo_root: Path, workdir: Path, *, timeout: float = 30) -> tuple[SlackEmulator, subprocess.Popen]:
    """Start the emulator on a free port; the caller must `stop` the process."""
    exe = repo_root.resolve() / "node_modules" / ".bin" / "emulate"
    if not exe.exists():
        raise RuntimeError(f"{exe} is missing: run npm ci in {repo_root}")
    seed = workdir / "emulate-seed.yaml"
    seed.write_text(yaml.safe_dump(seed_config(), sort_keys=False))
    port = free_port()
    log = (workdir / "emulate.log").open("wb")
    proc = subprocess.Popen(
        [str(exe), "start", "-s", "slack", "-p", str(port), "--seed", str(seed)],
        cwd=workdir,  # keeps it from picking up an emulate.config.* elsewhere
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    emu = SlackEmulator(url=base + "/api/", base=base)
    try:
        _wait_ready(emu, proc, workdir / "emulate.log", timeout)
        _lookup_ids(emu)
    except BaseException:
        stop(proc)
        raise
    return emu, proc


def _wait_ready(emu: SlackEmulator, proc: subprocess.Popen, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"emulate exited with {proc.returncode}:\n{log.read_text()[-2000:]}")
        try:
            emu.team_id = emu.call("auth.test")["team_id"]
            return
        except (httpx.TransportError, SlackApiError):
            time.sleep(0.1)
    raise RuntimeError(f"emulate did not answer within {timeout}s:\n{log.read_text()[-2000:]}")


def _lookup_ids(emu: SlackEmulator) -> None:
    chans = emu._observe("conversations.list", limit=1000, types="public_channel,private_channel")
    emu.channels = {c["name"]: c["id"] for c in chans["channels"]}
    members = emu._observe("users.list", limit=1000)["members"]
    emu.users = {u["name"]: u["id"] for u in members}


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)
    except ProcessLookupError:
        pass
