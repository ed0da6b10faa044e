"""X's part of the CLI: `socialdesk auth x` and the account lookup of `rules add --kind mentions`.

Only registration lives here, with light imports: `socialdesk --help` loads this module.
The sign-in itself (OAuth 2.0 with PKCE) is in signin.py, imported when the command runs.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from socialdesk.config import Settings

NETWORK = "x"


def add_auth_parser(networks) -> None:  # type: ignore[no-untyped-def]
    """`socialdesk auth x` (the CLI makes `auth` and hands over its subparsers)."""
    x = networks.add_parser(
        "x", help="sign in the brand's X account (OAuth 2.0 with PKCE)",
        description="Print X's authorize address, then read the address the browser lands on after "
                    "approving (from --redirect-url or standard input) and store the tokens.")
    x.add_argument("--redirect-url", metavar="URL",
                   help="the address the browser landed on after approving; finishes the sign-in the last "
                        "`socialdesk auth x` started")
    x.set_defaults(func=cmd_auth_x)


def cmd_auth_x(settings: Settings, args: argparse.Namespace) -> int:
    from socialdesk.networks.x.signin import cmd_auth_x as sign_in

    return sign_in(settings, args)


def mentions_query(settings: Settings, handle: str) -> str:
    """A mentions rule's query for `handle`: its account id, looked up once (ids survive renames)."""
    import httpx

    from socialdesk.networks.base import RateLimited, SourceError, SourceRejected, SourceUnavailable
    from socialdesk.networks.x.mentions import lookup_user_id, mentions_query as query_for

    settings.require("x_bearer_token")
    with httpx.Client(timeout=15) as http:
        try:
            return query_for(lookup_user_id(http=http, api_url=settings.x_api_url, handle=handle,
                                            bearer_token=settings.x_bearer_token.get_secret_value()))  # type: ignore[union-attr]
        except RateLimited as exc:  # the environment, not the command: try again later (exit 1)
            raise RateLimited(f"could not look up @{handle} on X: {exc}", reset_at=exc.reset_at) from None
        except SourceUnavailable as exc:
            raise SourceUnavailable(f"could not look up @{handle} on X: {exc}") from None
        except SourceError as exc:
            raise SourceRejected(f"could not look up @{handle} on X: {exc}") from None


def mentions_billed(query: str) -> tuple:  # tuple[BilledReads, ...]
    """What the lookup behind a mentions rule's `query` was billed for: one user read (spend.Meter counts it)."""
    from socialdesk.networks.base import BilledReads
    from socialdesk.networks.x.mentions import user_id_of
    from socialdesk.networks.x.billing import USER_READ

    return (BilledReads(USER_READ, (user_id_of(query),)),)
