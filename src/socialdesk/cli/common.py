"""What every command family shares: the user-error exception and opening the database.

Command modules import only argparse and the standard library at module level (this one
too): `socialdesk --help` builds every parser, so anything heavier is imported inside
the command that needs it. tests/test_cli_start.py checks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from socialdesk.config import Settings

EXIT_USAGE = 2


class CliError(Exception):
    """A problem the user can fix; printed as one line."""


def open_store(settings: Settings) -> Engine:
    """The configured database, migrated to the latest schema."""
    from socialdesk.store.db import make_engine, upgrade

    engine = make_engine(settings.database_url)
    upgrade(engine)
    return engine
