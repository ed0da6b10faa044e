"""Bluesky's part of the CLI: `rules add --network bluesky --kind mentions` looks the account up once."""

from __future__ import annotations

from typing import Any

NETWORK = "bluesky"


def mentions_query(settings: Any, handle: str) -> str:
    """A mentions rule's query for `handle`: its DID (a DID survives a change of handle)."""
    import httpx  # imported by the commands: `socialdesk --help` loads this module

    from socialdesk.networks.base import SourceRejected
    from socialdesk.networks.bluesky.xrpc import XrpcClient, XrpcRejected, as_source_errors

    handle = handle.strip().lstrip("@")
    if "." not in handle:
        handle = f"{handle}.bsky.social"  # a bare name is a bsky.social account
    try:
        with httpx.Client(timeout=15) as http, as_source_errors():
            body = XrpcClient(http, settings.bluesky_service_url).get(
                "com.atproto.identity.resolveHandle", {"handle": handle}, auth=False).body
    except XrpcRejected as exc:
        if exc.status == 400:  # "Unable to resolve handle"
            raise SourceRejected(f"Bluesky has no account @{handle}; check the handle") from None
        raise
    did = body.get("did") if isinstance(body, dict) else None
    if not did:
        raise SourceRejected(f"Bluesky has no account @{handle}; check the handle")
    return str(did)


def add_auth_parser(networks: Any) -> None:  # type: ignore[no-untyped-def]
    """Bluesky needs no interactive sign-in: the app password in the settings signs in on first use."""
    p = networks.add_parser(
        "bluesky", help="check the Bluesky sign-in (SOCIALDESK_BLUESKY_HANDLE and _APP_PASSWORD)",
        description="Sign in to the brand's Bluesky account with the app password from the settings and "
                    "say whose account it is. Replies and searches then use that sign-in.")
    p.set_defaults(func=cmd_auth_bluesky)


def cmd_auth_bluesky(settings: Any, args: Any) -> int:
    import sys

    import httpx

    from socialdesk.networks.base import AuthError, AuthUnavailable, RateLimited, SourceError, SourceUnavailable
    from socialdesk.networks.bluesky.session import Session
    from socialdesk.networks.bluesky.xrpc import XrpcClient

    if not (settings.bluesky_handle and settings.bluesky_app_password):
        print("socialdesk: SOCIALDESK_BLUESKY_HANDLE and SOCIALDESK_BLUESKY_APP_PASSWORD are not set: set them to "
              "the brand account's handle and an app password (Bluesky: Settings → Privacy and security → "
              "App passwords)", file=sys.stderr)
        return 2
    try:
        with args.credentials(settings) as store_for, httpx.Client(timeout=15) as http:
            session = Session(http=http, store=store_for(NETWORK), handle=settings.bluesky_handle,
                              app_password=settings.bluesky_app_password.get_secret_value(),
                              service_url=settings.bluesky_service_url)
            account = session.account()
            # An authenticated call: the stored session must still be accepted (or be renewed now).
            XrpcClient(http, settings.bluesky_service_url, session=session).get(
                "app.bsky.actor.getProfiles", {"actors": [account.account_id]})
    except (AuthUnavailable, SourceUnavailable, RateLimited) as exc:  # Bluesky did not answer: exit 1, as main's
        # The session's "retrying later" is the running app's; nothing retries a command.
        said = str(exc).replace("; retrying after that", "").replace("; retrying later", "")
        print(f"socialdesk: {said}; try again later", file=sys.stderr)
        return 1
    except (AuthError, SourceError) as exc:  # refused: the settings need fixing
        print(f"socialdesk: {exc}", file=sys.stderr)
        return 2
    print(f"signed in to Bluesky as @{account.account_handle} ({account.account_id}); replies go out from it")
    return 0
