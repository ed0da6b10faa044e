"""FakeStreaming, checked with a plain WebSocket client (not our stream): authorization, the
multiplexed subscribe / unsubscribe per stream, the events and their shapes, and the faults."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from websockets.exceptions import ConnectionClosedError, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from socialdesk.networks.mastodon.fake.rest import FakeMastodon
from socialdesk.networks.mastodon.fake.streaming import FakeStreaming
from socialdesk.networks.mastodon.fake.world import MastodonWorld

TOKEN = "brand-token"


@pytest.fixture
def fake() -> Iterator[FakeMastodon]:
    with FakeMastodon() as server:
        yield server


def _connect(fake: FakeMastodon, query: str = "", *, token: str | None = TOKEN) -> ClientConnection:
    headers = {"Authorization": f"Bearer {token}"} if token else None
    return connect(f"{fake.streaming.url}/api/v1/streaming" + (f"?{query}" if query else ""),
                   additional_headers=headers, open_timeout=5)


def _subscribe(fake: FakeMastodon, ws: ClientConnection, stream: str, tag: str | None = None) -> None:
    ws.send(json.dumps({"type": "subscribe", "stream": stream, **({"tag": tag} if tag else {})}))
    assert fake.streaming.wait_for_subscription(stream, tag, timeout=5)


def _read(ws: ClientConnection, count: int) -> list[dict]:
    return [json.loads(ws.recv(timeout=5)) for _ in range(count)]


def _nothing_more(ws: ClientConnection, wait: float = 0.15) -> bool:
    try:
        ws.recv(timeout=wait)
    except TimeoutError:
        return True
    return False


def test_hashtag_and_public_subscriptions_carry_updates(fake: FakeMastodon) -> None:
    ann = fake.world.add_account("ann", domain="other.example")
    with _connect(fake) as ws:
        _subscribe(fake, ws, "hashtag", "AcmePhones")
        fake.world.add_status(ann, "no tag here")
        status = fake.world.add_status(ann, "my #acmephones died")
        [event] = _read(ws, 1)
        assert list(event) == ["stream", "event", "payload"]
        assert event["stream"] == ["hashtag", "AcmePhones"] and event["event"] == "update"  # the tag as sent
        assert isinstance(event["payload"], str)
        assert json.loads(event["payload"]) == fake.world.status_view(status["id"])
        _subscribe(fake, ws, "public")
        fake.world.add_status(ann, "#acmephones again")
        both = _read(ws, 2)  # once per subscribed stream that carries it
        assert sorted(e["stream"][0] for e in both) == ["hashtag", "public"]
        assert len({json.loads(e["payload"])["id"] for e in both}) == 1
        fake.world.add_status(ann, "#acmephones quietly", visibility="unlisted")  # never on public streams
        assert _nothing_more(ws)


def test_edits_deletes_and_unsubscribe(fake: FakeMastodon) -> None:
    ann = fake.world.add_account("ann")
    with _connect(fake, "stream=hashtag&tag=acme") as ws:  # a first subscription on the URL
        status = fake.world.add_status(ann, "#acme one")
        assert _read(ws, 1)[0]["event"] == "update"
        fake.world.edit_status(status["id"], "#acme one, edited")
        [edit] = _read(ws, 1)
        assert edit["event"] == "status.update" and json.loads(edit["payload"])["edited_at"]
        fake.world.delete_status(status["id"])
        [delete] = _read(ws, 1)
        assert delete == {"stream": ["hashtag", "acme"], "event": "delete", "payload": status["id"]}
        ws.send(json.dumps({"type": "unsubscribe", "stream": "hashtag", "tag": "acme"}))
        ws.send(json.dumps({"type": "subscribe", "stream": "public:local"}))  # processed in order, after it
        assert fake.streaming.wait_for_subscription("public:local")
        assert fake.streaming.subscriptions() == [[("public:local", None)]]
        fake.world.add_status(ann, "#acme two")
        assert [e["stream"] for e in _read(ws, 1)] == [["public:local"]]
        assert _nothing_more(ws)


def test_notifications_reach_user_notification_only(fake: FakeMastodon) -> None:
    ann = fake.world.add_account("ann", domain="other.example")
    with _connect(fake) as ws:
        _subscribe(fake, ws, "user:notification")
        fake.world.add_status(ann, "#acme not for us")
        mention = fake.world.add_status(ann, "@acmecare@mastodon.example help", visibility="direct")
        [event] = _read(ws, 1)
        assert event["stream"] == ["user:notification"] and event["event"] == "notification"
        notification = json.loads(event["payload"])
        assert notification == fake.world.notifications[-1]
        assert notification["type"] == "mention" and notification["status"]["id"] == mention["id"]
        fake.world.delete_status(mention["id"])  # deletes go to timelines, not to notifications
        assert _nothing_more(ws)


def test_bad_messages_get_mastodon_errors(fake: FakeMastodon) -> None:
    with _connect(fake) as ws:
        ws.send(json.dumps({"type": "subscribe", "stream": "firehose"}))
        assert json.loads(ws.recv(timeout=5)) == {"error": "Unknown stream type", "status": 400}
        ws.send(json.dumps({"type": "subscribe", "stream": "hashtag"}))
        assert json.loads(ws.recv(timeout=5))["status"] == 400
        ws.send("not json")  # ignored
        assert _nothing_more(ws)
    records = fake.streaming.connections
    assert records[0].messages[0] == {"type": "subscribe", "stream": "firehose"} and records[0].auth == "header"


def test_the_token_is_required_in_any_of_its_three_places(fake: FakeMastodon) -> None:
    for token in (None, "wrong"):
        with pytest.raises(InvalidStatus) as refused:
            _connect(fake, token=token)
        assert refused.value.response.status_code == 401
    with connect(f"{fake.streaming.url}/api/v1/streaming?access_token={TOKEN}", open_timeout=5):
        pass
    with connect(f"{fake.streaming.url}/api/v1/streaming", subprotocols=[TOKEN], open_timeout=5) as ws:
        assert ws.subprotocol == TOKEN
    assert [r.auth for r in fake.streaming.connections] == ["", "header", "query", "protocol"]
    with pytest.raises(InvalidStatus) as wrong_path:
        connect(f"{fake.streaming.url}/api/v1/streaming/firehose",
                additional_headers={"Authorization": f"Bearer {TOKEN}"}, open_timeout=5)
    assert wrong_path.value.response.status_code == 400
    assert httpx.get(f"{fake.streaming.url.replace('ws://', 'http://')}/api/v1/streaming/health").text == "OK"


def test_drop_connections_refuse_and_pause(fake: FakeMastodon) -> None:
    ann = fake.world.add_account("ann")
    with _connect(fake) as ws:
        _subscribe(fake, ws, "public")
        assert fake.streaming.drop_connections() == 1
        with pytest.raises(ConnectionClosedError) as closed:
            ws.recv(timeout=5)
        assert closed.value.rcvd is None  # abrupt: no close frame
    fake.streaming.refuse(503, times=2)
    for _ in range(2):
        with pytest.raises(InvalidStatus) as refused:
            _connect(fake)
        assert refused.value.response.status_code == 503
    with _connect(fake, "stream=public") as ws:
        assert fake.streaming.live_connections == 1
        fake.streaming.pause()
        fake.world.add_status(ann, "while paused")
        assert _nothing_more(ws)
        ws.ping().wait(5)  # still alive
        fake.streaming.resume()
        assert json.loads(_read(ws, 1)[0]["payload"])["content"] == "<p>while paused</p>"
        assert fake.streaming.send_raw("{broken") == 1 and ws.recv(timeout=5) == "{broken"
    assert [r.refused for r in fake.streaming.connections] == [None, 503, 503, None]
    assert fake.streaming.wait_for_connections(4, timeout=1)


def test_a_streaming_server_on_its_own_world() -> None:
    world = MastodonWorld(brand_token="other-token")
    headers = {"Authorization": "Bearer other-token"}
    with FakeStreaming(world) as streaming, \
            connect(f"{streaming.url}/api/v1/streaming?stream=user", open_timeout=5, additional_headers=headers) as ws:
        world.add_status(world.brand, "our own post")  # the brand's statuses reach its user stream
        assert _read(ws, 1)[0]["stream"] == ["user"]
