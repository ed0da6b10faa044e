"""Who polls a rule, and when again: its lease (held by one worker at a time, renewed while a walk
runs, as long as its interval so a killed worker holds it no longer), the backoff after failures,
and whether a network's live stream carries it instead (then it is polled only to fill gaps)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from socialdesk.logs import about
from socialdesk.networks.base import Network
from socialdesk.store import rules as rule_store
from socialdesk.store.db import session_scope

log = logging.getLogger("socialdesk.jobs.poll")  # the poller's own lines, as before the split

LEASE_SECONDS = 30  # the longest lease; a rule polled more often has a lease as long as its interval
MIN_LEASE_SECONDS = 5  # the shortest poll interval (rules.MIN_POLL_SECONDS)
BACKOFF_START = timedelta(seconds=5)
BACKOFF_MAX = timedelta(minutes=15)


def carried(network: Network, rule: Any) -> bool:
    """Whether the network's stream carries the rule (when it is live, the rule needs no polling).

    Of a kind the stream carries, marked `stream` where the stream takes only those, and not
    refused by the network (a refused rule is polled)."""
    stream = network.stream
    return (stream is not None and rule.kind in stream.kinds and (not stream.opt_in or bool(rule.stream))
            and rule.stream_refused is None)


def backoff(failures: int) -> timedelta:
    """5 s, 10 s, 20 s … up to 15 minutes."""
    return min(BACKOFF_START * (2 ** max(failures - 1, 0)), BACKOFF_MAX)


def lease_seconds(rule: Any) -> float:
    """A poll's lease: as long as the rule's interval, between MIN_LEASE_SECONDS and LEASE_SECONDS.

    A worker killed mid-poll holds its rule this long at most, so a restarted process (or
    another replica) polls it again within about one interval. LeaseKeeper renews the lease
    while the walk runs, so a page slower than the lease does not lose it.
    """
    return float(max(MIN_LEASE_SECONDS, min(LEASE_SECONDS, rule.every_seconds)))


class LeaseKeeper:
    """Renews a walk's lease every third of its length until the walk ends (or the lease is lost)."""

    def __init__(self, engine: Engine, rule: Any, *, clock: Callable[[], datetime]) -> None:
        self._engine, self._rule, self._now = engine, rule, clock
        self._seconds = lease_seconds(rule)
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._renew, name=f"lease-{rule.id}", daemon=True)

    def __enter__(self) -> LeaseKeeper:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._done.set()
        self._thread.join(timeout=5)

    def _renew(self) -> None:
        while not self._done.wait(self._seconds / 3):
            try:
                with session_scope(self._engine) as session:
                    held = rule_store.renew_lease(session=session, rule_id=self._rule.id,
                                                  taken_at=self._rule.last_polled_at, now=self._now(),
                                                  seconds=self._seconds)
            except Exception as exc:  # noqa: BLE001 - the walk's own renewal per page still tries
                log.warning("rule %s: could not renew its poll lease (%s)", self._rule.id, type(exc).__name__,
                            extra=about(rule_id=self._rule.id, network=self._rule.network))
                continue
            if not held:
                return  # taken by another worker: the walk finds out at its next page and stops
