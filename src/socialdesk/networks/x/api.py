"""X's API v2 over HTTP, answers mapped to our errors (the tree is in `networks.base`).

    timeout, connection failure, 5xx   SourceUnavailable
    429                                RateLimited until x-rate-limit-reset, else Retry-After
                                       (capped at X's 15-minute window), else in a minute
    401, 403                           SourceRejected naming SOCIALDESK_X_BEARER_TOKEN
    other 4xx naming a page token      CursorExpired (`get_page`: the walk restarts from since_id)
    other 4xx naming since_id          CursorExpired restarting without one (recent search: older than 7 days)
    other 4xx                          SourceRejected with X's error text
    a 200 whose body is not JSON       SourceUnavailable (`json_body`)

`send` lets a caller take an error answer itself (`accept`); `quota_spent_until` says when
the window opens again after a call that spent its last request.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from socialdesk.networks.base import CursorExpired, RateLimited, SourceRejected, SourceUnavailable
from socialdesk.networks.x.parse import describe_error

# A 429 that names no reset (a proxy or gateway in front of X, not X's own answer):
# wait briefly, then ask again; X's own 429 always carries x-rate-limit-reset.
_DEFAULT_RATE_LIMIT_WAIT = timedelta(seconds=60)
_MAX_RETRY_AFTER = timedelta(minutes=15)  # X's rate-limit window: no sane Retry-After is longer


def json_body(response: httpx.Response) -> Any:
    """The body of a 200 as JSON; SourceUnavailable when it is not (an HTML page from a proxy, a cut-off body)."""
    try:
        return response.json()
    except ValueError:  # JSONDecodeError and UnicodeDecodeError both
        kind = response.headers.get("content-type", "no content type").split(";")[0].strip() or "no content type"
        start = " ".join(response.text[:60].split())
        raise SourceUnavailable(
            f"X answered with a body that is not JSON ({kind}, {len(response.content)} bytes"
            + (f": {start!r}" if start else "") + ")"
        ) from None


def error_text(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200] or response.reason_phrase
    if isinstance(body, dict) and body.get("errors") and not body.get("detail"):
        return "; ".join(describe_error(e) for e in body["errors"])
    if not isinstance(body, dict):
        return str(body)[:200]
    # "Invalid Request" says which parameter only inside `errors`: keep that part.
    inner = "; ".join(e["message"] for e in body.get("errors") or [] if isinstance(e, dict) and e.get("message"))
    return describe_error(body) + (f" ({inner})" if inner else "")


def reset_time(response: httpx.Response, now: datetime) -> datetime:
    """When to ask again: x-rate-limit-reset, else Retry-After (seconds or an HTTP date), else a short wait."""
    reset = (response.headers.get("x-rate-limit-reset") or "").strip()
    if reset.isdigit():
        return datetime.fromtimestamp(int(reset), UTC)
    retry_after = _retry_after(response.headers.get("retry-after"), now)
    if retry_after is not None:
        return retry_after
    return now + _DEFAULT_RATE_LIMIT_WAIT


_reset_time = reset_time  # the name tests/jobs imports


def _retry_after(value: str | None, now: datetime) -> datetime | None:
    """Retry-After as a time (RFC 9110: delay-seconds or an HTTP date), capped at X's window; None if unusable."""
    value = (value or "").strip()
    if not value:
        return None
    if value.isdigit():
        return now + min(timedelta(seconds=int(value)), _MAX_RETRY_AFTER)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return min(max(when, now), now + _MAX_RETRY_AFTER)


def get(http: httpx.Client, url: str, params: dict[str, Any], headers: dict[str, str], *, what: str) -> httpx.Response:
    """GET from X, turning its failures into the source errors (`what`: "search", …)."""
    return send(http, "GET", url, params, headers, what=what)


def send(http: httpx.Client, method: str, url: str, params: dict[str, Any], headers: dict[str, str], *,
         what: str, body: Any = None, accept: Callable[[httpx.Response], bool] | None = None) -> httpx.Response:
    """A request to X (`body`: sent as JSON), its failures turned into the source errors.

    `accept`: an error answer the caller reads itself (returned, not raised).
    """
    now = datetime.now(UTC)
    try:
        response = http.request(method, url, params=params, headers=headers, json=body)
    except httpx.TimeoutException as exc:
        raise SourceUnavailable(f"X did not answer in time ({type(exc).__name__})") from exc
    except httpx.TransportError as exc:
        raise SourceUnavailable(f"could not reach X: {exc}") from exc
    status = response.status_code
    if status >= 400 and accept is not None and accept(response):
        return response
    if status == 429:
        reset_at = reset_time(response, now)
        raise RateLimited(f"X rate limit reached: {error_text(response)}", reset_at=reset_at, status=status)
    if status >= 500:
        raise SourceUnavailable(f"X answered {status}: {error_text(response)}", status=status)
    if status in (401, 403):
        raise SourceRejected(
            f"X refused the credentials ({status}: {error_text(response)}); "
            "check SOCIALDESK_X_BEARER_TOKEN and the app's access level", status=status
        )
    if status >= 400:
        text = error_text(response)
        if "next_token" in text or "pagination_token" in text:
            raise CursorExpired(f"X refused the stored page token: {text}")
        if _names_parameter(response, "since_id"):
            # Recent search refuses a since_id from before its 7 days (our clock behind X's, a cursor stored
            # long ago). Nothing older can be read, so the walk starts again without one: all 7 days.
            raise CursorExpired(f"X refused the stored since_id, older than its search reaches back: {text}",
                                restart={"since_id": None})
        raise SourceRejected(f"X refused the {what} ({status}): {text}", status=status)
    return response


def get_page(http: httpx.Client, url: str, params: dict[str, Any], headers: dict[str, str], *, what: str,
             since_id: str | None) -> httpx.Response:
    """`get` for a walk: a refused page token restarts the walk from since_id (nothing skipped)."""
    try:
        return get(http, url, params, headers, what=what)
    except CursorExpired as exc:
        if exc.restart:  # the since_id itself was refused: restart as `send` says
            raise
        raise CursorExpired(str(exc), restart={"since_id": since_id}) from exc


def problems(response: httpx.Response) -> list[dict[str, Any]]:
    """The problems an error answer holds: its body (a Problem) and each of its `errors`; [] when it is not JSON."""
    try:
        body = response.json()
    except ValueError:
        return []
    if not isinstance(body, dict):
        return []
    return [body, *(e for e in body.get("errors") or [] if isinstance(e, dict))]


def _names_parameter(response: httpx.Response, name: str) -> bool:
    """Whether X's 400 names the parameter: in `errors[].parameters` (what X sends), `parameter` (the
    openapi's InvalidRequestProblem), else quoted in the message."""
    for problem in problems(response):
        parameters = problem.get("parameters")
        if (isinstance(parameters, dict) and name in parameters) or problem.get("parameter") == name:
            return True
    return f"'{name}'" in error_text(response)


def quota_spent_until(response: httpx.Response) -> datetime | None:
    if response.headers.get("x-rate-limit-remaining") == "0":
        return reset_time(response, datetime.now(UTC))
    return None
