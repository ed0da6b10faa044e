"""The stream worker with a stream whose network matches the rules itself and carries only the marked ones.

`TaggingStream` is such a stream, small and in-process: it is given the rules (`track`),
matches each new post of its world against them as the network would (a word in the text),
tags the event with the matching rules' ids, refuses rules it cannot take, and cannot
replay after a drop (search fills the gap). `WorldSearch` is the same world's search.
Real SQLite and PostgreSQL underneath (the `engine` fixture).
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlmodel import select

from socialdesk.domain import Author, Post
from socialdesk.jobs.poll import Poller
from socialdesk.jobs.stream import StreamWorker
from socialdesk.networks import registry
from socialdesk.networks.base import (Network, Page, SourceUnavailable, StreamEvent, TrackedRule)
from socialdesk.store import rules as rule_store
from socialdesk.store.db import session_scope
from socialdesk.store.models import CaseRow, PostRow, RuleRow
from socialdesk.store import streams as stream_store

NETWORK = "x"  # any registered network: its description only names the rows
REFUSED_WORD = "unstreamable"


def now() -> datetime:
    return datetime.now(UTC)


def wait_for(check: Callable[[], Any], timeout: float = 20.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


class World:
    """The network's posts, ids in the order they were made (ids are nanoseconds: a search cursor maps to time)."""

    def __init__(self) -> None:
        self.posts: list[Post] = []
        self._lock = threading.Lock()
        self._last = 0

    def post(self, text: str, *, handle: str = "customer", lang: str | None = "en", is_repost: bool = False) -> Post:
        with self._lock:
            self._last = max(self._last + 1, time.time_ns())
            pid = str(self._last)
        made = Post(network=NETWORK, external_id=pid, url=f"https://example.test/{handle}/{pid}",
                    author=Author(NETWORK, f"u-{handle}", handle, handle.title(), 10), text=text, lang=lang,
                    created_at=now(), conversation_id=pid, is_repost=is_repost)
        with self._lock:
            self.posts.append(made)
        return made


class WorldSearch:
    """Search: the posts with the query's word, newer than the cursor's id; every request recorded."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.requests: list[tuple[str, str | None]] = []
        self.returned: list[str] = []  # every post id a search answered with (read twice shows twice)

    def fetch(self, query: str, cursor: dict[str, Any] | None) -> Page:
        since = (cursor or {}).get("since_id")
        self.requests.append((query, since))
        found = [p for p in self.world.posts if query.lower() in p.text.lower()
                 and (since is None or int(p.external_id) > int(since))]
        if cursor is None:
            found = found[-10:]  # a new rule: its newest page
        self.returned += [p.external_id for p in found]
        newest = found[-1].external_id if found else since
        return Page(posts=list(reversed(found)), cursor={"since_id": newest}, done=True)


class TaggingStream:
    """A stream of a network that matches the rules it was given and tags its events with their ids."""

    kinds = ("search",)
    opt_in = True
    matches_rules = True

    def __init__(self, world: World, *, wait: float | None = 0.05) -> None:
        self.world = world
        self.rules: dict[int, str] = {}
        self.tracked: list[list[TrackedRule]] = []
        self.waits: list[tuple[type, int]] = []
        self.connections = 0
        self.live = threading.Event()
        self.fail_track = False
        self._wait = wait
        self._queue: queue.Queue[Post | Exception | None] = queue.Queue()
        self._closed = threading.Event()
        self.delivered: list[str] = []

    # what the test does to the network
    def publish(self, post: Post, *, tags: Sequence[int] | None = None) -> None:
        """Deliver `post` live (`tags`: the rule ids to tag it with, else those whose word it has)."""
        self._queue.put((post, tags))  # type: ignore[arg-type]

    def drop(self) -> None:
        self.live.clear()
        self._queue.put(SourceUnavailable("the network closed the stream"))

    # the Stream interface
    def track(self, rules: Sequence[TrackedRule]) -> dict[int, str]:
        if self.fail_track:
            raise SourceUnavailable("the rules endpoint did not answer")
        self.tracked.append(list(rules))
        refused = {r.rule_id: "the network cannot match this rule" for r in rules
                   if r.rule_id is not None and REFUSED_WORD in r.query}
        self.rules = {r.rule_id: r.query for r in rules if r.rule_id is not None and r.rule_id not in refused}
        return refused

    def reconnect_wait(self, error: Exception, failures: int) -> float | None:
        self.waits.append((type(error), failures))
        return self._wait

    def events(self, cursor: dict[str, Any] | None,
               connected: Callable[[dict[str, Any]], None] = lambda cursor: None) -> Iterator[StreamEvent]:
        if self._closed.is_set():
            return
        self.connections += 1
        tip = {"since_id": str(time.time_ns())}
        connected(dict(tip))
        self.live.set()
        while not self._closed.is_set():
            try:
                item = self._queue.get(timeout=0.1)
            except queue.Empty:
                yield StreamEvent("tick", dict(tip))
                continue
            if isinstance(item, Exception):
                raise item
            post, tags = item  # type: ignore[misc]
            if tags is None:
                tags = [rule_id for rule_id, word in self.rules.items() if word.lower() in post.text.lower()]
            self.delivered.append(post.external_id)
            tip = {"since_id": post.external_id}
            yield StreamEvent("post", dict(tip), post=post, rule_ids=tuple(tags))

    def complete(self, posts: Sequence[Post]) -> list[Post]:
        return list(posts)

    def identify(self, handles: Sequence[str]) -> dict[str, str]:
        raise AssertionError("a stream that matches its rules itself is never asked for account ids")

    def is_stale(self, cursor: dict[str, Any]) -> bool:
        return True  # no replay: after any drop, search fills the gap

    def cursor_at(self, when: datetime) -> dict[str, Any]:
        return {"since_id": str(int(when.timestamp() * 1e9))}

    def close(self) -> None:
        self._closed.set()


class Desk:
    def __init__(self, engine, **stream_options) -> None:  # type: ignore[no-untyped-def]
        self.world = World()
        self.search = WorldSearch(self.world)
        self.stream = TaggingStream(self.world, **stream_options)
        self.network = Network(info=registry.info(NETWORK), sources={"search": self.search}, stream=self.stream,
                               search_since=lambda when: {"since_id": str(int(when.timestamp() * 1e9))})
        self.poller = Poller(engine=engine, networks={NETWORK: self.network}, own_handles=frozenset({"acme"}),
                             clock=now)
        self.worker = StreamWorker(engine=engine, network=self.network, poller=self.poller, clock=now)
        self.engine = engine

    def start(self) -> Desk:
        self.worker.start()
        wait_for(self.stream.live.is_set, what="the stream to connect")
        wait_for(self.is_live, what="the connection to be recorded")
        return self

    def is_live(self) -> bool:
        with session_scope(self.engine) as session:
            return stream_store.is_live(session=session, network=NETWORK, now=now())


@pytest.fixture
def desk(engine) -> Iterator[Desk]:  # type: ignore[no-untyped-def]
    made = Desk(engine)
    yield made
    made.worker.stop()


def add_rule(engine, query: str, *, channel: str = "C1", stream: bool = True, lang: str | None = None) -> int:  # type: ignore[no-untyped-def]
    with session_scope(engine) as session:
        rule = rule_store.add_rule(session=session, network=NETWORK, query=query, channel_id=channel,
                                   every_seconds=60, lang=lang, include_reposts=False, now=now(), stream=stream)
        # As if its newest page had been taken: from now on the stream (or polling) brings its posts.
        rule_store.save_cursor(session=session, rule_id=rule.id, cursor={"since_id": str(time.time_ns())},
                               not_before=None, now=now())
        return rule.id


def cases(engine) -> dict[str, tuple[int | None, str]]:  # type: ignore[no-untyped-def]
    """Stored post id → (its rule, the channel of its case)."""
    with session_scope(engine) as session:
        rows = session.exec(select(PostRow, CaseRow).join(CaseRow, CaseRow.id == PostRow.case_id)).all()
        return {p.external_id: (p.rule_id, c.channel_id) for p, c in rows}


def stored_ids(engine) -> list[str]:  # type: ignore[no-untyped-def]
    with session_scope(engine) as session:
        return [p.external_id for p in session.exec(select(PostRow))]


def rule_row(engine, rule_id: int) -> RuleRow:  # type: ignore[no-untyped-def]
    with session_scope(engine) as session:
        row = session.get(RuleRow, rule_id)
        session.expunge(row)
        return row


def test_a_post_goes_to_the_rules_the_network_tagged_it_with_and_nothing_is_matched_here(engine, desk):
    acme = add_rule(engine, "acme", channel="C1")
    refund = add_rule(engine, "refund", channel="C2")
    desk.start()
    assert {r.rule_id: r.query for r in desk.stream.tracked[-1]} == {acme: "acme", refund: "refund"}
    tagged = desk.world.post("where is my refund")
    desk.stream.publish(tagged)
    # The network says this one matched nothing, whatever its words: it is not matched again here.
    untagged = desk.world.post("acme refund please")
    desk.stream.publish(untagged, tags=[])
    unknown = desk.world.post("acme, from a rule we never gave the network")
    desk.stream.publish(unknown, tags=[9999])
    both = desk.world.post("acme refund, twice tagged")
    desk.stream.publish(both, tags=[refund, acme, refund])
    wait_for(lambda: both.external_id in cases(engine), what="the post tagged twice")
    assert cases(engine) == {tagged.external_id: (refund, "C2"), both.external_id: (refund, "C2")}


def test_the_rules_filters_still_decide(engine, desk):
    rule = add_rule(engine, "acme", lang="en")
    desk.start()
    german = desk.world.post("acme Telefon kaputt", lang="de")
    ours = desk.world.post("acme: the fix is rolling out", handle="acme")
    repost = desk.world.post("acme broke again", is_repost=True)
    kept = desk.world.post("acme broke")
    for post in (german, ours, repost, kept):
        desk.stream.publish(post)
    wait_for(lambda: kept.external_id in cases(engine), what="the post the filters let through")
    assert cases(engine) == {kept.external_id: (rule, "C1")}


def test_only_rules_marked_stream_are_given_to_the_stream_and_the_others_are_polled(engine, desk):
    marked = add_rule(engine, "acme")
    unmarked = add_rule(engine, "refund", stream=False)
    desk.start()
    assert [r.rule_id for r in desk.stream.tracked[-1]] == [marked]
    desk.search.requests.clear()
    desk.poller.poll_rule(marked)
    assert desk.search.requests == []  # carried by the live stream: no search
    later = desk.world.post("refund please")
    desk.poller.poll_rule(unmarked)
    assert [q for q, _ in desk.search.requests] == ["refund"]
    assert cases(engine)[later.external_id] == (unmarked, "C1")

    with session_scope(engine) as session:  # marked now: the stream is given it within a few seconds
        rule_store.set_stream(session=session, rule_id=unmarked, stream=True)
    wait_for(lambda: {r.rule_id for r in desk.stream.tracked[-1]} == {marked, unmarked}, what="the rule to be tracked")
    with session_scope(engine) as session:
        rule_store.set_paused(session=session, rule_id=marked, paused=True, now=datetime.now(UTC))
    wait_for(lambda: {r.rule_id for r in desk.stream.tracked[-1]} == {unmarked}, what="the paused rule to go")


def test_a_stream_that_carries_every_rule_is_given_the_unmarked_ones_too(engine):
    desk = Desk(engine)
    desk.stream.opt_in = False
    try:
        unmarked = add_rule(engine, "acme", stream=False)
        desk.start()
        assert [r.rule_id for r in desk.stream.tracked[-1]] == [unmarked]
        desk.search.requests.clear()
        desk.poller.poll_rule(unmarked)
        assert desk.search.requests == []
    finally:
        desk.worker.stop()


def test_a_rule_the_network_refuses_is_noted_on_it_and_polled(engine, desk, caplog):
    carried = add_rule(engine, "acme")
    refused = add_rule(engine, f"acme {REFUSED_WORD}")
    desk.start()
    row = rule_row(engine, refused)
    assert row.stream_refused == "the network cannot match this rule"
    assert row.last_error == "not streamed: the network cannot match this rule" and row.last_error_at is not None
    assert row.consecutive_failures == 0  # not failing: polled instead
    assert rule_row(engine, carried).stream_refused is None
    assert sum("refused rule" in r.getMessage() for r in caplog.records) == 1

    # Tagged for it anyway (the network's rules lag): the worker does not carry it.
    stray = desk.world.post(f"acme {REFUSED_WORD} stray")
    desk.stream.publish(stray, tags=[refused])
    marker = desk.world.post("acme, after the stray one")
    desk.stream.publish(marker, tags=[carried])
    wait_for(lambda: marker.external_id in cases(engine), what="the post after the stray one")
    assert stray.external_id not in cases(engine)
    post = desk.world.post(f"acme {REFUSED_WORD} phone")
    desk.search.requests.clear()
    desk.poller.poll_rule(refused)
    assert [q for q, _ in desk.search.requests] == [f"acme {REFUSED_WORD}"]
    assert cases(engine)[post.external_id] == (refused, "C1")
    # A successful poll keeps the note: it says why the rule is not streamed.
    assert rule_row(engine, refused).last_error == "not streamed: the network cannot match this rule"
    desk.poller.poll_rule(carried)
    assert [q for q, _ in desk.search.requests] == [f"acme {REFUSED_WORD}"]  # the carried rule is not polled

    with session_scope(engine) as session:  # edited so the network takes it: the note goes
        rule = rule_store.get_rule(session=session, rule_id=refused)
        rule_store.update_rule(session=session, rule_id=refused, query="acme phone", channel_id=rule.channel_id,
                               every_seconds=rule.every_seconds, priority_keywords=None, priority_followers=None)
    wait_for(lambda: rule_row(engine, refused).stream_refused is None, what="the refusal to be cleared")
    assert rule_row(engine, refused).last_error is None


def test_a_drop_waits_as_the_network_says_and_search_fills_the_gap_once(engine, desk):
    rule = add_rule(engine, "acme")
    desk.start()
    before = desk.world.post("acme before the drop")
    desk.stream.publish(before)
    wait_for(lambda: before.external_id in cases(engine), what="the live post")
    desk.stream.drop()
    during = [desk.world.post(f"acme during the drop {i}") for i in range(3)]  # never delivered
    wait_for(lambda: desk.stream.connections >= 2 and desk.stream.live.is_set(), what="the reconnect")
    after = desk.world.post("acme after the drop")
    desk.stream.publish(after)
    wanted = [before, *during, after]
    wait_for(lambda: all(p.external_id in cases(engine) for p in wanted), what="every post")
    assert desk.stream.waits[0] == (SourceUnavailable, 1)  # the stream's own reconnect policy was asked
    ids = stored_ids(engine)
    assert sorted(ids) == sorted(p.external_id for p in wanted) and len(ids) == len(set(ids))
    assert {cases(engine)[p.external_id] for p in wanted} == {(rule, "C1")}
    assert {p.external_id for p in during} <= set(desk.search.returned)  # the gap came from search


def test_rules_that_cannot_be_given_to_the_network_keep_the_stream_down_and_are_polled(engine):
    desk = Desk(engine)
    desk.stream.fail_track = True
    rule = add_rule(engine, "acme")
    try:
        desk.worker.start()
        wait_for(lambda: desk.stream.waits, what="a reconnect wait")
        assert desk.stream.connections == 0 and not desk.is_live()
        post = desk.world.post("acme while the rules endpoint is down")
        desk.poller.poll_rule(rule)
        assert cases(engine)[post.external_id] == (rule, "C1")
        desk.stream.fail_track = False
        wait_for(desk.stream.live.is_set, what="the stream to connect once the rules are taken")
    finally:
        desk.worker.stop()


def test_a_rule_marked_for_the_stream_is_searched_from_where_its_polling_stopped(engine, desk):
    """The poller leaves a rule as soon as it is marked, before the stream has it: what was posted
    since its last poll is searched once, when the stream begins to carry it (also after a resume)."""
    add_rule(engine, "acme")
    polled = add_rule(engine, "refund", stream=False)
    desk.start()
    missed = desk.world.post("refund please, posted after the rule's last poll")  # not on the stream: not carried
    with session_scope(engine) as session:
        rule_store.set_stream(session=session, rule_id=polled, stream=True)
    wait_for(lambda: missed.external_id in cases(engine), what="the post from before the stream carried the rule")
    assert cases(engine)[missed.external_id] == (polled, "C1")
    assert desk.search.returned.count(missed.external_id) == 1

    with session_scope(engine) as session:  # paused, then resumed: the pause is searched too
        rule_store.set_paused(session=session, rule_id=polled, paused=True, now=datetime.now(UTC))
    wait_for(lambda: {r.rule_id for r in desk.stream.tracked[-1]} == {1}, what="the paused rule to go")
    during = desk.world.post("refund, while the rule was paused")
    with session_scope(engine) as session:
        rule_store.set_paused(session=session, rule_id=polled, paused=False, now=datetime.now(UTC))
    wait_for(lambda: during.external_id in cases(engine), what="the post made during the pause")
    assert desk.search.returned.count(missed.external_id) == 1  # from the rule's own cursor: not read again


def test_a_stream_that_drops_right_after_connecting_backs_off(engine):
    """Some streams tick as soon as they connect: ticks alone do not make a connection good, or a
    stream that keeps dropping at once would be retried at the first wait for ever."""
    desk = Desk(engine, wait=None)  # the worker's own backoff
    try:
        add_rule(engine, "acme")
        desk.start()
        for _ in range(3):
            wait_for(desk.stream.live.is_set, what="a connection")
            time.sleep(0.3)  # a few ticks
            connections = desk.stream.connections
            desk.stream.drop()
            wait_for(lambda: desk.stream.connections > connections, timeout=30, what="the reconnect")
        failures = [n for kind, n in desk.stream.waits if kind is SourceUnavailable]
        assert failures == [1, 2, 3]
    finally:
        desk.worker.stop()


def test_only_the_replica_holding_the_stream_tells_the_network_its_rules(engine):
    holder, other = Desk(engine), Desk(engine)
    try:
        add_rule(engine, "acme")
        holder.start()
        other.worker.start()
        time.sleep(1.0)  # the other replica has looked for its lease and the rules a few times
        assert other.stream.tracked == [] and other.stream.connections == 0
        assert [r.rule_id for r in holder.stream.tracked[-1]] == [1]
    finally:
        other.worker.stop()
        holder.worker.stop()
