"""XRPC over HTTP: `GET|POST <service>/xrpc/<nsid>`, answers mapped to our errors.

The service is the brand account's PDS (`SOCIALDESK_BLUESKY_SERVICE_URL`, by default
https://bsky.social); it proxies `app.bsky.*` calls to the AppView for us.

How answers map (the exception tree is in `socialdesk.networks.base`):

    timeout, connection failure, 5xx   XrpcUnavailable (a SourceUnavailable); `maybe_sent`
                                       tells whether the request may have been processed
    429                                RateLimited, reset from `RateLimit-Reset` (unix
                                       seconds) or `Retry-After`, else Bluesky's 5-minute window
    other 4xx                          XrpcRejected (a SourceRejected) with Bluesky's
                                       `error` and `message`
    ExpiredToken (400) or 401          the session renews its token and the call is made
                                       once more; refused again → AuthRefused

Every answer's `RateLimit-*` headers are returned as a `Quota` so a source can set
`Page.not_before` when the quota is spent.
"""

from __future__ import annotations

import contextlib
import email.utils
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx

from socialdesk.networks.base import (
    AuthError,
    AuthRefused,
    AuthUnavailable,
    RateLimited,
    SourceRejected,
    SourceUnavailable,
)

if TYPE_CHECKING:
    from socialdesk.networks.bluesky.session import Session

DEFAULT_SERVICE_URL = "https://bsky.social"
SERVICE_URL_SETTING = "SOCIALDESK_BLUESKY_SERVICE_URL"
RATE_LIMIT_WINDOW = timedelta(minutes=5)  # bsky.social's RateLimit-Policy is "3000;w=300"
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)
_AUTH_ERRORS = frozenset({"ExpiredToken", "InvalidToken", "AuthenticationRequired", "AuthMissing"})


def utcnow() -> datetime:
    return datetime.now(UTC)


class XrpcUnavailable(SourceUnavailable):
    """The service did not answer usefully; retry later."""

    def __init__(self, message: str, *, maybe_sent: bool, status: int | None = None) -> None:
        super().__init__(message)
        self.maybe_sent, self.status = maybe_sent, status


class XrpcRejected(SourceRejected):
    """The service refused the call (4xx): `error` and `message` are Bluesky's own."""

    def __init__(self, nsid: str, status: int, error: str, message: str) -> None:
        super().__init__(f"Bluesky refused {nsid} ({status} {error or 'error'}): {message or 'no detail'}")
        self.nsid, self.status, self.error, self.detail = nsid, status, error, message


@dataclass(frozen=True)
class Quota:
    """What the `RateLimit-*` headers of one answer said."""

    limit: int | None
    remaining: int | None
    reset_at: datetime | None

    @property
    def spent(self) -> bool:
        return self.remaining is not None and self.remaining <= 0


@dataclass(frozen=True)
class XrpcResponse:
    body: dict[str, Any]
    quota: Quota
    status: int


def _int(value: str | None) -> int | None:
    return int(value) if value and value.strip().isdigit() else None


def quota_of(headers: Mapping[str, str]) -> Quota:
    reset = _int(headers.get("ratelimit-reset"))
    return Quota(
        limit=_int(headers.get("ratelimit-limit")),
        remaining=_int(headers.get("ratelimit-remaining")),
        reset_at=datetime.fromtimestamp(reset, UTC) if reset is not None else None,
    )


def reset_time(headers: Mapping[str, str], now: datetime) -> datetime:
    """When a 429 ends: RateLimit-Reset, else Retry-After (seconds or a date), else a window."""
    quota = quota_of(headers)
    if quota.reset_at is not None:
        return quota.reset_at
    retry_after = (headers.get("retry-after") or "").strip()
    if retry_after.isdigit():
        return now + timedelta(seconds=int(retry_after))
    if retry_after:
        with contextlib.suppress(TypeError, ValueError):
            return email.utils.parsedate_to_datetime(retry_after).astimezone(UTC)
    return now + RATE_LIMIT_WINDOW


def error_of(response: httpx.Response) -> tuple[str, str]:
    """Bluesky's (`error`, `message`) from an error answer, whatever its body."""
    try:
        body = response.json()
    except ValueError:
        return "", response.text[:200] or response.reason_phrase
    if not isinstance(body, dict):
        return "", str(body)[:200]
    return str(body.get("error") or ""), str(body.get("message") or "")


class XrpcClient:
    """Calls one service. With a `session`, calls carry its access token."""

    def __init__(self, http: httpx.Client, service_url: str = DEFAULT_SERVICE_URL, *,
                 session: Session | None = None, clock: Callable[[], datetime] = utcnow) -> None:
        self._http, self._base = http, service_url.rstrip("/") + "/xrpc/"
        self._session, self._clock = session, clock

    @property
    def session(self) -> Session | None:
        return self._session

    def get(self, nsid: str, params: Mapping[str, Any] | None = None, *, auth: bool = True) -> XrpcResponse:
        return self._authorized("GET", nsid, params=params, json=None, auth=auth)

    def post(self, nsid: str, json: Mapping[str, Any] | None = None, *, auth: bool = True) -> XrpcResponse:
        return self._authorized("POST", nsid, params=None, json=json, auth=auth)

    def call(self, method: str, nsid: str, *, params: Mapping[str, Any] | None = None,
             json: Mapping[str, Any] | None = None, token: str | None = None) -> XrpcResponse:
        """One request with an explicit bearer token (or none); no renewal."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        # Array parameters (getProfiles `actors`, listNotifications `reasons`) repeat the key.
        query = [(k, v) for k, vs in (params or {}).items() if vs is not None
                 for v in (vs if isinstance(vs, list | tuple) else [vs])]
        try:
            response = self._http.request(method, self._base + nsid, params=query, json=json, headers=headers)
        except _NOT_SENT as exc:
            raise XrpcUnavailable(f"Bluesky could not be reached for {nsid}: {type(exc).__name__}",
                                  maybe_sent=False) from exc
        except httpx.TransportError as exc:  # read timeouts, dropped connections
            raise XrpcUnavailable(f"Bluesky did not answer {nsid}: {type(exc).__name__}",
                                  maybe_sent=True) from exc
        quota = quota_of(response.headers)
        if response.status_code == 429:
            reset_at = reset_time(response.headers, self._clock())
            raise RateLimited(f"Bluesky rate limit reached for {nsid} until {reset_at.isoformat()}",
                              reset_at=reset_at)
        if response.status_code >= 500:
            error, message = error_of(response)
            raise XrpcUnavailable(
                f"Bluesky answered {response.status_code} to {nsid}: {message or error or 'no detail'}",
                maybe_sent=response.status_code == 504, status=response.status_code)
        if response.status_code >= 400:
            error, message = error_of(response)
            raise XrpcRejected(nsid, response.status_code, error, message)
        try:
            body = response.json() if response.content else {}
        except ValueError as exc:
            raise XrpcUnavailable(f"Bluesky answered {nsid} with something that is not JSON",
                                  maybe_sent=True, status=response.status_code) from exc
        return XrpcResponse(body if isinstance(body, dict) else {"value": body}, quota, response.status_code)

    def _authorized(self, method: str, nsid: str, *, params: Mapping[str, Any] | None,
                    json: Mapping[str, Any] | None, auth: bool) -> XrpcResponse:
        if not auth or self._session is None:
            return self.call(method, nsid, params=params, json=json)
        token = self._session.access_token()
        try:
            return self.call(method, nsid, params=params, json=json, token=token)
        except XrpcRejected as exc:
            if not is_auth_failure(exc):
                raise
        # The token expired or was revoked before the service processed the call: renewing
        # and sending once more cannot post twice.
        token = self._session.renew(token)
        try:
            return self.call(method, nsid, params=params, json=json, token=token)
        except XrpcRejected as exc:
            if is_auth_failure(exc):
                raise AuthRefused(
                    f"Bluesky refused the brand account's new session for {nsid} ({exc.error}: {exc.detail}). "
                    "Check the account is active, then run `socialdesk auth bluesky`.",
                    status=exc.status, error=exc.error, description=exc.detail) from exc
            raise


def is_auth_failure(exc: XrpcRejected) -> bool:
    return exc.status == 401 or exc.error in _AUTH_ERRORS


@contextlib.contextmanager
def as_source_errors() -> Iterator[None]:
    """Sources raise one family (SourceError): sign-in trouble becomes one of those."""
    try:
        yield
    except AuthUnavailable as exc:
        raise SourceUnavailable(str(exc)) from exc
    except AuthError as exc:
        raise SourceRejected(str(exc)) from exc
