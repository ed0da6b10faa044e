"""Posting as the brand on X: OAuth 2.0 with PKCE (tokens in the database) or OAuth 1.0a keys.

X's flow (docs.x.com, "OAuth 2.0 Authorization Code Flow with PKCE"): the owner opens
`x_authorize_url` with a code_challenge (S256), approves, and the browser lands on the
redirect URI with `state` and a `code` valid for 30 s; POST /2/oauth2/token turns it
into an access token (2 hours) and, with offline.access, a refresh token. A refresh
returns a new refresh token and the old one stops working, so refreshing is serialized:
a lock in this process and, across replicas, the credential store's lock on the row
(`CredentialStore.load(lock=True)` until `save` or `release`).

Exception tree:

    XAuthError              replying as the brand is not possible right now
    ├── XAuthMissing        nothing configured: run `socialdesk auth x` or set the OAuth 1.0a keys
    ├── XTokenRefused       X's token endpoint or API refused the credentials: sign in again
    └── XAuthUnavailable    X's token endpoint did not answer (retry later)
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode

import httpx
from oauthlib.oauth1 import SIGNATURE_HMAC, Client as OAuth1Client

from socialdesk.config import Settings
from socialdesk.networks.base import (AuthError, AuthMissing, AuthRefused, AuthUnavailable, CredentialStore,
                                      StoredCredential)

NETWORK = "x"
SCOPES = "tweet.read tweet.write users.read offline.access"
TOKEN_PATH = "/2/oauth2/token"
ME_PATH = "/2/users/me"
REFRESH_MARGIN = timedelta(seconds=60)  # refresh a token that expires within this
_OAUTH1_VARS = ("x_api_key", "x_api_secret", "x_access_token", "x_access_secret")
_SIGN_IN_AGAIN = "run `socialdesk auth x` again to sign in the brand account"


def utcnow() -> datetime:
    """The default clock: aware UTC (token expiry times are compared with it)."""
    return datetime.now(UTC)


class XAuthError(AuthError):
    """Replying as the brand on X is not possible right now; the message says what to do."""


class XAuthMissing(XAuthError, AuthMissing):
    pass


class XTokenRefused(XAuthError, AuthRefused):
    def __init__(self, message: str, *, status: int, error: str = "", description: str = "") -> None:
        AuthRefused.__init__(self, message, status=status, error=error, description=description)


class XAuthUnavailable(XAuthError, AuthUnavailable):
    pass


@dataclass(frozen=True)
class TokenSet:
    access_token: str
    refresh_token: str | None
    expires_at: datetime


def new_pkce() -> tuple[str, str]:
    """(code_verifier, code_challenge): 86 URL-safe characters and their S256 hash."""
    verifier = secrets.token_urlsafe(64)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def new_state() -> str:
    return secrets.token_urlsafe(24)


def authorize_url(settings: Settings, *, state: str, challenge: str) -> str:
    params = {
        "response_type": "code",
        "client_id": settings.x_client_id or "",
        "redirect_uri": settings.x_redirect_uri,
        "scope": SCOPES,
        "state": state,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    return f"{settings.x_authorize_url}?{urlencode(params, quote_via=quote)}"


def exchange_code(http: httpx.Client, settings: Settings, *, code: str, verifier: str,
                  now: datetime | None = None) -> TokenSet:
    form = {"grant_type": "authorization_code", "code": code,
            "redirect_uri": settings.x_redirect_uri, "code_verifier": verifier}
    return _token_request(http, settings, form, now or utcnow())


def refresh(http: httpx.Client, settings: Settings, refresh_token: str, *, now: datetime | None = None) -> TokenSet:
    return _token_request(http, settings, {"grant_type": "refresh_token", "refresh_token": refresh_token},
                          now or utcnow())


def _token_request(http: httpx.Client, settings: Settings, form: dict[str, str], now: datetime) -> TokenSet:
    if not settings.x_client_id:
        raise XAuthMissing("SOCIALDESK_X_CLIENT_ID is not set: copy the OAuth 2.0 Client ID from your app's "
                           "Keys and tokens page in the X developer console")
    # X wants client_id in the form even when a confidential client also sends Basic auth.
    data = {**form, "client_id": settings.x_client_id}
    secret = settings.x_client_secret.get_secret_value() if settings.x_client_secret else None
    auth = httpx.BasicAuth(settings.x_client_id, secret) if secret else None
    try:
        response = http.post(settings.x_api_url + TOKEN_PATH, data=data, auth=auth,
                             headers={"Accept": "application/json"})
    except httpx.TransportError as exc:
        raise XAuthUnavailable(f"could not reach X's token endpoint ({type(exc).__name__}); try again shortly") from exc
    if response.status_code >= 500:
        raise XAuthUnavailable(f"X's token endpoint answered {response.status_code}; try again shortly")
    body = json_object(response)
    if response.status_code != 200 or not body.get("access_token"):
        error, description = str(body.get("error") or ""), str(body.get("error_description") or "")
        said = description or error or response.text[:200] or response.reason_phrase
        raise XTokenRefused(f"X refused the token request ({response.status_code}): {said}",
                            status=response.status_code, error=error, description=description)
    lifetime = int(body.get("expires_in") or 7200)
    return TokenSet(body["access_token"], body.get("refresh_token"), now + timedelta(seconds=lifetime))


def fetch_me(http: httpx.Client, api_url: str, headers: dict[str, str]) -> tuple[str, str]:
    """(id, username) of the account the credentials act as."""
    try:
        response = http.get(api_url + ME_PATH, headers=headers)
    except httpx.TransportError as exc:
        raise XAuthUnavailable(f"could not reach X to look up the account ({type(exc).__name__})") from exc
    body = json_object(response)
    if response.status_code in (401, 403):
        detail = body.get("detail") or body.get("title") or response.reason_phrase
        raise XTokenRefused(f"X refused the credentials ({response.status_code}: {detail})",
                            status=response.status_code, description=str(detail))
    data = body.get("data") or {}
    if response.status_code != 200 or not data.get("id"):
        raise XAuthUnavailable(f"X did not return the account ({response.status_code}); try again shortly")
    return str(data["id"]), str(data.get("username") or "")


def json_object(response: httpx.Response) -> dict[str, Any]:
    """The response's JSON object, or {} (X's error pages are not always JSON)."""
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


class XUserAuth:
    """The Authorization header for requests made as the brand account.

    OAuth 1.0a when all four SOCIALDESK_X_API_KEY/_API_SECRET/_ACCESS_TOKEN/_ACCESS_SECRET
    are set, else the OAuth 2.0 token `socialdesk auth x` stored in `credentials`,
    refreshed when it is about to expire. Thread-safe; build one per process (app.build).
    """

    def __init__(self, settings: Settings, *, http: httpx.Client, credentials: CredentialStore,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self._settings, self._http, self._credentials, self._clock = settings, http, credentials, clock
        self._lock = threading.Lock()
        self._account: tuple[str, str] | None = None
        keys = [getattr(settings, name) for name in _OAUTH1_VARS]
        self._oauth1 = None
        if all(keys):
            key, secret, token, token_secret = (k.get_secret_value() for k in keys)
            self._oauth1 = OAuth1Client(key, client_secret=secret, resource_owner_key=token,
                                        resource_owner_secret=token_secret, signature_method=SIGNATURE_HMAC)
        # Some but not all four set: name the missing ones rather than fall back silently.
        missing = [Settings.model_fields[n].alias for n, k in zip(_OAUTH1_VARS, keys) if not k]
        self._partial = missing if any(keys) else []

    @property
    def mode(self) -> str:
        return "oauth1" if self._oauth1 is not None else "oauth2"

    def headers(self, method: str, url: str, *, json_body: Any = None) -> dict[str, str]:
        """`url` is the full URL with its query string (it is part of an OAuth 1.0a signature)."""
        if self._oauth1 is not None:
            # A JSON body is not in the signature base string (only form bodies are).
            _, signed, _ = self._oauth1.sign(url, http_method=method.upper())
            return {"Authorization": signed["Authorization"]}
        return {"Authorization": f"Bearer {self.access_token()}"}

    def access_token(self) -> str:
        """The stored OAuth 2.0 access token, refreshed first when it expires within 60 s."""
        with self._lock:
            stored = self._credentials.load()
            if stored is None:
                raise XAuthMissing(self._missing_message())
            if not self._due(stored.expires_at):
                return stored.access_token
            return self._refresh_locked(stale=None)

    def refresh_now(self, stale_token: str) -> str:
        """X refused `stale_token` (401): refresh unless someone already replaced it."""
        if self._oauth1 is not None:
            raise XTokenRefused("X refused the OAuth 1.0a keys: regenerate the access token and secret in the X "
                                "developer console (app permissions: Read and write)", status=401)
        with self._lock:
            return self._refresh_locked(stale=stale_token)

    def _refresh_locked(self, *, stale: str | None) -> str:
        # The row stays locked while X answers: a second replica waits, then finds the new token.
        stored = self._credentials.load(lock=True)
        try:
            if stored is None:
                raise XAuthMissing(self._missing_message())
            already_done = stored.access_token != stale if stale else not self._due(stored.expires_at)
            if already_done:
                return stored.access_token
            if not stored.refresh_token:
                raise XTokenRefused(f"the stored X sign-in has expired and cannot be renewed; {_SIGN_IN_AGAIN}",
                                    status=401)
            try:
                tokens = refresh(self._http, self._settings, stored.refresh_token, now=self._clock())
            except XTokenRefused as exc:
                raise XTokenRefused(f"X no longer accepts the stored sign-in ({exc.description or exc}); "
                                    f"{_SIGN_IN_AGAIN}", status=exc.status, error=exc.error,
                                    description=exc.description) from exc
            # No account given: a refresh does not change whose account it is (the store keeps it).
            self._credentials.save(StoredCredential(
                access_token=tokens.access_token, refresh_token=tokens.refresh_token or stored.refresh_token,
                expires_at=tokens.expires_at))
            return tokens.access_token
        finally:
            self._credentials.release()  # after a save nothing is held: a no-op

    def account(self) -> tuple[str, str]:
        """(id, handle) of the brand account: cached, then the credential row, then GET /2/users/me."""
        if self._account is not None:
            return self._account
        if self._oauth1 is None:
            stored = self._credentials.load()
            if stored is not None and stored.account_id and stored.account_handle:
                self._account = (stored.account_id, stored.account_handle)
                return self._account
        url = self._settings.x_api_url + ME_PATH
        found = fetch_me(self._http, self._settings.x_api_url, self.headers("GET", url))
        if self._oauth1 is None:
            self._remember_account(*found)
        self._account = found
        return found

    def _remember_account(self, account_id: str, handle: str) -> None:
        """Write the account beside the tokens, holding the row: a refresh meanwhile must not be undone."""
        with self._lock:
            stored = self._credentials.load(lock=True)
            if stored is None:  # signed out meanwhile: nothing to annotate
                self._credentials.release()
                return
            self._credentials.save(replace(stored, account_id=account_id, account_handle=handle))

    def cached_handle(self) -> str | None:
        """The brand's handle if already known (no request to X)."""
        if self._account is not None:
            return self._account[1]
        if self._oauth1 is None:
            stored = self._credentials.load()
            return stored.account_handle if stored is not None else None
        return None

    def _due(self, expires_at: datetime | None) -> bool:
        return expires_at is not None and expires_at - self._clock() <= REFRESH_MARGIN

    def _missing_message(self) -> str:
        if self._partial:
            return (f"OAuth 1.0a needs all four X keys; {', '.join(self._partial)} "
                    f"{'is' if len(self._partial) == 1 else 'are'} not set. Set them, or unset the others "
                    "and run `socialdesk auth x`")
        return ("replying on X is not set up: run `socialdesk auth x` to sign in the brand account, or set "
                "SOCIALDESK_X_API_KEY, SOCIALDESK_X_API_SECRET, SOCIALDESK_X_ACCESS_TOKEN and "
                "SOCIALDESK_X_ACCESS_SECRET (OAuth 1.0a)")
