"""`socialdesk …` commands, one module per command family.

Building the parser imports argparse and the command modules only; a command imports what
it needs when it runs, so `socialdesk --help` starts at once (tests/test_cli_start.py).
Errors a user can fix print one line and exit 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from socialdesk.cli import auth, cases, db, export, faq, privacy, rules, run, webhooks
from socialdesk.cli.common import EXIT_USAGE, CliError
from socialdesk.demo import run as demo
from socialdesk.sandbox import run as sandbox

# In the order `socialdesk --help` lists them.
FAMILIES = (run, db, rules, cases, sandbox, demo, auth, faq, export, privacy, webhooks)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="socialdesk", description="Social customer care, worked from Slack.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for family in FAMILIES:
        family.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    # Past parsing a command runs: now the settings (pydantic) and the rest are worth loading.
    from socialdesk import logs
    from socialdesk.config import ConfigError, load_settings
    from socialdesk.rules import RuleInvalid
    from socialdesk.store import rules as rule_store

    try:
        settings = load_settings()
        logs.configure(settings.log_level)
        return int(args.func(settings, args))
    except (ConfigError, RuleInvalid, CliError) as exc:
        print(f"socialdesk: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except rule_store.RuleNotFound as exc:
        print(f"socialdesk: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
