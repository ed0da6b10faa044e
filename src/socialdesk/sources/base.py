"""What every network source implements, and the one family of errors it raises.

Exception tree:

    SourceError                 anything a source could not do
    ├── RateLimited             the network said "not before <reset_at>" (X: 429 + x-rate-limit-reset)
    ├── SourceUnavailable       5xx, timeouts, connection failures: retry with backoff
    └── SourceRejected          the network refused the request (bad query, bad token): needs a human
        └── CursorExpired       the stored page token is no longer accepted: restart from since_id

The poll job owns scheduling, backoff and cursors; a source only fetches one page.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from socialdesk.domain import Network, Post


class SourceError(Exception):
    """A source could not fetch a page."""


class RateLimited(SourceError):
    def __init__(self, message: str, *, reset_at: datetime) -> None:
        super().__init__(message)
        self.reset_at = reset_at


class SourceUnavailable(SourceError):
    """Temporary: the network is down, slow or answering 5xx."""


class SourceRejected(SourceError):
    """Permanent until someone changes the rule or the credentials."""


class CursorExpired(SourceRejected):
    """The pagination token in the stored cursor was refused."""


@dataclass
class Page:
    """One fetched page and the cursor to store with it.

    `cursor` is what to pass to the next fetch; `done` says the source is caught up
    (no more pages until new posts arrive). `not_before`, when set, is the earliest
    time the network allows the next request (its quota is spent).
    """

    posts: list[Post]
    cursor: dict[str, Any]
    done: bool
    not_before: datetime | None = None
    warnings: list[str] = field(default_factory=list)


class Source(Protocol):
    network: Network

    def fetch(self, query: str, cursor: dict[str, Any] | None) -> Page:
        """Fetch the next page for `query` after `cursor` (None: a new search)."""
        ...
