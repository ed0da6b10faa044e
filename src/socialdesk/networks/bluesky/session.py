"""The brand account's Bluesky session: app-password login, token refresh, one store.

`com.atproto.server.createSession` (handle + app password) gives an access JWT (short
lived, about two hours) and a refresh JWT (months, **single use**: refreshing returns
a new pair and revokes the old). Bluesky allows 30 logins per 5 minutes per account,
so this class logs in once and then refreshes:

- tokens live in the `CredentialStore` (the database, shared by replicas): accessJwt →
  access_token, refreshJwt → refresh_token, did → account_id, handle → account_handle,
  expires_at from the access JWT's `exp` claim (read, not verified: the PDS verifies);
- `access_token()` refreshes ahead of expiry; `renew(token)` is called when a request
  answered ExpiredToken/401 with `token`;
- refreshes are serialized by a lock and `store.load(lock=True)` (a replica may have
  refreshed meanwhile: its tokens are used, the spent refresh token is not sent again);
- a new login happens only when refreshing is refused, at most once per
  `login_interval`; a refused login is remembered for `refused_cooldown` and raised
  again without asking Bluesky.

Neither the password nor a token is ever logged or put in an exception message.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx

from socialdesk.networks.base import (
    AuthMissing,
    AuthRefused,
    AuthUnavailable,
    CredentialStore,
    RateLimited,
    StoredCredential,
)
from socialdesk.networks.bluesky.xrpc import (
    DEFAULT_SERVICE_URL,
    XrpcClient,
    XrpcRejected,
    XrpcUnavailable,
    utcnow,
)

log = logging.getLogger(__name__)

HANDLE_SETTING = "SOCIALDESK_BLUESKY_HANDLE"
PASSWORD_SETTING = "SOCIALDESK_BLUESKY_APP_PASSWORD"
_HOW_TO_FIX = (
    f"Set {HANDLE_SETTING} to the brand account's handle (like acme.bsky.social) and "
    f"{PASSWORD_SETTING} to an app password created in Bluesky under Settings → Privacy and "
    "security → App passwords (not the account password), then restart socialdesk."
)


def jwt_expiry(token: str) -> datetime | None:
    """The `exp` claim of a JWT, decoded without verifying it (None if unreadable)."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
        return datetime.fromtimestamp(int(payload["exp"]), UTC)
    except (ValueError, KeyError, TypeError, OverflowError):
        return None


class Session:
    """Bearer tokens for the brand account on its PDS."""

    def __init__(self, *, http: httpx.Client, store: CredentialStore, handle: str | None,
                 app_password: str | None, service_url: str = DEFAULT_SERVICE_URL,
                 clock: Callable[[], datetime] = utcnow,
                 refresh_margin: timedelta = timedelta(minutes=2),
                 login_interval: timedelta = timedelta(seconds=30),
                 refused_cooldown: timedelta = timedelta(minutes=5)) -> None:
        self._xrpc = XrpcClient(http, service_url, clock=clock)  # no session: login calls only
        self._store, self._clock = store, clock
        self._handle = (handle or "").strip().lstrip("@") or None
        self._password = app_password or None
        self._margin, self._login_interval, self._cooldown = refresh_margin, login_interval, refused_cooldown
        self._lock = threading.Lock()
        self._last_login: datetime | None = None
        self._refused: tuple[datetime, AuthRefused] | None = None

    # --- what callers use ------------------------------------------------------------

    def access_token(self) -> str:
        """A usable access token, refreshing or logging in when needed."""
        credential = self._store.load()
        if credential is not None and not self._stale(credential) and not self._other_account(credential):
            return credential.access_token
        return self.renew(credential.access_token if credential else None)

    def renew(self, rejected: str | None) -> str:
        """A new access token after `rejected` expired or was refused."""
        with self._lock:
            credential = self._store.load(lock=True)
            try:
                if credential is not None and credential.access_token != rejected and not self._stale(credential) \
                        and not self._other_account(credential):
                    return credential.access_token  # another thread or replica renewed it already
                if credential is not None and credential.refresh_token and not self._other_account(credential):
                    refreshed = self._refresh(credential)
                    if refreshed is not None:
                        return refreshed.access_token
                return self._login().access_token
            finally:
                self._store.release()  # the row lock load(lock=True) took, if save() did not end it

    def account(self) -> StoredCredential:
        """The signed-in account (DID in account_id, handle in account_handle)."""
        credential = self._store.load()
        if credential is None or not credential.account_id:
            self.access_token()
            credential = self._store.load()
        assert credential is not None
        return credential

    @property
    def did(self) -> str:
        return self.account().account_id or ""

    @property
    def handle(self) -> str:
        return self.account().account_handle or self._handle or ""

    # --- how -------------------------------------------------------------------------

    def _stale(self, credential: StoredCredential) -> bool:
        expires = credential.expires_at
        if expires is not None and expires.tzinfo is None:
            expires = expires.replace(tzinfo=UTC)
        return expires is not None and self._clock() >= expires - self._margin

    def _other_account(self, credential: StoredCredential) -> bool:
        """The configured handle changed: the stored tokens belong to another account."""
        configured, stored = self._handle, credential.account_handle
        if not configured or not stored or configured.startswith("did:") or "@" in configured:
            return False
        return configured.lower() != stored.lower()

    def _save(self, body: dict, previous: StoredCredential | None = None) -> StoredCredential:
        credential = StoredCredential(
            access_token=body["accessJwt"],
            refresh_token=body.get("refreshJwt") or (previous.refresh_token if previous else None),
            expires_at=jwt_expiry(body["accessJwt"]),
            account_id=body.get("did") or (previous.account_id if previous else None),
            account_handle=body.get("handle") or (previous.account_handle if previous else None),
        )
        self._store.save(credential)
        return credential

    def _refresh(self, credential: StoredCredential) -> StoredCredential | None:
        """The refreshed tokens, or None when Bluesky refused the refresh token."""
        try:
            body = self._xrpc.call("POST", "com.atproto.server.refreshSession",
                                   token=credential.refresh_token).body
        except XrpcRejected as exc:
            log.warning("Bluesky refused to refresh the session of @%s (%s); signing in again",
                        credential.account_handle, exc.error or exc.status)
            return None
        except (XrpcUnavailable, RateLimited) as exc:
            raise AuthUnavailable(f"Bluesky's sign-in service did not answer ({exc}); retrying later") from exc
        if not isinstance(body.get("accessJwt"), str):
            raise AuthUnavailable("Bluesky's refreshSession answer had no access token; retrying later")
        log.info("Bluesky session of @%s refreshed", body.get("handle") or credential.account_handle)
        return self._save(body, credential)

    def _login(self) -> StoredCredential:
        if not self._handle or not self._password:
            raise AuthMissing(f"Bluesky is not signed in. {_HOW_TO_FIX}")
        now = self._clock()
        if self._refused is not None and now < self._refused[0] + self._cooldown:
            raise self._refused[1]  # refused a moment ago: asking again only spends the login quota
        if self._last_login is not None and now < self._last_login + self._login_interval:
            raise AuthRefused(
                "Bluesky refused the brand account's session right after signing in. "
                "Check the account is active and not suspended, then run `socialdesk auth bluesky`.")
        self._last_login = now
        try:
            body = self._xrpc.call("POST", "com.atproto.server.createSession",
                                   json={"identifier": self._handle, "password": self._password}).body
        except XrpcRejected as exc:
            refused = AuthRefused(
                f"Bluesky refused to sign in as {self._handle} ({exc.error or exc.status}: {exc.detail}). "
                f"{_HOW_TO_FIX}", status=exc.status, error=exc.error, description=exc.detail)
            self._refused = (now, refused)
            log.warning("Bluesky refused to sign in as %s (%s)", self._handle, exc.error or exc.status)
            raise refused from exc
        except RateLimited as exc:
            raise AuthUnavailable(f"Bluesky limits sign-ins (30 per 5 minutes) until "
                                  f"{exc.reset_at.isoformat()}; retrying after that") from exc
        except XrpcUnavailable as exc:
            raise AuthUnavailable(f"Bluesky's sign-in service did not answer ({exc}); retrying later") from exc
        if not isinstance(body.get("accessJwt"), str) or not body.get("did"):
            raise AuthUnavailable("Bluesky's createSession answer had no tokens; retrying later")
        self._refused = None
        log.info("signed in to Bluesky as @%s", body.get("handle"))
        return self._save(body)
