"""`socialdesk auth x` (registered by cli.py): sign in the brand's X account (OAuth 2.0 with PKCE) for replies.

It prints X's authorize address; the admin opens it signed in as the brand, approves,
and pastes back the address the browser lands on (the page itself may not load: no
server needs to listen there). The PKCE verifier and state wait in the database for
30 minutes, so `--redirect-url` can finish a sign-in started by an earlier run (for
servers where nothing can be pasted into the command).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import timedelta
from urllib.parse import parse_qsl, urlsplit

import httpx

from socialdesk.config import ConfigError, Settings
from socialdesk.networks.base import CredentialStore, StoredCredential
from socialdesk.networks.x.auth import (NETWORK, XAuthError, XTokenRefused, authorize_url, exchange_code,
                                       fetch_me, new_pkce, new_state, utcnow)

EXIT_USAGE = 2
PENDING = "x:pending"  # a credential store holding a started sign-in: verifier (as access token) and state
PENDING_FOR = timedelta(minutes=30)


class AuthCliError(Exception):
    """A sign-in problem the admin can fix; printed as one line."""


def cmd_auth_x(settings: Settings, args: argparse.Namespace) -> int:
    """`args.credentials(settings)`: the CLI's credential stores (a context manager giving name → store)."""
    try:
        return _auth_x(settings, args.redirect_url, args.credentials)
    except (AuthCliError, XAuthError, ConfigError) as exc:
        print(f"socialdesk: {exc}", file=sys.stderr)
        return EXIT_USAGE


def _auth_x(settings: Settings, redirect_url: str | None,
            credentials: Callable[[Settings], AbstractContextManager[Callable[[str], CredentialStore]]]) -> int:
    if not settings.x_client_id:
        raise AuthCliError(
            "SOCIALDESK_X_CLIENT_ID is not set: in the X developer console turn on OAuth 2.0 for your app "
            f"(type Web App), add {settings.x_redirect_uri} as a callback URI, then copy the Client ID "
            "(and the Client Secret into SOCIALDESK_X_CLIENT_SECRET)")
    with credentials(settings) as store_for:
        brand, pending = store_for(NETWORK), store_for(PENDING)
        if redirect_url is None:
            redirect_url = _start(settings, pending)
        state, verifier = _pending(pending)
        with httpx.Client(timeout=15) as http:
            handle, account_id = _finish(settings, brand, pending, http, redirect_url, state, verifier)
    print(f"connected @{handle} (id {account_id}); replies will be sent as @{handle}")
    if all((settings.x_api_key, settings.x_api_secret, settings.x_access_token, settings.x_access_secret)):
        print("note: the SOCIALDESK_X_API_KEY/…_SECRET OAuth 1.0a keys are set and take precedence; unset them "
              f"to reply as @{handle} with this sign-in", file=sys.stderr)
    return 0


def _start(settings: Settings, pending: CredentialStore) -> str:
    verifier, challenge = new_pkce()
    state = new_state()
    # The verifier never leaves this machine: it waits in the database for the pasted address.
    pending.save(StoredCredential(access_token=verifier, refresh_token=state, expires_at=utcnow() + PENDING_FOR))
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


def _pending(pending: CredentialStore) -> tuple[str, str]:
    """(state, verifier) of the sign-in waiting for its address."""
    started = pending.load()
    if started is None:
        raise AuthCliError("no sign-in is waiting for this address: run `socialdesk auth x`, approve in the "
                           "browser, then paste the address it lands on")
    if started.expires_at is not None and started.expires_at < utcnow():
        pending.delete()
        raise AuthCliError("the sign-in started more than 30 minutes ago has expired: "
                           "run `socialdesk auth x` again")
    return str(started.refresh_token), started.access_token


def _finish(settings: Settings, brand: CredentialStore, pending: CredentialStore, http: httpx.Client,
            redirect_url: str, state: str, verifier: str) -> tuple[str, str]:
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
    # Saved before the lookup: the code is spent now. The account is blanked (not kept) until
    # X says whose it is: this may be another account than the last sign-in's.
    signed_in = StoredCredential(access_token=tokens.access_token, refresh_token=tokens.refresh_token,
                                 expires_at=tokens.expires_at, account_id="", account_handle="")
    brand.save(signed_in)
    pending.delete()  # after the tokens are safe; a leftover would only expire (its code is spent)
    try:
        account_id, handle = fetch_me(http, settings.x_api_url, {"Authorization": f"Bearer {tokens.access_token}"})
    except XAuthError as exc:
        raise AuthCliError(f"the sign-in is stored, but X did not say whose account it is ({exc}); run "
                           "`socialdesk auth x` again to check") from None
    brand.save(StoredCredential(access_token=tokens.access_token, refresh_token=tokens.refresh_token,
                                expires_at=tokens.expires_at, account_id=account_id, account_handle=handle))
    if not tokens.refresh_token:
        print("note: X sent no refresh token (offline.access was not granted); sign in again in two hours",
              file=sys.stderr)
    return handle, account_id
