"""`/social search` text: search words plus `key:value` filters (pure, no database).

    /social search <words> [status:new|claimed|replied|resolved|ignored|reopened]
                           [rule:3] [network:x] [from:@handle] [since:7d|24h|30m|2w]

Words are data: quotes, operators and SQL/FTS syntax are kept as plain text and the
store turns them into bound, quoted tokens. A token `key:value` whose key is a bare word
(letters only) is a filter; an unknown key or a bad value raises `QueryError` with a
one-line message. `http://…` and `10:30` stay search text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta

from socialdesk.domain import CaseStatus
from socialdesk.networks import registry
from socialdesk.slack.text import ECHO_CHARS, plain_cut

STATUSES = tuple(s.value for s in CaseStatus)
NETWORKS = registry.names()
USAGE = (
    "usage: /social search <words> [status:" + "|".join(STATUSES) + "] [rule:3] "
    "[network:" + "|".join(NETWORKS) + "] [from:@handle] [since:7d|24h|30m|2w]"
)
MAX_WORDS_CHARS = 2000  # longer input is cut here (the store uses its first terms anyway)
MAX_SINCE = timedelta(days=3660)
MAX_RULE_ID = 2**31 - 1  # an INTEGER column: a bigger number is no rule (PostgreSQL refused the query)

_FILTER = re.compile(r"^([A-Za-z]+):(.*)$", re.DOTALL)
_SINCE = re.compile(r"^(\d{1,6})([mhdw])$")
_HANDLE = re.compile(r"^@?([\w.\-]{1,255}(?:@[\w.\-]{1,253})?)$")  # also user@server, as cards show it
_KEYS = frozenset({"status", "rule", "network", "from", "since"})
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


class QueryError(ValueError):
    """A filter the user got wrong; str(error) is one line to show them."""


@dataclass(frozen=True)
class Query:
    words: str = ""
    status: set[str] = field(default_factory=set)
    rule_ids: set[int] = field(default_factory=set)
    networks: set[str] = field(default_factory=set)
    authors: set[str] = field(default_factory=set)  # handles, lower case, without "@"
    since: timedelta | None = None

    @property
    def has_filters(self) -> bool:
        return bool(self.status or self.rule_ids or self.networks or self.authors or self.since)


def _bad(filter_text: str, why: str) -> QueryError:
    return QueryError(f"`{plain_cut(filter_text, ECHO_CHARS)}`: {why}. {USAGE}")


def _values(token: str, raw: str) -> list[str]:
    values = [v for v in raw.split(",")]
    if not raw or any(not v for v in values):
        raise _bad(token, "needs a value")
    return values


def parse(text: str) -> Query:
    """Split `/social search` text into words and filters; raise QueryError on a bad filter."""
    words: list[str] = []
    status: set[str] = set()
    rule_ids: set[int] = set()
    networks: set[str] = set()
    authors: set[str] = set()
    since: timedelta | None = None
    for token in (text or "").split():
        match = _FILTER.match(token)
        if match is None or match.group(2).startswith("//"):  # plain words, URLs, 10:30
            words.append(token)
            continue
        key, raw = match.group(1).lower(), match.group(2)
        if key not in _KEYS and not raw:  # "error:" is a word, not a filter
            words.append(token)
            continue
        if key == "status":
            for value in _values(token, raw):
                if value.lower() not in STATUSES:
                    raise _bad(token, "status is one of " + ", ".join(STATUSES))
                status.add(value.lower())
        elif key == "rule":
            for value in _values(token, raw):
                value = value.removeprefix("#")
                if not value.isascii() or not value.isdigit() or len(value) > 10 or int(value) > MAX_RULE_ID:
                    raise _bad(token, "rule takes a rule number, e.g. rule:3")
                rule_ids.add(int(value))
        elif key == "network":
            for value in _values(token, raw):
                if value.lower() not in NETWORKS:
                    raise _bad(token, "network is one of " + ", ".join(NETWORKS))
                networks.add(value.lower())
        elif key == "from":
            for value in _values(token, raw):
                handle = _HANDLE.match(value)
                if handle is None:
                    raise _bad(token, "from takes a handle, e.g. from:@customer")
                authors.add(handle.group(1).lower())
        elif key == "since":
            since_match = _SINCE.match(raw.lower())
            if since_match is None:
                raise _bad(token, "since takes a number and m, h, d or w, e.g. since:7d")
            amount = timedelta(**{_UNITS[since_match.group(2)]: int(since_match.group(1))})
            if amount <= timedelta(0) or amount > MAX_SINCE:
                raise _bad(token, "since must be more than zero and at most ten years")
            since = amount
        else:
            raise _bad(token, f"unknown filter `{key}:`")
    joined = " ".join(words)[:MAX_WORDS_CHARS]
    return Query(words=joined, status=status, rule_ids=rule_ids, networks=networks, authors=authors, since=since)
