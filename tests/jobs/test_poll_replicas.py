"""Two replicas polling one rule: two Poller instances, each with its own engine on one database.

The rule's lease lets exactly one of them poll it at a time, and every post becomes exactly
one case whichever replica reads it. Against FakeX and a real database (SQLite and PostgreSQL).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlmodel import select

from socialdesk.jobs.poll import Poller
from socialdesk.jobs.poll_leases import LEASE_SECONDS
from socialdesk.networks.base import Network, Page
from socialdesk.networks.x.search import XSource
from socialdesk.store import streams as stream_store
from socialdesk.store.db import as_utc, make_engine, session_scope
from socialdesk.store.models import CaseRow, PostRow
from tests.jobs.test_poll import add_rule, post_many, rule, stored_ids
from tests.support.networks import x_network
from tests.support.waiting import wait_for

EVERY = 60
WAIT = 10  # seconds: the most any step here should take (a bound on waits, never a pause)


@dataclass
class Fetches:
    """Every fetch either replica made, and how many were under way at once."""

    log: list[str] = field(default_factory=list)
    active: int = 0
    peak: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


class Watched:
    """The real X source of one replica, counted in the shared `Fetches`; optionally held at a gate."""

    def __init__(self, name: str, source: XSource, fetches: Fetches) -> None:
        self.name, self._source, self._fetches = name, source, fetches
        self.gate: threading.Event | None = None  # when set: each fetch waits for it
        self.entered = threading.Event()

    def fetch(self, query: str, cursor: dict[str, Any] | None) -> Page:
        with self._fetches.lock:
            self._fetches.log.append(self.name)
            self._fetches.active += 1
            self._fetches.peak = max(self._fetches.peak, self._fetches.active)
        try:
            self.entered.set()
            if self.gate is not None:
                assert self.gate.wait(WAIT), f"{self.name}: the test never opened the gate"
            return self._source.fetch(query, cursor)
        finally:
            with self._fetches.lock:
                self._fetches.active -= 1


@dataclass
class Replica:
    name: str
    poller: Poller
    source: Watched
    opened: list[int]
    network: Network


@pytest.fixture
def replicas(engine, db_url, fake_x, clock) -> Iterator[tuple[Replica, Replica, Fetches]]:
    """Two replicas on one database (each with its engine and HTTP client), one clock between them."""
    fetches = Fetches()
    other_engine = make_engine(db_url)
    clients = [httpx.Client(timeout=5) for _ in range(2)]
    made = []
    for name, eng, http in (("a", engine, clients[0]), ("b", other_engine, clients[1])):
        source = Watched(name, XSource(http=http, api_url=fake_x.url, bearer_token="test-bearer", page_size=10),
                         fetches)
        opened: list[int] = []
        networks = x_network(source)
        poller = Poller(engine=eng, networks=networks, own_handles=frozenset(), clock=clock,
                        on_new_cases=opened.extend)
        made.append(Replica(name, poller, source, opened, networks["x"]))
    yield made[0], made[1], fetches
    for client in clients:
        client.close()
    other_engine.dispose()


def cases_by_post(engine) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """The external id of each case's first post -> how many cases it opened."""
    with session_scope(engine) as session:
        rows = session.exec(select(PostRow.external_id).join(CaseRow, CaseRow.first_post_id == PostRow.id)).all()
    counts: dict[str, int] = {}
    for external_id in rows:
        counts[external_id] = counts.get(external_id, 0) + 1
    return counts


def test_a_replica_finds_the_rule_held_while_the_other_polls_it(engine, replicas, fake_x, clock):
    a, b, fetches = replicas
    every = 20  # half of it (the gap between two replicas' turns) is well inside a lease
    assert every / 2 < LEASE_SECONDS - 5
    rule_id = add_rule(engine, every=every)
    first = post_many(fake_x, 3)
    a.source.gate = threading.Event()
    with ThreadPoolExecutor(1) as pool:
        polling = pool.submit(a.poller.poll_rule, rule_id)
        assert a.source.entered.wait(WAIT), "replica a never fetched"
        # a is mid-fetch, holding the lease: b's timer fires now, then again once past the
        # replicas' gap (every / 2) but within the lease: only the lease keeps b out then.
        assert b.poller.poll_rule(rule_id) == 0
        clock.offset += timedelta(seconds=every / 2 + 5)
        assert b.poller.poll_rule(rule_id) == 0
        assert fetches.log == ["a"]  # b sent nothing to X
        a.source.gate.set()
        assert polling.result(WAIT) == 3
    assert rule(engine, rule_id).lease_until is None  # a gave it back
    later = post_many(fake_x, 2)
    assert b.poller.poll_rule(rule_id) == 2  # free and past the gap: b's next turn takes it
    assert fetches.log == ["a", "b"] and fetches.peak == 1
    assert stored_ids(engine) == sorted(first + later)
    assert cases_by_post(engine) == {p: 1 for p in first + later}
    assert sorted(a.opened) == sorted(set(a.opened)) and len(a.opened) == 3 and len(b.opened) == 2
    assert not set(a.opened) & set(b.opened)


def test_two_replicas_racing_for_a_rule_poll_it_once_per_turn_and_open_each_case_once(engine, replicas, fake_x,
                                                                                      clock):
    a, b, fetches = replicas
    rule_id = add_rule(engine, every=EVERY)
    rounds = 12
    barrier = threading.Barrier(2, timeout=WAIT)

    def turn(replica: Replica) -> int:
        barrier.wait()  # both timers fire together
        return replica.poller.poll_rule(rule_id)

    posted: list[str] = []
    winners: list[str] = []
    with ThreadPoolExecutor(2) as pool:
        for i in range(rounds):
            posted += post_many(fake_x, 3, text=f"acme phone round {i} #{{i}}")
            clock.offset += timedelta(seconds=EVERY + 1)
            before = len(fetches.log)
            results = list(pool.map(turn, (a, b), timeout=WAIT))
            polled = fetches.log[before:]
            assert len(set(polled)) == 1, f"round {i}: replicas {sorted(set(polled))} both polled"
            assert sorted(results) == [0, 3]  # one opened this round's cases, the other skipped
            winners += polled[:1]
            assert rule(engine, rule_id).lease_until is None
    assert fetches.peak == 1  # never two fetches of the rule under way at once
    assert len(winners) == rounds
    assert stored_ids(engine) == sorted(posted)
    assert cases_by_post(engine) == {p: 1 for p in posted}  # every post exactly one case
    announced = a.opened + b.opened
    assert len(announced) == len(set(announced)) == len(posted)  # each case announced (carded) once


class StallSecond(threading.Event):
    """A gate open for the first page; the second waits (a stuck request, a paused VM) until set."""

    def __init__(self) -> None:
        super().__init__()
        self.pages = 0

    def wait(self, timeout: float | None = None) -> bool:
        self.pages += 1
        return True if self.pages == 1 else super().wait(timeout)


def test_a_replica_whose_lease_ran_out_stops_and_leaves_the_rule_to_the_one_that_took_it(engine, replicas, fake_x,
                                                                                         clock):
    a, b, fetches = replicas
    backlog = post_many(fake_x, 30)
    rule_id = add_rule(engine, every=EVERY, backfill=True)  # three pages of ten
    stall = a.source.gate = StallSecond()
    with ThreadPoolExecutor(1) as pool:
        polling = pool.submit(a.poller.poll_rule, rule_id)
        wait_until(lambda: stall.pages == 2, what="replica a stalled on its second page")
        clock.offset += timedelta(seconds=LEASE_SECONDS + 1)  # a's lease ran out meanwhile
        assert b.poller.poll_rule(rule_id) == 20  # b took the rule over, from the page a had stored
        done = rule(engine, rule_id).cursor
        assert done == {"since_id": backlog[-1]}
        stall.set()
        assert polling.result(WAIT) == 10  # a's first page
    assert fetches.log == ["a", "a", "b", "b"]  # a stopped: no third page from it
    assert rule(engine, rule_id).cursor == done  # and b's finished walk was not set back
    assert stored_ids(engine) == sorted(backlog)
    assert cases_by_post(engine) == {p: 1 for p in backlog}
    assert sorted(a.opened + b.opened) == sorted(set(a.opened + b.opened)) and len(a.opened + b.opened) == 30


def wait_until(check, *, what: str) -> None:  # type: ignore[no-untyped-def]
    wait_for(check, timeout=WAIT, what=what, every=0.01)


def test_a_replica_seeing_the_stream_live_leaves_the_other_s_walk_alone(engine, replicas, fake_x, clock):
    """b's stream is connected, so b skips polling search rules; a is mid-walk of a backfill
    (older posts the stream never brings): b's turn must not take a's lease from under it."""
    a, b, fetches = replicas
    backlog = post_many(fake_x, 30)
    rule_id = add_rule(engine, every=EVERY, backfill=True)
    stall = a.source.gate = StallSecond()
    with ThreadPoolExecutor(1) as pool:
        polling = pool.submit(a.poller.poll_rule, rule_id)
        wait_until(lambda: stall.pages == 2, what="replica a on its second page")
        b.network.stream = object()  # type: ignore[assignment]  # b runs X's stream, and it is connected
        with session_scope(engine) as session:
            assert stream_store.take_lease(session=session, network="x", holder="b", now=clock(), seconds=60)
            stream_store.record_connection(session=session, network="x", holder="b", now=clock())
        for _ in range(3):  # b's timer fires, again and again, while a's lease holds
            clock.offset += timedelta(seconds=5)
            assert b.poller.poll_rule(rule_id) == 0
        stall.set()
        assert polling.result(WAIT) == 30  # a walked on to the end
    assert fetches.log == ["a", "a", "a"]
    state = rule(engine, rule_id)
    assert state.cursor == {"since_id": backlog[-1]} and state.lease_until is None  # a finished and gave it back
    assert cases_by_post(engine) == {p: 1 for p in backlog}


def test_a_walk_slower_than_its_short_lease_keeps_it_renewed(engine, replicas, fake_x, clock):
    """A rule polled every 5 s has a 5 s lease (a dead worker holds it no longer than an interval);
    a fetch that takes longer keeps it, renewed by the walk's LeaseKeeper, so no replica takes over."""
    a, b, fetches = replicas
    rule_id = add_rule(engine, every=5)
    post_many(fake_x, 2)
    a.source.gate = threading.Event()
    with ThreadPoolExecutor(1) as pool:
        polling = pool.submit(a.poller.poll_rule, rule_id)
        assert a.source.entered.wait(WAIT), "replica a never fetched"
        first = rule(engine, rule_id).lease_until
        assert first is not None and as_utc(first) - as_utc(rule(engine, rule_id).last_polled_at) <= timedelta(seconds=5)
        clock.offset += timedelta(seconds=6)  # past that lease: only a renewal keeps b out now
        wait_for(lambda: as_utc(rule(engine, rule_id).lease_until) > clock(), timeout=WAIT,
                 what="the lease renewed while the fetch hangs")
        assert b.poller.poll_rule(rule_id) == 0 and fetches.log == ["a"]
        a.source.gate.set()
        assert polling.result(WAIT) == 2
    assert rule(engine, rule_id).lease_until is None
