"""JetstreamStream against FakeJetstream (a real local WebSocket server) and the captured
golden events: what each message becomes, resuming with the rewind, and the errors."""

from __future__ import annotations

import copy
import json
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import closing
from datetime import UTC, datetime, timedelta

import pytest

from socialdesk.domain import Post
from socialdesk.networks.base import (
    CursorExpired,
    RateLimited,
    SourceRejected,
    SourceUnavailable,
    StreamEvent,
)
from socialdesk.networks.bluesky.fake.jetstream import (
    FakeJetstream,
    delete_commit,
    golden_events,
    post_commit,
)
from socialdesk.networks.bluesky.jetstream import (
    REWIND,
    JetstreamStream,
    MalformedMessage,
    cursor_is_stale,
    decode_message,
    rewind_cursor,
)

REWIND_US = int(REWIND.total_seconds() * 1_000_000)
DID = "did:plc:q235v55g5unth4zjjdpacfdr"
POST_URI = f"at://{DID}/app.bsky.feed.post/3mmoojp4cd223"
ROOT_URI = "at://did:plc:j76trmiofvaxxpvx2vnb2vwf/app.bsky.feed.post/3mmojbrjwbs26"


def _as_is(posts: Sequence[Post]) -> list[Post]:
    return list(posts)


def _stream(fake: FakeJetstream, **kwargs) -> JetstreamStream:
    kwargs.setdefault("silence_timeout", 5.0)  # a bounded wait: a hang fails instead of blocking
    return JetstreamStream(fake.url, complete=kwargs.pop("complete", _as_is), **kwargs)


def _take(stream: JetstreamStream, cursor: dict | None, count: int) -> list[StreamEvent]:
    out: list[StreamEvent] = []
    with closing(stream.events(cursor)) as events:
        for event in events:
            out.append(event)
            if len(out) == count:
                break
    return out


@pytest.fixture
def fake() -> Iterator[FakeJetstream]:
    with FakeJetstream() as server:
        yield server


# --- what the captured messages become ----------------------------------------------------


def test_golden_post_with_reply_becomes_a_post_event() -> None:
    decoded = decode_message(json.dumps(golden_events()[1]))
    assert decoded.kind == "post" and decoded.time_us == 1779719009157119
    post = decoded.post
    assert post.external_id == POST_URI and post.network == "bluesky"
    assert post.conversation_id == ROOT_URI and post.in_reply_to_id == ROOT_URI and post.is_reply
    assert post.text == "Try RSV for a good time !!" and post.lang == "en"
    assert post.author.external_id == DID
    assert post.raw["cid"] == "bafyreicl7rzkxdrm4zz2ehbx52kuk3mvfow6p3gzfys72r5grvskxoswy4"
    assert post.created_at == datetime(2026, 5, 25, 14, 23, 28, 757000, tzinfo=UTC)


def test_golden_non_post_events_are_ticks() -> None:
    events = golden_events()
    kinds = {(e["kind"], e.get("commit", {}).get("collection")): decode_message(json.dumps(e)).kind
             for i, e in enumerate(events) if i != 1}
    assert set(kinds.values()) == {"tick"}
    assert ("identity", None) in kinds and ("account", None) in kinds
    assert ("commit", "app.bsky.feed.like") in kinds and ("commit", "app.bsky.feed.repost") in kinds
    assert ("commit", "app.bsky.graph.follow") in kinds
    assert ("commit", "org.hypercerts.claim.activity") in kinds  # a delete, but not of a post


def test_a_post_delete_gives_its_uri_and_an_update_is_an_update() -> None:
    delete = copy.deepcopy(golden_events()[5])  # the captured delete, of another collection
    delete["commit"]["collection"] = "app.bsky.feed.post"
    decoded = decode_message(json.dumps(delete))
    assert decoded.kind == "delete" and decoded.post is None
    assert decoded.external_id == "at://did:plc:3xnadku4kemqnycbweqnvgzx/app.bsky.feed.post/3mmontn3gnc2e"
    update = copy.deepcopy(golden_events()[1])
    update["commit"]["operation"] = "update"
    update["commit"]["record"]["text"] = "edited"
    decoded = decode_message(json.dumps(update))
    assert decoded.kind == "update" and decoded.post.external_id == POST_URI and decoded.post.text == "edited"


@pytest.mark.parametrize("message", [
    "{not json", b"\xff\xfe", "[1, 2]", '"text"', '{"kind": "commit"}',
    '{"time_us": "12", "kind": "identity"}',
    '{"name": "OutdatedCursor", "message": "clamped", "$type": "network.bsky.jetstream.subscribeEvents#info"}',
    '{"did": "did:plc:x", "time_us": 5, "kind": "commit", "commit": "nope"}',
    ('{"did": "did:plc:x", "time_us": 5, "kind": "commit", "commit": {"collection": "app.bsky.feed.post",'
     ' "operation": "create", "rkey": "r"}}'),
    ('{"did": "did:plc:x", "time_us": 5, "kind": "commit", "commit": {"collection": "app.bsky.feed.post",'
     ' "operation": "create", "cid": "c", "record": {"text": "x"}}}'),
    ('{"did": "did:plc:x", "time_us": 5, "kind": "commit", "commit": {"collection": "app.bsky.feed.post",'
     ' "operation": "mangle", "rkey": "r", "cid": "c", "record": {"text": "x"}}}'),
    ('{"did": "did:plc:x", "time_us": 5, "kind": "commit", "commit": {"collection": "app.bsky.feed.post",'
     ' "operation": "create", "rkey": "r", "cid": "c", "record": {"text": "x", "facets": ["bad"]}}}'),
])
def test_malformed_messages_raise_malformed(message: str | bytes) -> None:
    with pytest.raises(MalformedMessage):
        decode_message(message)


def test_the_stream_skips_malformed_messages_and_counts_them(fake: FakeJetstream) -> None:
    stream = _stream(fake)
    no_record = ('{"did": "did:plc:x", "time_us": 9, "kind": "commit", "commit": {'
                 '"collection": "app.bsky.feed.post", "operation": "create", "rkey": "r"}}')
    for text in ("{not json", "[]", no_record):
        fake.publish_raw(text)
    fake.publish(post_commit(DID, "good", "still here"))
    events = _take(stream, {"time_us": 1}, 1)  # replayed from the buffer
    assert [e.kind for e in events] == ["post"] and events[0].post.text == "still here"
    assert stream.skipped == 3 and stream.received == 4


# --- the stream over a connection -------------------------------------------------------


def test_replays_the_golden_events_from_a_cursor_and_asks_for_posts_only() -> None:
    with FakeJetstream(golden=True, retime=False) as fake:
        first = min(e["time_us"] for e in golden_events())
        stream = _stream(fake)
        # The connection asks from first - REWIND: every captured event is newer.
        post, = _take(stream, {"time_us": first - 1 + REWIND_US}, 1)
        assert post.kind == "post" and post.post.conversation_id == ROOT_URI
        record = fake.connections[-1]
        assert record.query["wantedCollections"] == ["app.bsky.feed.post"]
        assert record.cursor == first - 1 and "compress" not in record.query
        # The identity and account events that follow (0.1 s of stream time later) are
        # throttled ticks; a tick comes once TICK_EVERY has passed, carrying the newest time_us.
        later = fake.publish({"did": DID, "kind": "identity", "identity": {"did": DID},
                              "time_us": post.cursor["time_us"] + 6_000_000})
        again, tick = _take(stream, post.cursor, 2)
    assert again.kind == "post" and again.post == post.post  # the rewind replays it: at least once
    assert tick.kind == "tick" and tick.cursor == {"time_us": later["time_us"]}


def test_ticks_are_throttled_and_the_next_event_carries_the_latest_time_us(fake: FakeJetstream) -> None:
    start = fake.publish(post_commit(DID, "first", "x"))["time_us"]
    # 20 s of identity events, one every 100 ms of stream time, then a post.
    identities = [fake.publish({"did": f"did:plc:{i}", "kind": "identity", "time_us": start + (i + 1) * 100_000})
                  for i in range(200)]
    last = fake.publish(post_commit(DID, "second", "y", time_us=identities[-1]["time_us"] + 1))
    events = _take(_stream(fake), {"time_us": start - 1 + REWIND_US}, 5)
    # The replayed first post keeps the stored cursor (start + 5 s): ticks at +10, +15, +20 s.
    assert [e.kind for e in events] == ["post", "tick", "tick", "tick", "post"]
    cursors = [e.cursor["time_us"] - start for e in events]
    assert cursors == [REWIND_US - 1, 10_000_000, 15_000_000, 20_000_000, 20_000_001]
    assert events[-1].cursor == {"time_us": last["time_us"]}


def test_posts_and_their_deletes_over_the_wire(fake: FakeJetstream) -> None:
    fake.publish(post_commit(DID, "a", "oops"))
    fake.publish(delete_commit(DID, "a", collection="app.bsky.feed.like"))  # filtered by the server
    gone = fake.publish(delete_commit(DID, "a"))
    post, delete = _take(_stream(fake), {"time_us": 1}, 2)
    assert post.kind == "post" and delete.kind == "delete"
    assert delete.external_id == post.post.external_id == f"at://{DID}/app.bsky.feed.post/a"
    assert delete.cursor == {"time_us": gone["time_us"]}


def test_the_cursor_never_moves_back(fake: FakeJetstream) -> None:
    base = fake.publish(post_commit(DID, "a", "x"))["time_us"]
    fake.publish(post_commit(DID, "b", "y"))
    stored = {"time_us": base + 10}  # newer than a, older than b: both are replayed
    events = _take(_stream(fake), stored, 2)
    assert [e.post.external_id.rsplit("/", 1)[1] for e in events] == ["a", "b"]
    assert events[0].cursor == stored  # a (older than the stored cursor) does not regress it


def test_resumes_from_its_cursor_after_three_drops_without_losing_a_post(fake: FakeJetstream) -> None:
    stream = _stream(fake)
    expected = {f"at://{DID}/app.bsky.feed.post/p{i:03d}" for i in range(500)}
    drops_at = {120, 250, 400}

    def publish() -> None:
        assert fake.wait_for_connections(1)  # the stream starts at the live tip
        for i in range(500):
            if i in drops_at:  # mid-burst, while the stream is connected
                deadline = time.monotonic() + 10
                while fake.live_connections == 0 and time.monotonic() < deadline:
                    time.sleep(0.001)
                fake.drop_connections()
            fake.publish(post_commit(DID, f"p{i:03d}", f"post {i}"))
            time.sleep(0.001)  # posts keep coming while the stream reconnects

    publisher = threading.Thread(target=publish)
    publisher.start()
    seen: set[str] = set()
    delivered, drops, cursor, resumed_from = 0, 0, None, []
    deadline = time.monotonic() + 60
    while seen != expected and time.monotonic() < deadline:
        try:
            with closing(stream.events(cursor)) as events:
                for event in events:
                    cursor = event.cursor
                    delivered += 1
                    seen.add(event.post.external_id)
                    if seen == expected:
                        break
        except SourceUnavailable:
            drops += 1
            resumed_from.append(cursor["time_us"])
            time.sleep(0.05)  # the worker's backoff: the gap that only the cursor can fill
    publisher.join(timeout=10)
    assert seen == expected
    assert drops == 3 and delivered >= 500  # at least once: the rewind replays some
    assert [c.cursor for c in fake.connections[1:]] == [t - REWIND_US for t in resumed_from]


def test_refused_handshakes(fake: FakeJetstream) -> None:
    stream = _stream(fake)
    for status, error in [(400, SourceRejected), (403, SourceRejected), (404, SourceRejected),
                          (429, RateLimited), (500, SourceUnavailable), (503, SourceUnavailable)]:
        fake.refuse(status)
        with pytest.raises(error) as raised:
            _take(stream, None, 1)
        assert str(status) in str(raised.value)
        if error is not SourceRejected:
            assert not isinstance(raised.value, SourceRejected)
    fake.refuse(400, body='{"error": "CursorTooOld", "message": "floor is 7"}')
    with pytest.raises(CursorExpired):
        _take(stream, {"time_us": 1_700_000_000_000_000}, 1)


def test_connection_refused_is_unavailable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    stream = JetstreamStream(f"ws://127.0.0.1:{port}/subscribe", complete=_as_is, connect_timeout=5)
    with pytest.raises(SourceUnavailable):
        _take(stream, None, 1)


def test_a_dropped_connection_is_unavailable(fake: FakeJetstream) -> None:
    stream = _stream(fake)
    fake.publish(post_commit(DID, "a", "x"))
    with closing(stream.events({"time_us": 1})) as events:
        assert next(events).kind == "post"
        fake.drop_connections()
        with pytest.raises(SourceUnavailable, match="dropped"):
            next(events)


def test_silence_is_unavailable_after_the_timeout(fake: FakeJetstream) -> None:
    fake.pause()
    fake.publish(post_commit(DID, "a", "x"))
    with pytest.raises(SourceUnavailable, match="nothing for 0.3 s"):
        _take(_stream(fake, silence_timeout=0.3), {"time_us": 1}, 1)


def test_close_from_another_thread_ends_iteration(fake: FakeJetstream) -> None:
    stream = _stream(fake, silence_timeout=None)
    outcome: list[object] = []

    def consume() -> None:
        try:
            outcome.append(list(stream.events(None)))
        except Exception as exc:  # noqa: BLE001  # the test reports what happened
            outcome.append(exc)

    consumer = threading.Thread(target=consume, daemon=True)
    consumer.start()
    assert fake.wait_for_connections(1)
    time.sleep(0.1)  # let it block in recv()
    stream.close()
    consumer.join(timeout=10)
    assert not consumer.is_alive() and outcome == [[]]
    assert list(stream.events(None)) == []  # closed for good: no new connection
    assert len(fake.connections) == 1


def test_subscribe_url_carries_filters_and_the_rewound_cursor() -> None:
    stream = JetstreamStream("wss://example.test/subscribe?maxMessageSizeBytes=1000", complete=_as_is,
                             dids=["did:plc:a", "did:plc:b"])
    url = stream.subscribe_url({"time_us": 1_779_719_009_157_119})
    assert url == ("wss://example.test/subscribe?maxMessageSizeBytes=1000&wantedCollections=app.bsky.feed.post"
                   "&wantedDids=did%3Aplc%3Aa&wantedDids=did%3Aplc%3Ab&cursor=1779719004157119")
    assert "cursor" not in stream.subscribe_url(None)
    with pytest.raises(ValueError):
        JetstreamStream("https://example.test/subscribe", complete=_as_is)


def test_rewind_cursor_and_staleness() -> None:
    assert rewind_cursor(None) is None and rewind_cursor({}) is None
    assert rewind_cursor({"time_us": "12"}) is None and rewind_cursor({"time_us": True}) is None
    assert rewind_cursor({"time_us": 1_779_719_009_157_119}) == 1_779_719_009_157_119 - REWIND_US
    now = datetime(2026, 5, 25, 14, 0, tzinfo=UTC)
    now_us = int(now.timestamp() * 1_000_000)
    assert not cursor_is_stale({"time_us": now_us - 3_600_000_000}, now)
    assert cursor_is_stale({"time_us": int((now - timedelta(days=2)).timestamp() * 1_000_000)}, now)
    assert not cursor_is_stale(None, now)


# --- completing authors -----------------------------------------------------------------
