"""`socialdesk demo`: try the app in a browser, with no credentials and no Node.

A local Slack stand-in with a web page (`socialdesk.demo.workspace.Workspace`), each
network's local stand-in playing the sandbox's scripted day at "Acme Phones", and the real app built by
`socialdesk.app.build` and run by `socialdesk.server.serve` between them, all on
127.0.0.1. Ctrl-C, SIGTERM or `--duration` stops every part.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import secrets
import signal
import sys
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from socialdesk.cli.common import int_in, positive_number
from socialdesk.sandbox.local import (bind_port, endpoint_lines, ensure_scenario_rules, raise_interrupt, settings_of,
                                      stop_after)
from socialdesk.sandbox.scenario import CHANNEL, OWN_HANDLE, SCENARIO_SECONDS

log = logging.getLogger(__name__)

DEFAULT_PORT = 8700
TEAM = "Acme Phones"
AGENTS = ("alice", "bob", "carol")


def _configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--port", type=int_in(1, 65535), default=DEFAULT_PORT,
                   help=f"the demo workspace's web page and Slack API port (default {DEFAULT_PORT})")
    p.add_argument("--speed", type=positive_number, default=1.0,
                   help=f"play the {SCENARIO_SECONDS // 60}-minute scenario this many times faster (default 1)")
    p.add_argument("--db", type=Path, metavar="PATH", help="SQLite file to keep (default: a temporary one)")
    p.add_argument("--duration", type=positive_number, metavar="SECONDS", help="stop by itself this long after starting")


def add_parser(subparsers) -> None:  # type: ignore[no-untyped-def]
    p = subparsers.add_parser(
        "demo", help="try it in your browser: a local Slack workspace, local social networks and the app, no credentials",
        description="Run the app against a local Slack workspace you open in a browser and local social networks "
                    "playing a scripted day at a fictional phone maker. Nothing leaves 127.0.0.1.")
    _configure(p)
    p.set_defaults(func=lambda _settings, args: run(args))


def run(args: argparse.Namespace) -> int:
    if bind_port(args.port) is None:
        print(f"port {args.port} on 127.0.0.1 is in use; choose another with --port", file=sys.stderr)
        return 2
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, raise_interrupt)  # serve() installs its own handlers later
    try:
        with contextlib.ExitStack() as stack:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="socialdesk-demo-")))
            _run(args, workdir, stack)
    except KeyboardInterrupt:
        pass  # Ctrl-C before serve() took over: the stack has stopped every part
    print("demo stopped: the workspace, the local networks and the app are down", flush=True)
    return 0


def _run(args: argparse.Namespace, workdir: Path, stack: contextlib.ExitStack) -> None:
    from socialdesk.app import build
    from socialdesk.config import Settings
    from socialdesk.demo.workspace import Workspace
    from socialdesk.server import serve

    signing_secret = secrets.token_hex(16)
    ws = Workspace(host="127.0.0.1", port=args.port, signing_secret=signing_secret, app_events_url=None,
                   team_name=TEAM, users=AGENTS, channels=(CHANNEL,)).start()
    stack.callback(ws.stop)
    channel = ws.channel_id(CHANNEL)

    from socialdesk.networks import registry

    plays = registry.local_plays(speed=args.speed, demo=True)
    for play in plays:
        stack.callback(play.stop)
    ws.link_pages([play.page for play in plays if play.page])

    llm = _drafting(stack)
    db = args.db.resolve() if args.db else workdir / "socialdesk.db"
    db.parent.mkdir(parents=True, exist_ok=True)
    app_port = bind_port(0)
    settings = Settings(
        _env_file=None,  # a demo never picks up real credentials from .env
        SOCIALDESK_DATABASE_URL=f"sqlite:///{db}", SLACK_BOT_TOKEN=ws.bot_token, SLACK_SIGNING_SECRET=signing_secret,
        SLACK_APP_TOKEN=None, SOCIALDESK_SLACK_API_URL=ws.api_url, SOCIALDESK_OWN_HANDLES=OWN_HANDLE,
        SOCIALDESK_HTTP_HOST="127.0.0.1", SOCIALDESK_HTTP_PORT=app_port,
        # The local networks: replies go out as their fake brand accounts, with no sign-in.
        **settings_of(plays),
        SOCIALDESK_WEBHOOKS_ALLOW_LOOPBACK=True,  # a webhook receiver tried locally listens on 127.0.0.1
        # carol leads the team: her App Home shows the rules, digests and settings.
        SOCIALDESK_ADMINS=ws.user_id("carol"),
        **llm.settings,
    )
    desk = build(settings)
    stack.callback(desk.close)  # closing twice is harmless; covers a failure before serve()
    ws.app_events_url = f"http://127.0.0.1:{app_port}/slack/events"
    ensure_scenario_rules(desk.engine, channel, plays)

    waiting, later = sum(p.waiting for p in plays), sum(p.later for p in plays)
    stop = (f"Stops by itself after {args.duration:g} s; Ctrl-C stops it sooner." if args.duration
            else "Press Ctrl-C to stop everything.")
    print(f"""
socialdesk demo: {TEAM}, all on 127.0.0.1, no credentials

  Open in your browser:    {ws.url}  (cards in #{CHANNEL})
{endpoint_lines(plays, 25)}
  Drafted replies:         {llm.where}
  Database:                {db}
  Metrics:                 http://127.0.0.1:{app_port}/metrics  (Prometheus' format, from the app itself)

What to try:
  - Watch cards arrive in #{CHANNEL}: {waiting} posts are waiting and {later} more arrive
    over the next {SCENARIO_SECONDS / args.speed:.0f} s: a storm of 6 similar wifi complaints, spam,
    high-priority posts (a refund demand, a verified reviewer, authors with many followers),
    and a repost and a brand post that get no card.
  - Switch agents ({", ".join(AGENTS)}) with the picker; everyone sees the same cards.
  - Claim a card, then Reply: type the answer and send it; it goes out to the (local) network.
    The sidebar's "Local networks" pages show it as the customer sees it. Reply to Dana's
    cracked screen (or to Marcus or Aiko) and they write back soon after (it joins the card).
  - `/social export md` sends you the cases as a file, in your DM (App Home, Messages).
  - Note adds an internal note; open the card's thread to see notes and replies.
  - Resolve when done, saying how (Reopen brings it back); a resolved card offers "Save as FAQ". The
    next Reply to a post like it offers that answer ("Use this"), and "✨ Draft a reply"
    asks the language model for a draft you edit before sending.
  - Type `/social help` in the composer for the slash commands; `/social digest now`
    posts yesterday's digest into the channel.
  - App Home: your cases, the backlog, SLA risks and today's figures; as carol (the
    team lead, an admin) also the rules (pause, edit), digests, webhooks and settings.

{stop}
""", flush=True)

    for play in plays:
        play.play()
    stop_after(args.duration, stack)
    serve(desk)


@dataclass(frozen=True)
class _Drafting:
    settings: dict[str, str]
    where: str


def _drafting(stack: contextlib.ExitStack) -> _Drafting:
    """Drafted replies: your own model when SOCIALDESK_LLM_URL is set (Ollama…), else the local stand-in."""
    if os.environ.get("SOCIALDESK_LLM_URL"):
        return _Drafting({}, f"{os.environ['SOCIALDESK_LLM_URL']} ({os.environ.get('SOCIALDESK_LLM_MODEL', '?')})")
    from socialdesk.drafting.fake import FakeChat

    chat = FakeChat().start()
    stack.callback(chat.stop)
    return _Drafting({"SOCIALDESK_LLM_URL": chat.url, "SOCIALDESK_LLM_MODEL": "fakechat"},
                     f"{chat.url} (FakeChat, a stand-in; set SOCIALDESK_LLM_URL and _MODEL for yours)")


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m socialdesk.demo.run`: the same as `socialdesk demo`."""
    from socialdesk import logs

    parser = argparse.ArgumentParser(prog="socialdesk demo", description=__doc__.splitlines()[0])
    _configure(parser)
    args = parser.parse_args(argv)
    logs.configure(os.environ.get("SOCIALDESK_LOG_LEVEL", "INFO"))
    try:
        return run(args)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
