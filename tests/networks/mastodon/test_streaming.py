"""MastodonStream against the fake instance's REST and streaming servers (real HTTP and WebSocket)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from socialdesk.networks.base import CursorExpired, SourceRejected, SourceUnavailable, StreamEvent, TrackedRule
from socialdesk.networks.mastodon.api import MastodonApi
from socialdesk.networks.mastodon.fake.rest import FakeMastodon
from socialdesk.networks.mastodon.parse import snowflake_at
from socialdesk.networks.mastodon.streaming import MastodonStream, subscriptions_for
from socialdesk.networks.mastodon.threads import Threads
from tests.networks.contract_support import StreamReader

HASHTAG = TrackedRule("search", "#acmephones")


@pytest.fixture
def fake() -> Iterator[FakeMastodon]:
    with FakeMastodon() as server:
        yield server


def stream_of(fake: FakeMastodon, http: httpx.Client, *rules: TrackedRule, token: str | None = None,
              **options) -> MastodonStream:  # type: ignore[no-untyped-def]
    api = MastodonApi(http, fake.url, token or fake.world.brand_token)
    stream = MastodonStream(api, Threads(api), http_get=http.get, tick_seconds=0.2, **options)
    stream.track(list(rules) or [HASHTAG])
    return stream


@pytest.fixture
def reading() -> Iterator[list[tuple[MastodonStream, StreamReader]]]:
    opened: list[tuple[MastodonStream, StreamReader]] = []
    yield opened
    for stream, reader in opened:
        stream.close()
        reader.join()


def read(reading, stream: MastodonStream, cursor=None) -> StreamReader:  # type: ignore[no-untyped-def]
    reader = StreamReader(stream, cursor)
    reading.append((stream, reader))
    assert reader.wait_connected(), f"the stream did not connect: {reader.error!r}"
    return reader


def posts(events: list[StreamEvent]) -> list[str]:
    return [e.post.external_id for e in events if e.kind == "post" and e.post is not None]


def test_rules_become_subscriptions():
    assert subscriptions_for([HASHTAG, TrackedRule("mentions", "123"), TrackedRule("search", "#acme OR #AcmePhones")]) \
        == {("hashtag", "acmephones"), ("hashtag", "acme"), ("user:notification",)}
    assert subscriptions_for([TrackedRule("search", "#acme refund -giveaway")]) == {("hashtag", "acme")}
    assert subscriptions_for([TrackedRule("search", "acme broken")]) == {("public",)}
    assert subscriptions_for([TrackedRule("search", "#acme OR refund")]) == {("hashtag", "acme"), ("public",)}
    assert subscriptions_for([TrackedRule("search", "((")]) == set()  # unreadable: its poll says why
    assert subscriptions_for([]) == set()


def test_a_hashtag_post_and_a_mention_arrive_live_and_nothing_else(fake, http, reading):
    stream = stream_of(fake, http, HASHTAG, TrackedRule("mentions", fake.world.brand.id))
    reader = read(reading, stream)
    assert fake.streaming.wait_for_subscription("hashtag", "acmephones")
    assert fake.streaming.wait_for_subscription("user:notification")
    ann = fake.world.add_account("ann", "Ann", domain="other.example", followers=77)
    fake.world.add_status(ann, "lovely weather")  # public only: not subscribed
    tagged = fake.world.add_status(ann, "my #AcmePhones X3 will not charge")
    mention = fake.world.add_status(ann, "@acmecare help, the screen is black")
    got = reader.read_until({tagged["id"], mention["id"]})
    assert posts(got) == [tagged["id"], mention["id"]]
    by_id = {e.post.external_id: e for e in got if e.post is not None}
    assert by_id[tagged["id"]].mention_of is None
    assert by_id[mention["id"]].mention_of == fake.world.brand.id
    post = by_id[tagged["id"]].post
    assert post.network == "mastodon" and post.author.handle == "ann@other.example" and post.author.followers == 77
    assert "#AcmePhones" in post.text and "<" not in post.text
    assert post.conversation_id == tagged["id"]


def test_edits_and_deletes_come_as_updates_and_deletes(fake, http, reading):
    reader = read(reading, stream_of(fake, http))
    assert fake.streaming.wait_for_subscription("hashtag", "acmephones")
    ann = fake.world.add_account("ann", "Ann")
    status = fake.world.add_status(ann, "#acmephones my X3 is dead")
    assert posts(reader.read_until({status["id"]})) == [status["id"]]
    fake.world.edit_status(status["id"], "#acmephones my X3 is dead, and the charger too")
    fake.world.delete_status(status["id"])
    events = []
    while not any(e.kind == "delete" for e in events):
        more = reader.read_until({"never"}, timeout=1)
        assert more, "no delete came"
        events += [e for e in more if e.kind != "tick"]
    assert [e.kind for e in events] == ["update", "delete"]
    assert "and the charger too" in events[0].post.text
    assert events[1].external_id == status["id"]


def test_a_dropped_stream_replays_what_it_missed_from_rest_once(fake, http, reading):
    stream = stream_of(fake, http, HASHTAG, TrackedRule("mentions", fake.world.brand.id))
    first = read(reading, stream)
    assert fake.streaming.wait_for_subscription("user:notification")
    ann = fake.world.add_account("ann", "Ann", domain="other.example")
    before = fake.world.add_status(ann, "#acmephones one")
    [handled] = [e for e in first.read_until({before["id"]}) if e.post is not None]
    stored = json.loads(json.dumps(handled.cursor))
    fake.streaming.drop_connections()
    assert first.join() and isinstance(first.error, SourceUnavailable)
    missed = [fake.world.add_status(ann, f"#acmephones missed {i}") for i in range(45)]  # more than a page
    mention = fake.world.add_status(ann, "@acmecare are you there?")
    resumed = read(reading, stream, stored)
    assert resumed.started == [stored]
    after = fake.world.add_status(ann, "#acmephones after")
    wanted = {m["id"] for m in missed} | {mention["id"], after["id"]}
    got = resumed.read_until(wanted, timeout=10)
    ids = posts(got)
    assert wanted <= set(ids)
    replayed = [e for e in got if e.post is not None and e.post.external_id in {m["id"] for m in missed}]
    assert [e.post.external_id for e in replayed] == [m["id"] for m in missed]  # oldest first, once each
    assert all(e.cursor == stored for e in replayed), "a replayed post moved the cursor past the gap"
    assert [e.mention_of for e in got if e.post is not None and e.post.external_id == mention["id"]] \
        == [fake.world.brand.id]
    assert ids.count(after["id"]) == 1


def test_a_gap_longer_than_the_replay_reads_is_left_to_the_searches(fake, http, reading):
    stream = stream_of(fake, http, replay_pages=1)
    ann = fake.world.add_account("ann", "Ann")
    since = {"since_id": snowflake_at(datetime.now(UTC) - timedelta(seconds=5))}
    for i in range(45):
        fake.world.add_status(ann, f"#acmephones {i}")
    reader = StreamReader(stream, since)
    reading.append((stream, reader))
    assert reader.join(10)
    assert isinstance(reader.error, CursorExpired)
    assert not stream.is_stale(since)
    assert stream.is_stale({"since_id": snowflake_at(datetime.now(UTC) - timedelta(days=2))})


def test_rules_that_change_while_connected_change_the_subscriptions(fake, http, reading):
    stream = stream_of(fake, http)
    reader = read(reading, stream)
    assert fake.streaming.wait_for_subscription("hashtag", "acmephones")
    ticks = [e for e in reader.read_until({"never"}, timeout=0.7) if e.kind == "tick"]
    assert ticks, "a quiet stream sent no ticks"
    stream.track([TrackedRule("search", "#acme")])  # the worker calls it from the reading thread; any will do
    assert fake.streaming.wait_for_subscription("hashtag", "acme")
    ann = fake.world.add_account("ann", "Ann")
    old = fake.world.add_status(ann, "#acmephones still here?")
    new = fake.world.add_status(ann, "#acme hello")
    got = posts(reader.read_until({new["id"]}))
    assert new["id"] in got and old["id"] not in got


def test_a_reply_in_a_thread_has_the_thread_root_as_its_conversation(fake, http, reading):
    reader = read(reading, stream_of(fake, http))
    assert fake.streaming.wait_for_subscription("hashtag", "acmephones")
    ann = fake.world.add_account("ann", "Ann")
    root = fake.world.add_status(ann, "no tag here")
    middle = fake.world.add_status(fake.world.brand, "@ann what happened?", reply_to=root["id"])
    reply = fake.world.add_status(ann, "#acmephones it fell", reply_to=middle["id"])
    [event] = [e for e in reader.read_until({reply["id"]}) if e.post is not None]
    assert (event.post.conversation_id, event.post.in_reply_to_id) == (root["id"], middle["id"])


def test_a_refused_token_an_unhealthy_server_and_malformed_messages(fake, http, reading):
    with pytest.raises(SourceRejected, match="SOCIALDESK_MASTODON_TOKEN"):
        next(stream_of(fake, http, token="wrong").events(None))
    fake.streaming.refuse(503)
    with pytest.raises(SourceUnavailable, match="503"):
        next(stream_of(fake, http).events(None))
    fake.streaming.unhealthy = True
    connections = len(fake.streaming.connections)
    with pytest.raises(SourceUnavailable, match="not healthy"):
        next(stream_of(fake, http).events(None))
    assert len(fake.streaming.connections) == connections, "connected to a server that said it is not healthy"
    fake.streaming.unhealthy = False
    stream = stream_of(fake, http)
    reader = read(reading, stream)
    assert fake.streaming.wait_for_subscription("hashtag", "acmephones")
    for raw in ("not json", '{"event": "update", "payload": "{broken"}', '{"event": "update"}', "[]",
                '{"event": "notification", "payload": "{\\"type\\": \\"follow\\"}"}'):
        fake.streaming.send_raw(raw)
    ann = fake.world.add_account("ann", "Ann")
    good = fake.world.add_status(ann, "#acmephones still works")
    assert posts(reader.read_until({good["id"]})) == [good["id"]]
    reader.read_until({"never"}, timeout=0.5)  # the good post may have come by REST before the live messages
    assert stream.skipped == 4 and reader.error is None  # the follow notification is no error: it is not for us
