"""FakeJetstream, checked with a plain WebSocket client (not our stream): replay from a
cursor, filters, live publishing, time_us assignment and the injected faults."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator

import pytest
from websockets.exceptions import ConnectionClosedError, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from socialdesk.networks.bluesky.fake.jetstream import (
    FakeJetstream,
    delete_commit,
    golden_events,
    post_commit,
)

DID = "did:plc:q235v55g5unth4zjjdpacfdr"


@pytest.fixture
def fake() -> Iterator[FakeJetstream]:
    with FakeJetstream() as server:
        yield server


def _connect(fake: FakeJetstream, query: str = "") -> ClientConnection:
    return connect(fake.url + (f"?{query}" if query else ""), compression=None, open_timeout=5)


def _read(ws: ClientConnection, count: int) -> list[dict]:
    return [json.loads(ws.recv(timeout=5)) for _ in range(count)]


def _nothing_more(ws: ClientConnection, wait: float = 0.3) -> bool:
    try:
        ws.recv(timeout=wait)
    except TimeoutError:
        return True
    return False


def test_golden_file_is_the_verbatim_capture() -> None:
    events = golden_events()
    assert len(events) == 10
    kinds = [e["kind"] for e in events]
    assert kinds.count("commit") == 8 and "identity" in kinds and "account" in kinds
    assert events[1]["commit"]["record"]["text"] == "Try RSV for a good time !!"


def test_retimed_golden_keeps_spacing_and_ends_now() -> None:
    original, retimed = golden_events(), golden_events(retime=True, now_us=2_000_000_000_000_000)
    assert max(e["time_us"] for e in retimed) == 2_000_000_000_000_000
    shifts = {r["time_us"] - o["time_us"] for o, r in zip(original, retimed, strict=True)}
    assert len(shifts) == 1


def test_cursor_replays_newer_events_in_time_order() -> None:
    with FakeJetstream(golden=True, retime=False) as fake:
        times = sorted(e["time_us"] for e in golden_events())
        with _connect(fake, "cursor=0") as ws:
            assert [e["time_us"] for e in _read(ws, 10)] == times
            assert _nothing_more(ws)
        with _connect(fake, f"cursor={times[4]}") as ws:  # strictly newer than the cursor
            assert [e["time_us"] for e in _read(ws, 5)] == times[5:]
            assert _nothing_more(ws)


def test_no_cursor_starts_at_the_live_tip(fake: FakeJetstream) -> None:
    fake.publish(post_commit(DID, "old", "before we connected"))
    with _connect(fake) as ws:
        fake.publish(post_commit(DID, "new", "after"))
        assert _read(ws, 1)[0]["commit"]["rkey"] == "new"


def test_wanted_collections_filter_commits_only() -> None:
    with FakeJetstream(golden=True) as fake:
        with _connect(fake, "cursor=0&wantedCollections=app.bsky.feed.post") as ws:
            got = _read(ws, 3)
            assert _nothing_more(ws)
        assert sorted(e["kind"] for e in got) == ["account", "commit", "identity"]
        with _connect(fake, "cursor=0&wantedCollections=app.bsky.graph.*") as ws:
            got = _read(ws, 4)
            assert _nothing_more(ws)
        assert sorted(e["commit"]["collection"] for e in got if e["kind"] == "commit") == [
            "app.bsky.graph.block", "app.bsky.graph.follow"]


def test_wanted_dids_filter_every_kind() -> None:
    with FakeJetstream(golden=True) as fake:
        with _connect(fake, "cursor=0&wantedDids=did:plc:g4ut2w5755qxi3fe7mfs72p4") as ws:
            got = _read(ws, 2)
            assert _nothing_more(ws)
    assert [e["kind"] for e in got] == ["identity", "account"]


def test_publish_assigns_strictly_increasing_time_us(fake: FakeJetstream) -> None:
    event = post_commit(DID, "a", "hello")
    first = fake.publish(event)
    assert "time_us" not in event  # the caller's dict is not touched
    older = fake.publish(post_commit(DID, "b", "older", time_us=5))
    future = first["time_us"] + 60_000_000
    newer = fake.publish(post_commit(DID, "c", "newer", time_us=future))
    after = fake.publish(delete_commit(DID, "a"))
    assert first["time_us"] < older["time_us"] < newer["time_us"] < after["time_us"]
    assert newer["time_us"] == future  # a newer time_us is kept as given


def test_concurrent_publishers_reach_a_client_in_time_order(fake: FakeJetstream) -> None:
    with _connect(fake) as ws:
        threads = [threading.Thread(target=lambda n=n: [fake.publish(post_commit(DID, f"{n}-{i}", "x"))
                                                       for i in range(50)]) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        got = _read(ws, 200)
    times = [e["time_us"] for e in got]
    assert times == sorted(set(times))
    assert {e["commit"]["rkey"] for e in got} == {f"{n}-{i}" for n in range(4) for i in range(50)}


def test_refuse_answers_handshakes_with_the_status(fake: FakeJetstream) -> None:
    fake.refuse(503, times=2)
    for _ in range(2):
        with pytest.raises(InvalidStatus) as refused:
            _connect(fake)
        assert refused.value.response.status_code == 503
    with _connect(fake, "wantedCollections=app.bsky.feed.post&cursor=12") as ws:
        fake.publish(post_commit(DID, "a", "through"))
        assert _read(ws, 1)[0]["commit"]["rkey"] == "a"
    records = fake.connections
    assert [r.refused for r in records] == [503, 503, None]
    assert records[2].query["wantedCollections"] == ["app.bsky.feed.post"] and records[2].cursor == 12


def test_other_paths_are_not_found(fake: FakeJetstream) -> None:
    with pytest.raises(InvalidStatus) as refused:
        connect(fake.url.replace("/subscribe", "/firehose"), open_timeout=5)
    assert refused.value.response.status_code == 404


def test_drop_connections_cuts_clients_without_a_close_frame(fake: FakeJetstream) -> None:
    with _connect(fake) as ws:
        fake.publish(post_commit(DID, "a", "x"))
        _read(ws, 1)
        assert fake.drop_connections() == 1
        with pytest.raises(ConnectionClosedError) as closed:
            ws.recv(timeout=5)
        assert closed.value.rcvd is None  # abrupt: no close frame came
    # The fake still takes new connections and replays what the dropped one missed.
    fake.publish(post_commit(DID, "b", "y"))
    with _connect(fake, "cursor=0") as ws:
        assert [e["commit"]["rkey"] for e in _read(ws, 2)] == ["a", "b"]


def test_pause_goes_silent_and_resume_sends_what_queued(fake: FakeJetstream) -> None:
    with _connect(fake) as ws:
        fake.pause()
        fake.publish(post_commit(DID, "a", "x"))
        assert _nothing_more(ws, 0.5)
        ws.ping().wait(5)  # still alive: pings are answered while paused
        fake.resume()
        assert _read(ws, 1)[0]["commit"]["rkey"] == "a"


def test_publish_raw_sends_text_as_is(fake: FakeJetstream) -> None:
    with _connect(fake) as ws:
        fake.publish_raw("{not json")
        assert ws.recv(timeout=5) == "{not json"


def test_wait_for_connections_counts_handshakes(fake: FakeJetstream) -> None:
    assert not fake.wait_for_connections(1, timeout=0.1)
    with _connect(fake):
        assert fake.wait_for_connections(1, timeout=5)
        deadline = time.monotonic() + 5
        while fake.live_connections != 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert fake.live_connections == 1
