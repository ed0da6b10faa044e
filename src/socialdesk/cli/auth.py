"""`socialdesk auth <network>`: sign in the accounts socialdesk replies as (each network adds its own)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from socialdesk.cli.common import open_store
from socialdesk.networks import registry

if TYPE_CHECKING:
    from socialdesk.config import Settings
    from socialdesk.store.credentials import DatabaseCredentials


def add_parser(commands) -> None:  # type: ignore[no-untyped-def]
    auth = commands.add_parser(
        "auth", help="sign in the accounts socialdesk replies as",
        description="Sign in (or check the sign-in of) the brand account socialdesk replies as on one network; "
                    "the tokens are kept in the database.")
    auth.set_defaults(credentials=credential_stores)
    auth_networks = auth.add_subparsers(dest="auth_network", required=True, metavar="NETWORK")
    for module in registry.cli_modules():  # each registers with light imports; the work is imported on use
        module.add_auth_parser(auth_networks)


@contextlib.contextmanager
def credential_stores(settings: Settings) -> Iterator[Callable[[str], DatabaseCredentials]]:
    """Where `socialdesk auth <network>` keeps tokens: the configured database, migrated first."""
    from socialdesk.store.credentials import DatabaseCredentials

    engine = open_store(settings)
    try:
        yield lambda name: DatabaseCredentials(engine, name)
    finally:
        engine.dispose()
