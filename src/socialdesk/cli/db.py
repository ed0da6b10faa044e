"""`socialdesk db …`: database maintenance."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from socialdesk.cli.common import open_store

if TYPE_CHECKING:
    from socialdesk.config import Settings


def add_parser(commands) -> None:  # type: ignore[no-untyped-def]
    db = commands.add_parser(
        "db", help="database maintenance", description="Maintain the database SOCIALDESK_DATABASE_URL names.").add_subparsers(dest="db_command", required=True, metavar="ACTION")
    db.add_parser("upgrade", help="apply schema migrations",
                  description="Apply the schema migrations the database lacks and print its revision. "
                              "Every command does this first; `run` too.").set_defaults(func=cmd_db_upgrade)


def cmd_db_upgrade(settings: Settings, _args: argparse.Namespace) -> int:
    from socialdesk.store.db import current_revision

    engine = open_store(settings)
    print(f"database is at revision {current_revision(engine)}")
    return 0
