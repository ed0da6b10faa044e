"""The stream worker with Mastodon's stream (subscriptions, a REST replay, ticks) against the fake instance."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlmodel import select

from socialdesk.config import Settings
from socialdesk.jobs.poll import Poller
from socialdesk.jobs.stream import StreamWorker
from socialdesk.networks import registry
from socialdesk.networks.mastodon.api import MastodonApi
from socialdesk.networks.mastodon.fake.rest import FakeMastodon
from socialdesk.networks.mastodon.parse import snowflake_at
from socialdesk.networks.mastodon.streaming import MastodonStream
from socialdesk.networks.mastodon.threads import Threads
from socialdesk.store import rules as rule_store
from socialdesk.store import streams as stream_store
from socialdesk.store.credentials import DatabaseCredentials
from socialdesk.store.db import session_scope
from socialdesk.store.models import PostRow
from tests.support.waiting import wait_for


def now() -> datetime:
    return datetime.now(UTC)


class WorldClock:
    """The fake instance's clock: real time, or set back (its ids are times, as Mastodon's are)."""

    def __init__(self) -> None:
        self.back = timedelta(0)

    def __call__(self) -> datetime:
        return now() - self.back


@pytest.fixture
def world_clock() -> WorldClock:
    return WorldClock()


@pytest.fixture
def fake(world_clock: WorldClock) -> Iterator[FakeMastodon]:
    world_clock.back = timedelta(hours=1, minutes=1)  # the accounts are older than the gap
    with FakeMastodon(clock=world_clock) as server:
        world_clock.back = timedelta(0)
        yield server


@pytest.fixture
def worker_for(engine, fake) -> Iterator[Callable[..., tuple[StreamWorker, Poller]]]:  # type: ignore[no-untyped-def]
    """A worker over the network as app.build makes it, its stream with these options; and its poller."""
    http = httpx.Client(timeout=5)
    made: list[StreamWorker] = []

    def make(**options) -> tuple[StreamWorker, Poller]:  # type: ignore[no-untyped-def]
        settings = Settings(_env_file=None, SOCIALDESK_MASTODON_URL=fake.url,
                            SOCIALDESK_MASTODON_TOKEN=fake.world.brand_token)
        network = registry.build(settings, http=http, clock=now,
                                 credentials=lambda name: DatabaseCredentials(engine, name))["mastodon"]
        api = MastodonApi(http, fake.url, fake.world.brand_token)
        network.stream = MastodonStream(api, Threads(api), http_get=http.get, **options)
        poller = Poller(engine=engine, networks={"mastodon": network}, own_handles=frozenset(), clock=now)
        made.append(StreamWorker(engine=engine, network=network, poller=poller, clock=now))
        made[-1].start()
        return made[-1], poller

    yield make
    for worker in made:
        worker.stop()
    http.close()


def add_rule(engine, query: str, *, polled_at: datetime | None = None) -> int:  # type: ignore[no-untyped-def]
    with session_scope(engine) as session:
        rule = rule_store.add_rule(session=session, network="mastodon", query=query, channel_id="C1",
                                   every_seconds=60, lang=None, include_reposts=False, now=now())
        if polled_at is not None:  # its newest page was taken then
            rule_store.save_cursor(session=session, rule_id=rule.id, cursor={"tags": {}}, not_before=None,
                                   now=polled_at)
        return rule.id


def stored(engine) -> dict[str, int | None]:  # type: ignore[no-untyped-def]
    with session_scope(engine) as session:
        return {p.external_id: p.case_id for p in session.exec(select(PostRow))}


def test_a_gap_longer_than_the_replay_is_searched_from_where_the_stream_stopped(engine, fake, worker_for,
                                                                              world_clock):
    dropped = now() - timedelta(hours=1)
    add_rule(engine, "#acmephones", polled_at=dropped)
    with session_scope(engine) as session:  # the stream stopped an hour ago, its cursor stored then
        stream_store.take_lease(session=session, network="mastodon", holder="gone", now=dropped, seconds=30)
        stream_store.save_cursor(session=session, network="mastodon", holder="gone",
                                 cursor={"since_id": snowflake_at(dropped)}, now=dropped)
        stream_store.release_lease(session=session, network="mastodon", holder="gone")
    world_clock.back = timedelta(hours=1)
    ann = fake.world.add_account("ann", "Ann", domain="other.example")
    missed = [fake.world.add_status(ann, f"#acmephones missed {i}")["id"] for i in range(45)]  # > the replay's page
    world_clock.back = timedelta(0)
    worker_for(replay_pages=1, tick_seconds=0.2)
    wait_for(lambda: set(missed) <= set(stored(engine)), timeout=30, what="every post of the gap")
    assert all(stored(engine)[m] is not None for m in missed)
    live = fake.world.add_status(ann, "#acmephones after the gap")
    wait_for(lambda: live["id"] in stored(engine), timeout=20, what="live posts after the gap was filled")


def test_a_kept_reply_joins_its_case_on_a_quiet_stream(engine, fake, worker_for, monkeypatch):
    """A case opened elsewhere just after its customer's reply streamed by; nothing else is posted."""
    monkeypatch.setattr("socialdesk.jobs.stream_watch.WATCH_SECONDS", 0.5)
    add_rule(engine, "zzzunused", polled_at=now())  # a keyword rule: the public stream is read
    worker, poller = worker_for(tick_seconds=0.2)
    assert fake.streaming.wait_for_subscription("public", timeout=10)
    ann = fake.world.add_account("ann", "Ann", domain="other.example")
    root = fake.world.add_status(ann, "my phone will not charge")
    reply = fake.world.add_status(ann, "tried another cable, same thing", reply_to=root["id"])
    wait_for(lambda: worker.events_seen >= 2, timeout=10, what="both posts at the worker")
    poller.poll_rule(add_rule(engine, "charge"))  # as another replica's new rule takes its newest page
    assert root["id"] in stored(engine) and reply["id"] not in stored(engine)
    wait_for(lambda: reply["id"] in stored(engine), timeout=10, what="the kept reply, on ticks alone")
    posts = stored(engine)
    assert posts[reply["id"]] == posts[root["id"]] is not None


BROKEN_HTML = '<p><a href="https://other.example/tags/acmephones" class="hashtag">#acmephones</a> is <![ broken</p>'


def stream_cursor(engine) -> dict | None:  # type: ignore[no-untyped-def]
    with session_scope(engine) as session:
        state = stream_store.stream_state(session=session, network="mastodon")
        return state.cursor if state is not None else None


def test_a_status_whose_markup_the_parser_rejects_is_read_and_the_stream_goes_on(engine, fake, worker_for):
    """QA's poison: BeautifulSoup raised ParserRejectedMarkup (no skip caught it); the stream crash-looped,
    each reconnect's replay reading it again."""
    add_rule(engine, "#acmephones", polled_at=now())
    worker_for(tick_seconds=0.2)
    assert fake.streaming.wait_for_subscription("hashtag", "acmephones", timeout=10)
    ann = fake.world.add_account("ann", "Ann", domain="other.example")
    before = fake.world.add_status(ann, "#acmephones first")["id"]
    wait_for(lambda: before in stored(engine), timeout=10, what="the status before")
    broken = fake.world.add_status(ann, "#acmephones is broken", html=BROKEN_HTML)["id"]
    after = fake.world.add_status(ann, "#acmephones my screen cracked")["id"]
    wait_for(lambda: after in stored(engine), timeout=15, what="the status after")
    wait_for(lambda: stream_cursor(engine) == {"since_id": after}, timeout=10, what="the cursor past both")
    assert set(stored(engine)) == {before, broken, after}
    with session_scope(engine) as session:
        assert session.exec(select(PostRow.text).where(PostRow.external_id == broken)).one() == \
            "#acmephones is <![ broken"
    assert len(fake.streaming.connections) == 1


def test_a_status_the_replay_cannot_read_is_skipped_and_the_rest_is_replayed(engine, fake, worker_for):
    """The replay after a (re)connect read statuses with no skip at all: one bad one ended every connection."""
    dropped = now() - timedelta(minutes=5)
    add_rule(engine, "#acmephones", polled_at=dropped)
    with session_scope(engine) as session:  # the stream stopped five minutes ago, its cursor stored then
        stream_store.take_lease(session=session, network="mastodon", holder="gone", now=dropped, seconds=30)
        stream_store.save_cursor(session=session, network="mastodon", holder="gone",
                                 cursor={"since_id": snowflake_at(dropped)}, now=dropped)
        stream_store.release_lease(session=session, network="mastodon", holder="gone")
    ann = fake.world.add_account("ann", "Ann", domain="other.example")
    before = fake.world.add_status(ann, "#acmephones before")["id"]
    wrong = fake.world.add_status(ann, "#acmephones of the wrong shape")["id"]
    fake.world.statuses[wrong]["in_reply_to_id"] = ["1"]  # an id is a string (or a number)
    after = fake.world.add_status(ann, "#acmephones after")["id"]
    worker_for(tick_seconds=0.2)
    wait_for(lambda: {before, after} <= set(stored(engine)), timeout=15, what="the statuses around it, replayed")
    live = fake.world.add_status(ann, "#acmephones live")["id"]
    wait_for(lambda: stream_cursor(engine) == {"since_id": live}, timeout=10, what="the cursor past it")
    assert set(stored(engine)) == {before, after, live}
    assert len(fake.streaming.connections) == 1
