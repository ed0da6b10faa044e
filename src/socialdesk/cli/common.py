"""What every command family shares: the user-error exception and opening the database."""

from __future__ import annotations

from socialdesk.config import Settings
from socialdesk.store.db import make_engine, upgrade

EXIT_USAGE = 2


class CliError(Exception):
    """A problem the user can fix; printed as one line."""


def open_store(settings: Settings):  # type: ignore[no-untyped-def]
    """The configured database, migrated to the latest schema."""
    engine = make_engine(settings.database_url)
    upgrade(engine)
    return engine
