"""`socialdesk sandbox`: the whole main job on one machine, with no credentials.

A Slack emulator (the `emulate` npm package), each network's local stand-in playing a
scripted day at "Acme Phones", and the real app built by `socialdesk.app.build` between them,
all on 127.0.0.1. Ctrl-C, SIGTERM or `--duration` stops every part.
"""

from __future__ import annotations

import argparse
import json
import contextlib
import ctypes
import logging
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

from socialdesk.cli.common import int_in, positive_number
from socialdesk.sandbox.local import (bind_port, endpoint_lines, ensure_scenario_rules, raise_interrupt, settings_of,
                                      stop_after)
from socialdesk.sandbox.scenario import CHANNEL, OWN_HANDLE, POLL_SECONDS, SCENARIO_SECONDS
from socialdesk.slack.scopes import BOT_SCOPES

log = logging.getLogger(__name__)

DEFAULT_PORT = 8700
NPM_HINT = "the sandbox needs the Slack emulator: run `npm ci` in the socialdesk checkout"


class SandboxError(Exception):
    """The sandbox cannot start; the message says why."""


# --- the Slack emulator -------------------------------------------------------------
def find_emulate() -> Path | None:
    """node_modules/.bin/emulate above the current directory or above this package."""
    for start in (Path.cwd(), Path(__file__).resolve().parent):
        for folder in (start, *start.parents):
            exe = folder / "node_modules" / ".bin" / "emulate"
            if exe.exists():
                return exe
    return None


def _seed(bot_token: str) -> dict:
    users = [{"name": n, "real_name": n.capitalize(), "email": f"{n}@acme-phones.test"} for n in ("alice", "bob", "carol")]
    bot = {"app_id": "A0SOCIALDK", "bot_id": "B0SOCIALDK", "bot_user_id": "U0SOCIALDK"}
    return {"slack": {
        "team": {"name": "Acme Phones", "domain": "acme-phones"},
        "users": users,  # before channels: the emulator makes existing users members
        "channels": [{"name": CHANNEL, "topic": "Posts about Acme Phones, worked by the care team"}],
        "oauth_apps": [{"client_id": "1111.2222", "client_secret": secrets.token_hex(8), "name": "socialdesk",
                        "bot_name": "socialdesk", "redirect_uris": ["http://127.0.0.1/slack/oauth_redirect"],
                        "scopes": list(BOT_SCOPES), **bot}],
        "tokens": [{"token": bot_token, "type": "bot", "user": bot["bot_user_id"], "scopes": list(BOT_SCOPES), **bot}],
    }}


def _die_with_parent() -> None:
    # Linux: if the sandbox is killed -9, the kernel still stops the emulator.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def start_emulator(exe: Path, port: int, workdir: Path, bot_token: str) -> subprocess.Popen:
    seed = workdir / "emulate-seed.json"  # emulate reads JSON as well as YAML
    seed.write_text(json.dumps(_seed(bot_token), indent=2))
    with (workdir / "emulate.log").open("wb") as out:
        return subprocess.Popen(
            [str(exe), "start", "-s", "slack", "-p", str(port), "--seed", str(seed)],
            cwd=workdir, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, killed as one on the way out
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )


def stop_emulator(proc: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)


def wait_for_channel(proc: subprocess.Popen, api: str, token: str, workdir: Path, timeout: float = 30) -> str:
    """Wait until auth.test answers; returns the id of #social-care."""
    import httpx  # here, not at the top: `socialdesk --help` builds this command's parser

    headers = {"Authorization": f"Bearer {token}"}
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            tail = (workdir / "emulate.log").read_text(errors="replace")[-2000:]
            raise SandboxError(f"the Slack emulator exited with {proc.returncode}:\n{tail}")
        with contextlib.suppress(httpx.TransportError, ValueError):
            if httpx.post(api + "auth.test", headers=headers, timeout=2).json().get("ok"):
                break
        if time.monotonic() > deadline:
            raise SandboxError(f"the Slack emulator did not answer within {timeout:.0f} s")
        time.sleep(0.1)
    listing = httpx.post(api + "conversations.list", headers=headers, json={"limit": 1000}, timeout=5).json()
    return next(c["id"] for c in listing["channels"] if c["name"] == CHANNEL)


# --- the command ----------------------------------------------------------------------
def add_parser(subparsers) -> None:  # type: ignore[no-untyped-def]
    p = subparsers.add_parser(
        "sandbox", help="try it locally: a Slack emulator, local social networks and the app, no credentials",
        description="Run the app against a local Slack emulator and local social networks playing a scripted "
                    "day at a fictional phone maker. Nothing leaves 127.0.0.1.")
    p.add_argument("--port", type=int_in(1, 65535), default=DEFAULT_PORT,
                   help=f"the Slack emulator's port; its web inspector shows the cards (default {DEFAULT_PORT})")
    p.add_argument("--db", type=Path, metavar="PATH", help="SQLite file to keep (default: a temporary one)")
    p.add_argument("--speed", type=positive_number, default=1.0,
                   help=f"play the {SCENARIO_SECONDS // 60}-minute scenario this many times faster (default 1)")
    p.add_argument("--duration", type=positive_number, metavar="SECONDS", help="stop by itself this long after starting")
    p.set_defaults(func=lambda _settings, args: run(args))


def run(args: argparse.Namespace) -> int:
    exe = find_emulate()
    if exe is None:
        print(NPM_HINT, file=sys.stderr)
        return 2
    if bind_port(args.port) is None:
        print(f"port {args.port} on 127.0.0.1 is in use; choose another with --port", file=sys.stderr)
        return 2
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, raise_interrupt)  # serve() installs its own handlers later
    with contextlib.ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="socialdesk-sandbox-")))
        try:
            _run(args, exe, workdir, stack)
        except SandboxError as exc:
            print(f"socialdesk sandbox: {exc}", file=sys.stderr)
            return 1
    print("sandbox stopped: the Slack emulator, the local networks and the app are down", flush=True)
    return 0


def _run(args: argparse.Namespace, exe: Path, workdir: Path, stack: contextlib.ExitStack) -> None:
    from socialdesk.app import build
    from socialdesk.config import Settings
    from socialdesk.server import serve

    bot_token = "xoxb-sandbox-" + secrets.token_hex(8)
    proc = start_emulator(exe, args.port, workdir, bot_token)
    stack.callback(stop_emulator, proc)
    inspector, api = f"http://127.0.0.1:{args.port}", f"http://127.0.0.1:{args.port}/api/"
    channel = wait_for_channel(proc, api, bot_token, workdir)

    from socialdesk.networks import registry

    plays = registry.local_plays(speed=args.speed, demo=False)
    for play in plays:
        stack.callback(play.stop)

    db = args.db.resolve() if args.db else workdir / "socialdesk.db"
    db.parent.mkdir(parents=True, exist_ok=True)
    app_port, signing_secret = bind_port(0), secrets.token_hex(16)
    settings = Settings(
        _env_file=None,  # a sandbox never picks up real credentials from .env
        SOCIALDESK_DATABASE_URL=f"sqlite:///{db}", SLACK_BOT_TOKEN=bot_token, SLACK_SIGNING_SECRET=signing_secret,
        SLACK_APP_TOKEN=None, SOCIALDESK_SLACK_API_URL=api, SOCIALDESK_OWN_HANDLES=OWN_HANDLE,
        SOCIALDESK_HTTP_HOST="127.0.0.1", SOCIALDESK_HTTP_PORT=app_port,
        # The local networks: replies go out as their fake brand accounts, with no sign-in.
        **settings_of(plays),
        SOCIALDESK_WEBHOOKS_ALLOW_LOOPBACK=True,  # a webhook receiver tried locally listens on 127.0.0.1
    )
    desk = build(settings)
    ensure_scenario_rules(desk.engine, channel, plays)

    waiting, later = sum(p.waiting for p in plays), sum(p.later for p in plays)
    expect = (f"What to expect: {waiting} posts are waiting and {later} more arrive over the next "
              f"{SCENARIO_SECONDS / args.speed:.0f} s, among them a burst of 6 similar complaints. Each customer "
              f"post gets a card within about {POLL_SECONDS} s (at most one card a second per channel). The repost "
              f"and @{OWN_HANDLE}'s own reply get no card. Reload the inspector page to see new cards.")
    stop = (f"Stops by itself after {args.duration:g} s; Ctrl-C stops it sooner." if args.duration
            else "Press Ctrl-C to stop everything.")
    print(f"""
socialdesk sandbox: Acme Phones, all on 127.0.0.1, no credentials

  Cards appear here (#{CHANNEL}):  {inspector}/?tab=messages&channel={channel}
  Slack requests go to:            http://127.0.0.1:{app_port}/slack/events  (signing secret {signing_secret})
{endpoint_lines(plays, 33)}
  Database:                        {db}

{textwrap.fill(expect, 88)}

{stop}
""", flush=True)

    for play in plays:
        play.play()
    stop_after(args.duration, stack)
    serve(desk)
