"""`socialdesk run`: the app itself (polling, cards, Slack listeners) until stopped."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import textwrap
import threading
from typing import TYPE_CHECKING

from socialdesk.cli.common import Unavailable, open_store

if TYPE_CHECKING:
    from socialdesk.config import Settings

EXIT_GRACE_SECONDS = 10.0


def add_parser(commands) -> None:  # type: ignore[no-untyped-def]
    run = commands.add_parser(
        "run", help="start the app: polling, cards and Slack listeners", add_help=False,
        description="Run the app until stopped (Ctrl-C or SIGTERM): poll the saved searches, post cards, "
                    "answer Slack. The settings it reads are listed below.")
    run.add_argument("-h", "--help", action=_HelpWithSettings,
                     help="show this help, with every setting `run` reads, and exit")
    run.set_defaults(func=cmd_run)


class _HelpWithSettings(argparse._HelpAction):
    """--help, followed by the settings: read from config.Settings' fields when asked for, so that
    `socialdesk --help` (which builds this parser) imports no pydantic."""

    def __call__(self, parser, namespace, values, option_string=None):  # type: ignore[no-untyped-def]
        width = max(shutil.get_terminal_size().columns - 2, 40)  # as argparse wraps its own help
        parser._print_message(parser.format_help() + "\n" + settings_help(width), sys.stdout)
        parser.exit()


def settings_help(width: int) -> str:
    """Each setting with its default and description, grouped; the variables come from config.Settings."""
    from socialdesk.settings_help import setting_groups

    lines = ["settings: environment variables, or a .env file in the working directory; `run` does not start",
             "without the required ones, and a network's rules poll once its own are set:"]
    lines = textwrap.wrap(" ".join(lines), width)
    for group, settings in setting_groups():
        lines += ["", f"{group}:"]
        for setting in settings:
            lines.append(f"  {setting.variable}" + (f" (default {setting.default})" if setting.default else ""))
            lines += textwrap.wrap(setting.description, width, initial_indent=" " * 6, subsequent_indent=" " * 6)
    return "\n".join(lines) + "\n"


def cmd_run(settings: Settings, _args: argparse.Namespace) -> int:
    from socialdesk.app import build
    from socialdesk.config import REQUIRED_TO_RUN, CannotListen
    from socialdesk.server import serve

    settings.require(*REQUIRED_TO_RUN)  # the settings first, then the database they name
    try:
        serve(build(settings, engine=open_store(settings)))  # build's own upgrade finds nothing left to do
    except CannotListen as exc:
        raise Unavailable(str(exc)) from None
    # Listener threads still busy are joined at exit; each is safe to cut off like a kill -9,
    # so a stopped process never hangs on one stuck Slack call.
    watchdog = threading.Timer(EXIT_GRACE_SECONDS, os._exit, args=(0,))
    watchdog.daemon = True
    watchdog.start()
    return 0
