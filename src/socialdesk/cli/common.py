"""What every command family shares: exit codes, the one-line errors, opening the database.

Exit codes: 2 when what was typed or configured is wrong or names nothing (a bad argument,
an unknown id, an invalid setting, a database URL without a driver or a database a newer
socialdesk upgraded, credentials a network refuses): fix it and run again.
1 when the environment failed (the database, a network or Slack did not answer, a file
could not be written): the message says what to check. 0 otherwise; 130 on Ctrl-C.

Command modules import only argparse and the standard library at module level (this one
too): `socialdesk --help` builds every parser, so anything heavier is imported inside
the command that needs it. tests/test_cli_start.py checks.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from socialdesk.config import Settings

EXIT_USAGE = 2
EXIT_ENVIRONMENT = 1
# Ids are INTEGER columns: PostgreSQL's hold no more, and a bigger number sent to SQLite is an
# OverflowError, not "no such row".
MAX_ID = 2**31 - 1


class CliError(Exception):
    """A problem the user can fix in the command or the settings; printed as one line, exit 2."""

    exit_code = EXIT_USAGE


class Unavailable(CliError):
    """Something the command needs did not work (database, network, Slack, disk); one line, exit 1."""

    exit_code = EXIT_ENVIRONMENT


def int_in(low: int, high: int):  # type: ignore[no-untyped-def]
    """An argparse type: a whole number from `low` to `high` (a range, not a choices list in --help)."""
    lo, hi = (f"{n:,}" if n >= 100_000 else str(n) for n in (low, high))  # 1,000,000,000; a port stays 65535

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number; use one from {lo} to {hi}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is out of range; use a number from {lo} to {hi}")
        return value
    return parse


record_id = int_in(1, MAX_ID)  # the argparse type of every ID argument (a rule's, a case's, a webhook's …)


def positive_number(text: str) -> float:
    """An argparse type: a finite number above 0 (`--speed 0.5`, `--duration 30`)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number; use a positive one like 2 or 0.5") from None
    if not 0 < value < float("inf"):  # nan fails this too
        raise argparse.ArgumentTypeError(f"{text} is not a positive number; use one like 2 or 0.5")
    return value


def open_store(settings: Settings) -> Engine:
    """The configured database, migrated to the latest schema."""
    from alembic.util.exc import CommandError
    from sqlalchemy.exc import ArgumentError

    from socialdesk.store.db import current_revision, head_revision, make_engine, upgrade

    try:
        engine = make_engine(settings.database_url)
    # Not a URL, no such dialect (ArgumentError both), or a dialect whose driver is not installed (mysql://);
    # the URL is not quoted: it may hold a password.
    except (ArgumentError, ModuleNotFoundError):
        raise CliError("SOCIALDESK_DATABASE_URL is not a database URL socialdesk can use: set it to "
                       "sqlite:///path/socialdesk.db or postgresql+psycopg://user:pass@host/db") from None
    try:
        upgrade(engine)
    except CommandError as exc:
        found = current_revision(engine)
        if not found or "Can't locate revision" not in str(exc):  # else: a later version's migration
            raise
        raise CliError(f"the database is at revision {found}, which this socialdesk does not know (its latest is "
                       f"{head_revision()}): it was upgraded by a newer version; run that one, or set "
                       "SOCIALDESK_DATABASE_URL to another database") from None
    return engine
