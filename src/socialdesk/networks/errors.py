"""The one family of errors a network raises (re-exported by `socialdesk.networks.base`).

Exception tree:

    NetworkError                anything a network could not do
    ├── SourceError             a source could not fetch a page, or a stream dropped
    │   ├── RateLimited         the network said "not before <reset_at>" (429 + its reset header)
    │   ├── SourceUnavailable   5xx, timeouts, connection failures, a dropped stream: retry with backoff
    │   └── SourceRejected      the network refused the request (bad query, bad token): needs a human
    │       └── CursorExpired   the stored page token is no longer accepted: restart from the last seen post
    ├── AuthError               the brand account cannot be used right now; the message says what to do
    │   ├── AuthMissing         nothing configured: sign in (`socialdesk auth <network>`) or set the keys
    │   ├── AuthRefused         the network refused the credentials: sign in again
    │   └── AuthUnavailable     the network's sign-in endpoint did not answer (retry later)
    └── ReplyFailed             a public reply was not sent (or may have been): `kind` says why

The interface that raises them (sources, streams, repliers, the network itself) is in
networks/base.py.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any


class NetworkError(Exception):
    """A network could not do what was asked."""


class SourceError(NetworkError):
    """A source could not fetch a page, or its stream dropped.

    `status`: the HTTP status the network answered with, where there was one (counted by
    status in the metrics); None for a connection that failed or dropped."""

    status: int | None = None

    def __init__(self, message: str = "", *, status: int | None = None) -> None:
        super().__init__(message)
        if status is not None:
            self.status = status


class RateLimited(SourceError):
    def __init__(self, message: str, *, reset_at: datetime, status: int | None = None) -> None:
        super().__init__(message, status=status)
        self.reset_at = reset_at


class SourceUnavailable(SourceError):
    """Temporary: the network is down, slow or answering 5xx; a stream connection dropped."""


class SourceRejected(SourceError):
    """Permanent until someone changes the rule or the credentials."""


class CursorExpired(SourceRejected):
    """The pagination token in the stored cursor was refused; `restart` is the cursor to use instead."""

    def __init__(self, message: str, *, restart: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.restart: dict[str, Any] = restart if restart is not None else {}


class AuthError(NetworkError):
    """Acting as the brand account is not possible right now; the message says what to do."""


class AuthMissing(AuthError):
    pass


class AuthRefused(AuthError):
    def __init__(self, message: str, *, status: int | None = None, error: str = "", description: str = "") -> None:
        super().__init__(message)
        self.status, self.error, self.description = status, error, description


class AuthUnavailable(AuthError):
    pass


class ReplyFailed(NetworkError):
    """A reply was not sent; the message is written for the agent who clicked Send.

    kind:
        not_allowed      the network does not let apps reply here: offer "Open in <network>"
                         and "Mark as replied"
        duplicate        the brand already posted this exact text: reword
        too_long         the text is over the network's limit
        gone             the post was deleted or is not visible
        auth             credentials missing, revoked or expired beyond refresh: an admin signs in again
        rate_limited     posting quota spent until `reset_at`
        unavailable      the network did not take the request (5xx, connection failed): safe to retry
        rejected         any other refusal, with the network's detail
        unknown_outcome  it may have been posted (timeout after sending): check before resending
    """

    def __init__(self, message: str, *, kind: str, detail: str = "", retryable: bool = False,
                 reset_at: datetime | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.message, self.kind, self.detail = message, kind, detail
        self.retryable, self.reset_at, self.status = retryable, reset_at, status
