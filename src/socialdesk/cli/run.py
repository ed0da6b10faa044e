"""`socialdesk run`: the app itself (polling, cards, Slack listeners) until stopped."""

from __future__ import annotations

import argparse
import os
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from socialdesk.config import Settings

EXIT_GRACE_SECONDS = 10.0


def add_parser(commands) -> None:  # type: ignore[no-untyped-def]
    run = commands.add_parser(
        "run", help="start the app: polling, cards and Slack listeners",
        description="Run the app until stopped (Ctrl-C or SIGTERM): poll the saved searches, post cards, "
                    "answer Slack. Settings come from the environment and .env.")
    run.set_defaults(func=cmd_run)


def cmd_run(settings: Settings, _args: argparse.Namespace) -> int:
    from socialdesk.app import build
    from socialdesk.server import serve

    serve(build(settings))
    # Listener threads still busy are joined at exit; each is safe to cut off like a kill -9,
    # so a stopped process never hangs on one stuck Slack call.
    watchdog = threading.Timer(EXIT_GRACE_SECONDS, os._exit, args=(0,))
    watchdog.daemon = True
    watchdog.start()
    return 0
