"""Mastodon's part of the CLI: `socialdesk auth mastodon` checks the token; mentions rules keep an account id.

Mastodon needs no interactive sign-in: the access token in SOCIALDESK_MASTODON_TOKEN is
the sign-in. The check says whose account it is and prints the line that adds its
mentions rule. Imports stay light: `socialdesk --help` loads this module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx

NETWORK = "mastodon"
_MISSING = ("SOCIALDESK_MASTODON_URL and SOCIALDESK_MASTODON_TOKEN must be set: the brand account's instance "
            "(like https://mastodon.social) and an access token from its Preferences → Development → "
            "New application, with the scopes read and write:statuses")


def _brand(settings: Any, http: httpx.Client) -> tuple[str, str, Any]:
    """(handle with server, account id, the instance's settings) of the token's account. Raises SourceError."""
    from socialdesk.networks.mastodon.api import MastodonApi
    from socialdesk.networks.mastodon.parse import handle_of

    api = MastodonApi(http, settings.mastodon_url, settings.mastodon_token.get_secret_value())
    me = api.me()
    instance = api.instance()
    return handle_of(str(me.get("acct") or ""), instance.domain), str(me["id"]), instance


def mentions_query(settings: Any, handle: str) -> str:
    """A mentions rule's query for `handle`: the account id (notifications are the token's account's own)."""
    import httpx

    from socialdesk.networks.base import SourceRejected

    if not (settings.mastodon_url and settings.mastodon_token):
        raise SourceRejected(_MISSING)
    with httpx.Client(timeout=15) as http:
        brand, account_id, _ = _brand(settings, http)
    wanted = handle.strip().lstrip("@").lower()
    if wanted not in {brand.lower(), brand.split("@", 1)[0].lower()} and wanted != account_id:
        raise SourceRejected(f"SOCIALDESK_MASTODON_TOKEN belongs to @{brand}, not @{wanted}: Mastodon shows an "
                             f"account only its own mentions. Use --account {brand}, or set that account's token")
    return account_id


def add_auth_parser(networks: Any) -> None:
    p = networks.add_parser(
        "mastodon", help="check the Mastodon token (SOCIALDESK_MASTODON_URL and _TOKEN)",
        description="Ask the brand's instance whose account SOCIALDESK_MASTODON_TOKEN belongs to and print "
                    "the command that adds its mentions rule. Replies and searches use that token.")
    p.set_defaults(func=cmd_auth_mastodon)


def cmd_auth_mastodon(settings: Any, args: Any) -> int:
    import sys

    import httpx

    from socialdesk.networks.base import RateLimited, SourceError, SourceUnavailable

    if not (settings.mastodon_url and settings.mastodon_token):
        print(f"socialdesk: {_MISSING}", file=sys.stderr)
        return 2
    try:
        with httpx.Client(timeout=15) as http:
            brand, account_id, instance = _brand(settings, http)
    except (SourceUnavailable, RateLimited) as exc:  # the instance did not answer: exit 1, as main's
        print(f"socialdesk: {exc}; try again later", file=sys.stderr)
        return 1
    except SourceError as exc:  # refused: the settings need fixing
        print(f"socialdesk: {exc}", file=sys.stderr)
        return 2
    print(f"signed in to Mastodon as @{brand} (account id {account_id}); replies go out from it")
    if instance.reachable:
        print(f"{instance.domain} allows {instance.max_characters} characters per post "
              f"(a link counts {instance.characters_reserved_per_url})")
    print("add its mentions rule with:")
    print(f"  socialdesk rules add --network mastodon --kind mentions --account {brand} --channel C0123ABCD")
    return 0
