"""`socialdesk auth x`: sign in the brand's X account (OAuth 2.0 with PKCE) for public replies.

It prints X's authorize address; the admin opens it signed in as the brand, approves,
and pastes back the address the browser lands on (the page itself may not load: no
server needs to listen there). The PKCE verifier and state wait in the database for
30 minutes, so `--redirect-url` can finish a sign-in started by an earlier run (for
servers where nothing can be pasted into the command).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import timedelta
from urllib.parse import parse_qsl, urlsplit

import httpx
from sqlalchemy import Engine

from socialdesk.config import ConfigError, Settings, load_settings
from socialdesk.networks.x.auth import (NETWORK, XAuthError, XTokenRefused, authorize_url, exchange_code,
                                       fetch_me, new_pkce, new_state)
from socialdesk.store.credentials import delete_credential, get_credential, save_credential
from socialdesk.store.db import make_engine, session_scope, upgrade, utcnow

EXIT_USAGE = 2
PENDING = "x:pending"  # credentials row holding a started sign-in: verifier and state
PENDING_FOR = timedelta(minutes=30)


class AuthCliError(Exception):
    """A sign-in problem the admin can fix; printed as one line."""


def add_auth_parser(networks) -> None:  # type: ignore[no-untyped-def]
    """`socialdesk auth x` (cli.py makes `auth` and hands over its subparsers)."""
    x = networks.add_parser(
        "x", help="sign in the brand's X account (OAuth 2.0 with PKCE)",
        description="Print X's authorize address, then read the address the browser lands on after "
                    "approving (from --redirect-url or standard input) and store the tokens.")
    x.add_argument("--redirect-url", metavar="URL",
                   help="the address the browser landed on after approving; finishes the sign-in the last "
                        "`socialdesk auth x` started")
    x.set_defaults(func=cmd_auth_x)


def mentions_query(settings: Settings, handle: str) -> str:
    """A mentions rule's query for `handle`: its account id, looked up once (ids survive renames)."""
    from socialdesk.networks.base import SourceError, SourceRejected
    from socialdesk.networks.x.mentions import lookup_user_id, mentions_query as query_for

    settings.require("x_bearer_token")
    with httpx.Client(timeout=15) as http:
        try:
            return query_for(lookup_user_id(http=http, api_url=settings.x_api_url, handle=handle,
                                            bearer_token=settings.x_bearer_token.get_secret_value()))  # type: ignore[union-attr]
        except SourceError as exc:
            raise SourceRejected(f"could not look up @{handle} on X: {exc}") from None


def cmd_auth_x(settings: Settings, args: argparse.Namespace) -> int:
    try:
        return _auth_x(settings, args.redirect_url)
    except (AuthCliError, XAuthError, ConfigError) as exc:
        print(f"socialdesk: {exc}", file=sys.stderr)
        return EXIT_USAGE


def _auth_x(settings: Settings, redirect_url: str | None) -> int:
    if not settings.x_client_id:
        raise AuthCliError(
            "SOCIALDESK_X_CLIENT_ID is not set: in the X developer console turn on OAuth 2.0 for your app "
            f"(type Web App), add {settings.x_redirect_uri} as a callback URI, then copy the Client ID "
            "(and the Client Secret into SOCIALDESK_X_CLIENT_SECRET)")
    engine = make_engine(settings.database_url)
    try:
        upgrade(engine)
        if redirect_url is None:
            redirect_url = _start(settings, engine)
        state, verifier = _pending(engine)
        with httpx.Client(timeout=15) as http:
            handle, account_id = _finish(settings, engine, http, redirect_url, state, verifier)
    finally:
        engine.dispose()
    print(f"connected @{handle} (id {account_id}); replies will be sent as @{handle}")
    if all((settings.x_api_key, settings.x_api_secret, settings.x_access_token, settings.x_access_secret)):
        print("note: the SOCIALDESK_X_API_KEY/…_SECRET OAuth 1.0a keys are set and take precedence; unset them "
              f"to reply as @{handle} with this sign-in", file=sys.stderr)
    return 0


def _start(settings: Settings, engine: Engine) -> str:
    verifier, challenge = new_pkce()
    state = new_state()
    now = utcnow()
    with session_scope(engine) as session:  # the verifier never leaves this machine
        save_credential(session=session, network=PENDING, access_token=verifier, refresh_token=state,
                        expires_at=now + PENDING_FOR, account_id=None, account_handle=None, now=now)
    print("Open this address in a browser signed in to the brand's X account and click Authorize app:",
          file=sys.stderr)
    print(authorize_url(settings, state=state, challenge=challenge), flush=True)
    print(f"X then sends the browser to {settings.x_redirect_uri}?state=…&code=… (the page may not load; "
          "that is fine). Paste that whole address here and press Enter:", file=sys.stderr, flush=True)
    line = sys.stdin.readline().strip() if sys.stdin is not None else ""
    if not line:
        raise AuthCliError("no address was pasted. After approving, finish with: "
                           "socialdesk auth x --redirect-url 'ADDRESS' (within 30 minutes)")
    return line


def _pending(engine: Engine) -> tuple[str, str]:
    with session_scope(engine) as session:
        row = get_credential(session=session, network=PENDING)
        if row is None:
            raise AuthCliError("no sign-in is waiting for this address: run `socialdesk auth x`, approve in the "
                               "browser, then paste the address it lands on")
        if row.expires_at is not None and row.expires_at < utcnow():
            delete_credential(session=session, network=PENDING)
            raise AuthCliError("the sign-in started more than 30 minutes ago has expired: "
                               "run `socialdesk auth x` again")
        return str(row.refresh_token), row.access_token


def _finish(settings: Settings, engine: Engine, http: httpx.Client, redirect_url: str,
            state: str, verifier: str) -> tuple[str, str]:
    query = dict(parse_qsl(urlsplit(redirect_url.strip()).query))
    if query.get("error") == "access_denied":
        raise AuthCliError("the sign-in was cancelled in X (access_denied): run `socialdesk auth x` again and "
                           "click Authorize app")
    if query.get("error"):
        raise AuthCliError(f"X did not approve the sign-in: {query.get('error_description') or query['error']}")
    if query.get("state") != state:
        raise AuthCliError("this address belongs to a different sign-in (its state does not match): use the "
                           "address from the latest `socialdesk auth x`, or run it again")
    if not query.get("code"):
        raise AuthCliError("the address has no code=…: paste the whole address the browser landed on after approving")
    try:
        tokens = exchange_code(http, settings, code=query["code"], verifier=verifier)
    except XTokenRefused as exc:
        said = exc.description or exc.error or str(exc)
        raise AuthCliError(f"X refused the code: {said} (a code works once, for 30 seconds after approving): "
                           "run `socialdesk auth x` again") from None
    now = utcnow()
    with session_scope(engine) as session:  # saved before the lookup: the code is spent now
        save_credential(session=session, network=NETWORK, access_token=tokens.access_token,
                        refresh_token=tokens.refresh_token, expires_at=tokens.expires_at,
                        account_id="", account_handle="", now=now)
        delete_credential(session=session, network=PENDING)
    try:
        account_id, handle = fetch_me(http, settings.x_api_url, {"Authorization": f"Bearer {tokens.access_token}"})
    except XAuthError as exc:
        raise AuthCliError(f"the sign-in is stored, but X did not say whose account it is ({exc}); run "
                           "`socialdesk auth x` again to check") from None
    with session_scope(engine) as session:
        save_credential(session=session, network=NETWORK, access_token=tokens.access_token,
                        refresh_token=tokens.refresh_token, expires_at=tokens.expires_at,
                        account_id=account_id, account_handle=handle, now=now)
    if not tokens.refresh_token:
        print("note: X sent no refresh token (offline.access was not granted); sign in again in two hours",
              file=sys.stderr)
    return handle, account_id


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m socialdesk.networks.x.cli x …`: `socialdesk auth x …` without the rest of the CLI."""
    parser = argparse.ArgumentParser(prog="socialdesk auth")
    add_auth_parser(parser.add_subparsers(dest="auth_network", required=True))
    args = parser.parse_args(list(argv if argv is not None else sys.argv[1:]))
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"socialdesk: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return int(args.func(settings, args))


if __name__ == "__main__":
    raise SystemExit(main())
