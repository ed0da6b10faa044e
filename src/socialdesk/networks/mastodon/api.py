"""Mastodon's REST API over HTTP, answers mapped to our errors (the tree is in `networks.base`).

    timeout, connection failure, 5xx,  ApiUnavailable (a SourceUnavailable); `maybe_sent` says
    an answer that is not JSON         whether the request may have been processed
    429                                RateLimited until X-RateLimit-Reset (an ISO time)
    401, 403                           ApiRejected naming SOCIALDESK_MASTODON_TOKEN
    other 4xx                          ApiRejected with Mastodon's `error`

Every answer's X-RateLimit-* headers are kept: once one says Remaining 0, calls in that
budget raise RateLimited before sending until the reset (300 calls per 5 minutes by
default; posting statuses has a budget of its own, so it is tracked apart). The token
goes in the Authorization header and nowhere else: it is never logged.
"""

from __future__ import annotations

import email.utils
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx

from socialdesk.networks.base import RateLimited, SourceRejected, SourceUnavailable
from socialdesk.networks.mastodon.instance import InstanceConfig

log = logging.getLogger(__name__)

TOKEN_SETTING = "SOCIALDESK_MASTODON_TOKEN"
SCOPES = "read and write:statuses"
RATE_LIMIT_WINDOW = timedelta(minutes=5)  # Mastodon's default: 300 calls per 5 minutes
INSTANCE_RETRY = timedelta(minutes=5)  # how long the defaults stand in for an instance that did not answer
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)
_STATUSES = "statuses"  # the budget of POST /api/v1/statuses
_DEFAULT = "api"


def utcnow() -> datetime:
    return datetime.now(UTC)


class ApiUnavailable(SourceUnavailable):
    """The instance did not answer usefully; retry later."""

    def __init__(self, message: str, *, maybe_sent: bool, status: int | None = None) -> None:
        super().__init__(message)
        self.maybe_sent, self.status = maybe_sent, status


class ApiRejected(SourceRejected):
    """The instance refused the call (4xx); `error` is Mastodon's own message."""

    def __init__(self, message: str, *, path: str, status: int, error: str) -> None:
        super().__init__(message)
        self.path, self.status, self.error = path, status, error


@dataclass
class ApiAnswer:
    json: Any
    links: dict[str, dict[str, str]] = field(default_factory=dict)  # rel → the query parameters of its URL
    not_before: datetime | None = None  # the budget is spent until then
    status: int = 200


def parse_time(value: Any) -> datetime | None:
    """An ISO time as Mastodon writes it ("2026-08-01T13:55:00.947323Z"); None if unreadable."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().upper())  # 3.11 reads "Z"; some servers write "z"
    except ValueError:
        return None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)


def links_of(response: httpx.Response) -> dict[str, dict[str, str]]:
    """The Link header as rel → query parameters (`{"prev": {"min_id": "…"}, "next": {"max_id": "…"}}`)."""
    found: dict[str, dict[str, str]] = {}
    try:
        links = response.links
    except Exception:  # noqa: BLE001 - a garbled Link header only means no pagination
        return found
    for key, link in links.items():
        rel, url = link.get("rel") or key, link.get("url") or ""
        if rel and url:
            found[rel] = dict(parse_qsl(urlsplit(url).query))
    return found


def error_of(response: httpx.Response) -> str:
    """Mastodon's `error` (and `error_description`) from an error answer, whatever its body."""
    try:
        body = response.json()
    except ValueError:
        return (response.text or response.reason_phrase)[:200]
    if isinstance(body, dict) and body.get("error"):
        described = body.get("error_description")
        return f"{body['error']}: {described}" if described else str(body["error"])
    return str(body)[:200]


def reset_time(response: httpx.Response, now: datetime) -> datetime:
    """When a 429 ends: X-RateLimit-Reset, else Retry-After (seconds or a date), else the window."""
    reset = parse_time(response.headers.get("x-ratelimit-reset"))
    if reset is not None:
        return reset
    retry_after = (response.headers.get("retry-after") or "").strip()
    if retry_after.isdigit():
        return now + timedelta(seconds=int(retry_after))
    if retry_after:
        try:
            return email.utils.parsedate_to_datetime(retry_after).astimezone(UTC)
        except (TypeError, ValueError):
            pass
    return now + RATE_LIMIT_WINDOW


class MastodonApi:
    """Calls one instance, as the brand account when `token` is set."""

    def __init__(self, http: httpx.Client, base_url: str, token: str | None, *,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self._http, self.base_url, self.token, self._clock = http, base_url.rstrip("/"), token, clock
        self._spent: dict[str, datetime] = {}  # budget → reset time, while its Remaining is 0
        self._instance: InstanceConfig | None = None
        self._instance_tried: datetime | None = None
        self._me: dict[str, Any] | None = None

    # --- requests ---------------------------------------------------------------------

    def get(self, path: str, params: list[tuple[str, str]] | dict[str, Any] | None = None) -> ApiAnswer:
        self._check_budget(_DEFAULT, path)
        response = self._send("GET", path, params=params)
        self._note_budget(_DEFAULT, response)
        self._raise_for(response, "GET", path)
        if not response.content:
            body: Any = None
        else:
            try:
                body = response.json()
            except ValueError as exc:
                raise ApiUnavailable(f"Mastodon answered GET {path} with something that is not JSON "
                                     f"({response.headers.get('content-type', 'no content type')})",
                                     maybe_sent=True, status=response.status_code) from exc
        return ApiAnswer(body, links_of(response), self._spent.get(_DEFAULT), response.status_code)

    def post_status(self, form: dict[str, Any], *, idempotency_key: str) -> httpx.Response:
        """POST /api/v1/statuses as it came back; transport errors (httpx) are the caller's to read.

        Raises RateLimited before sending while the posting budget is spent.
        """
        self._check_budget(_STATUSES, "/api/v1/statuses")
        response = self._http.post(self.base_url + "/api/v1/statuses", data=form,
                                   headers={**self._auth_headers(), "Idempotency-Key": idempotency_key})
        self._note_budget(_STATUSES, response)
        return response

    def rate_limited(self, response: httpx.Response, what: str) -> RateLimited:
        reset_at = reset_time(response, self._clock())
        self._spent[_STATUSES if what == "/api/v1/statuses" else _DEFAULT] = reset_at
        return RateLimited(f"Mastodon's rate limit is reached for {what} until {reset_at.isoformat()}",
                           reset_at=reset_at)

    def spent_until(self) -> datetime | None:
        """When calls may be made again, while the budget is spent (None: calls may go on)."""
        reset_at = self._spent.get(_DEFAULT)
        return reset_at if reset_at is not None and reset_at > self._clock() else None

    # --- cached look-ups --------------------------------------------------------------

    def instance(self) -> InstanceConfig:
        """The instance's limits and streaming address; Mastodon's defaults while it cannot be asked."""
        now = self._clock()
        if self._instance is not None and (self._instance.reachable or (
                self._instance_tried is not None and now - self._instance_tried < INSTANCE_RETRY)):
            return self._instance
        self._instance_tried = now
        try:
            try:
                body = self.get("/api/v2/instance").json
            except ApiRejected as exc:
                if exc.status != 404:  # servers before Mastodon 4.0 only have v1
                    raise
                body = self.get("/api/v1/instance").json
            self._instance = InstanceConfig.from_json(body, self.base_url)
        except (SourceRejected, SourceUnavailable, RateLimited) as exc:
            log.warning("Mastodon's instance settings could not be read (%s); using the defaults "
                        "(500 characters, 23 per link) for now", exc)
            self._instance = InstanceConfig.defaults(self.base_url)
        return self._instance

    def cached_instance(self) -> InstanceConfig | None:
        """What `instance()` last read, without asking (None: never asked yet)."""
        return self._instance

    def me(self) -> dict[str, Any]:
        """The brand account (verify_credentials), asked once. Raises SourceError."""
        if self._me is None:
            if not self.token:
                raise ApiRejected(f"{TOKEN_SETTING} is not set: create an access token for the brand account "
                                  f"(Preferences → Development → New application, scopes {SCOPES})",
                                  path="/api/v1/accounts/verify_credentials", status=401, error="no token")
            body = self.get("/api/v1/accounts/verify_credentials").json
            if not isinstance(body, dict) or not body.get("id"):
                raise ApiUnavailable("Mastodon answered verify_credentials without an account",
                                     maybe_sent=True)
            self._me = body
        return self._me

    def cached_me(self) -> dict[str, Any] | None:
        return self._me

    # --- internals --------------------------------------------------------------------

    def _auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def _send(self, method: str, path: str, *, params: Any) -> httpx.Response:
        try:
            return self._http.request(method, self.base_url + path, params=params, headers=self._auth_headers())
        except _NOT_SENT as exc:
            raise ApiUnavailable(f"Mastodon could not be reached for {method} {path}: {type(exc).__name__}",
                                 maybe_sent=False) from exc
        except httpx.TransportError as exc:  # read timeouts, dropped connections
            raise ApiUnavailable(f"Mastodon did not answer {method} {path}: {type(exc).__name__}",
                                 maybe_sent=True) from exc

    def _check_budget(self, budget: str, what: str) -> None:
        reset_at = self._spent.get(budget)
        if reset_at is None:
            return
        if reset_at <= self._clock():
            self._spent.pop(budget, None)  # polls, the stream and replies all pass the reset together
            return
        raise RateLimited(f"Mastodon's rate limit is spent until {reset_at.isoformat()} (not calling {what})",
                          reset_at=reset_at)

    def _note_budget(self, budget: str, response: httpx.Response) -> None:
        remaining = (response.headers.get("x-ratelimit-remaining") or "").strip()
        if not remaining.lstrip("-").isdigit():
            return
        if int(remaining) > 0:
            self._spent.pop(budget, None)
            return
        reset = parse_time(response.headers.get("x-ratelimit-reset"))
        if reset is not None and reset > self._clock():
            self._spent[budget] = reset

    def _raise_for(self, response: httpx.Response, method: str, path: str) -> None:
        status = response.status_code
        if 300 <= status < 400:  # redirects are not followed: the setting names another address
            where = response.headers.get("location", "")
            raise ApiRejected(f"Mastodon answered {method} {path} with a redirect ({status}) to {where or 'elsewhere'}: "
                              "set SOCIALDESK_MASTODON_URL to the instance's own address (https://…, its web "
                              "domain)", path=path, status=status, error="redirect")
        if status < 400:
            return
        if status == 429:
            raise self.rate_limited(response, path)
        error = error_of(response)
        if status >= 500:
            raise ApiUnavailable(f"Mastodon answered {status} to {method} {path}: {error or 'no detail'}",
                                 maybe_sent=status == 504, status=status)
        if status == 401:
            raise ApiRejected(f"Mastodon refused the access token ({status}: {error}) for {method} {path}: check "
                              f"{TOKEN_SETTING} (a token of the brand account with the {SCOPES} scopes)",
                              path=path, status=status, error=error)
        if status == 403:
            raise ApiRejected(f"Mastodon does not let this token call {method} {path} ({status}: {error}): give "
                              f"{TOKEN_SETTING}'s application the {SCOPES} scopes, or check the account is "
                              "not suspended", path=path, status=status, error=error)
        raise ApiRejected(f"Mastodon refused {method} {path} ({status}): {error or 'no detail'}",
                          path=path, status=status, error=error)
