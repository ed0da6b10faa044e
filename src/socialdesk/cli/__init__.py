"""`socialdesk …` commands, one module per command family.

Building the parser imports argparse and the command modules only; a command imports what
it needs when it runs, so `socialdesk --help` starts at once (tests/test_cli_start.py).
Every error is one line on stderr: exit 2 when the command or a setting needs fixing, 1 when
the environment failed (cli/common.py).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from socialdesk.cli import auth, cases, db, doctor, export, faq, privacy, rules, run, usage, webhooks
from socialdesk.cli.common import EXIT_ENVIRONMENT, EXIT_USAGE, CliError
from socialdesk.demo import run as demo
from socialdesk.sandbox import run as sandbox

# In the order `socialdesk --help` lists them.
FAMILIES = (run, db, doctor, rules, usage, cases, sandbox, demo, auth, faq, export, privacy, webhooks)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="socialdesk", description="Social customer care, worked from Slack.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for family in FAMILIES:
        family.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns its exit code (see cli/common.py: 2 fix the command, 1 the environment)."""
    args = _parser().parse_args(argv)
    # Past parsing a command runs: now the settings (pydantic) and the rest are worth loading.
    from sqlalchemy.exc import DatabaseError, OperationalError

    from socialdesk import logs
    from socialdesk.config import ConfigError, load_settings
    from socialdesk.networks.base import NetworkError, RateLimited, SourceUnavailable
    from socialdesk.rules import RuleInvalid, spelled
    from socialdesk.store.rules import RuleNotFound

    try:
        settings = load_settings()
        logs.configure(settings.log_level, settings.log_format)
        return int(args.func(settings, args))
    except CliError as exc:
        return _fail(str(exc), exc.exit_code)
    except RuleInvalid as exc:
        return _fail(spelled(str(exc), "socialdesk"), EXIT_USAGE)
    except (ConfigError, RuleNotFound) as exc:
        return _fail(str(exc), EXIT_USAGE)
    except (SourceUnavailable, RateLimited) as exc:
        return _fail(f"{exc}; try again later", EXIT_ENVIRONMENT)
    except NetworkError as exc:  # the network refused what was asked: the message says what to change
        return _fail(str(exc), EXIT_USAGE)
    except OperationalError as exc:
        said = str(exc.orig or exc).strip().splitlines()[0]  # the driver's words; no URL, so no password
        return _fail(f"the database did not answer ({said}); check SOCIALDESK_DATABASE_URL and that the "
                     "database is running", EXIT_ENVIRONMENT)
    except DatabaseError as exc:  # it answered, but as no database socialdesk can use (a file that is not SQLite)
        said = str(exc.orig or exc).strip().splitlines()[0]
        return _fail(f"the database could not be used ({said}); check that SOCIALDESK_DATABASE_URL names "
                     "socialdesk's database", EXIT_ENVIRONMENT)
    except KeyboardInterrupt:
        return 130


def _fail(message: str, code: int) -> int:
    print(f"socialdesk: {message}", file=sys.stderr)
    return code
