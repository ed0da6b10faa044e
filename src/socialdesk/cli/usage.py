"""`socialdesk usage`: what the networks that bill per read cost this month, by rule, with the projection and cap."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from socialdesk.cli.common import open_store

if TYPE_CHECKING:
    from socialdesk.config import Settings


def add_parser(commands) -> None:  # type: ignore[no-untyped-def]
    usage = commands.add_parser(
        "usage", help="spend on billed reads this month, by rule",
        description="What this month's billed reads cost (UTC calendar month; networks that bill per read): "
                    "per network with the month's projection, its budget and the plan's cap, and per rule with "
                    "its budget. Each resource counts once a UTC day, as the network bills it.")
    usage.set_defaults(func=cmd_usage)


def cmd_usage(settings: Settings, _args: argparse.Namespace) -> int:
    import httpx

    from socialdesk.networks import registry
    from socialdesk.spend import Meter, usage_text
    from socialdesk.store.credentials import DatabaseCredentials
    from socialdesk.store.db import read_scope, utcnow

    engine = open_store(settings)
    with httpx.Client(timeout=15) as http:  # nothing is fetched: the networks say how they bill
        networks = registry.build(settings, http=http, clock=utcnow,
                                  credentials=lambda name: DatabaseCredentials(engine, name))
    with read_scope(engine) as session:
        usage = Meter(networks).usage(session=session, now=utcnow())
    print("\n".join(usage_text(usage)))
    return 0
