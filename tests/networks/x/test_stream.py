"""XStream against FakeX's filtered stream and recent search, over real local HTTP."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from socialdesk.networks.base import (BilledReads, CursorExpired, RateLimited, SourceRejected, SourceUnavailable, StreamEvent,
                                     TrackedRule)
from socialdesk.networks.x.fake.server import FakeX
from socialdesk.networks.x.parse import snowflake_at, snowflake_time
from socialdesk.networks.x.search import SEARCH_PATH, XSource
from socialdesk.networks.x.stream import REWIND, STREAM_PATH, XStream
from socialdesk.networks.x.stream_lines import MAX_LINE_BYTES, parse_line
from tests.networks.contract_support import StreamReader, post_ids
from tests.support.refs import ref_json

TOKEN = "sandbox-bearer"
ACME, PHONE = TrackedRule("search", "acme", 1), TrackedRule("search", "phone", 2)


@pytest.fixture
def fake() -> Iterator[FakeX]:
    with FakeX(bearer_token=TOKEN) as server:
        server.stream_keepalive_seconds = 0.1
        yield server


@pytest.fixture
def stream(fake: FakeX, http: httpx.Client) -> Iterator[XStream]:
    made = XStream(http=http, api_url=fake.url, bearer_token=TOKEN, tick_seconds=0.1, silence_seconds=1.0)
    made.track([ACME, PHONE])
    yield made
    made.close()


def read(stream: XStream, cursor: dict | None = None) -> StreamReader:
    reader = StreamReader(stream, cursor)
    assert reader.wait_connected(), f"the stream did not connect: {reader.error!r}"
    return reader


def ended(reader: StreamReader) -> BaseException | None:
    """What the stream raised once it ended (it must end)."""
    assert reader.join(), "the stream did not end"
    return reader.error


class HookedReader(StreamReader):
    """A StreamReader that does something the moment the stream says it is connected."""

    def __init__(self, stream: XStream, cursor: dict | None, hook) -> None:  # type: ignore[no-untyped-def]
        self.hook = hook
        super().__init__(stream, cursor)

    def _on_connected(self, cursor: dict) -> None:
        self.hook(cursor)
        super()._on_connected(cursor)


def posts(events: list[StreamEvent]) -> dict[str, StreamEvent]:
    return {e.post.external_id: e for e in events if e.kind == "post" and e.post is not None}


def customer_post(fake: FakeX, text: str, **kw) -> str:  # type: ignore[no-untyped-def]
    return fake.post(username="dana", text=text, **kw)["id"]


# --- one line -------------------------------------------------------------------------------------


def test_a_line_gives_the_post_its_author_and_our_rule_ids_only() -> None:
    line = {"data": {"author_id": "42", "id": "1166916266197536770", "text": "acme &amp; phones",
                     "edit_history_tweet_ids": ["1166916266197536770"]},
            "includes": {"users": [{"id": "42", "name": "Dana", "username": "dana"}]},
            "matching_rules": [{"id": "1166916266197536768", "tag": "socialdesk:3,7"},
                               {"id": "1166916266197536769", "tag": "test-rule-tag-12345"},
                               {"id": "1166916266197536771", "tag": "socialdesk:5"}]}
    decoded = parse_line(json.dumps(line).encode())
    assert decoded is not None and decoded.post is not None
    assert decoded.rule_ids == (3, 5, 7)
    assert decoded.post.author.handle == "dana" and decoded.post.text == "acme & phones"


def test_an_errors_line_is_a_disconnect_and_other_messages_are_nothing() -> None:
    documented = ref_json("x/derived/error_samples.json")["stream_operational_disconnect_documented"]["body"]
    decoded = parse_line(json.dumps(documented).encode())
    assert decoded is not None and "disconnected upstream for operational reasons" in (decoded.disconnect or "")
    assert parse_line(b'{"new_message_type": {"x": 1}}') is None
    assert parse_line(b"[1, 2]") is None


# --- live posts -----------------------------------------------------------------------------------


def test_live_posts_come_with_the_rules_x_matched(fake: FakeX, stream: XStream) -> None:
    reader = read(stream)
    both = customer_post(fake, "acme phone broke")
    one = customer_post(fake, "my phone")
    customer_post(fake, "nothing to see")
    got = posts(reader.read_until({both, one}))
    assert set(got) == {both, one}
    assert got[both].rule_ids == (1, 2) and got[one].rule_ids == (2,)
    assert got[both].post is not None and got[both].post.author.handle == "dana"
    assert got[one].cursor == {"since_id": one}


def test_a_streamed_post_is_billed_as_a_post_read_and_its_author_as_a_user_read(fake: FakeX, stream: XStream) -> None:
    reader = read(stream)
    made = customer_post(fake, "acme phone broke")
    [event] = [e for e in reader.read_until({made}) if e.post is not None and e.post.external_id == made]
    assert event.post is not None
    assert event.billed == (BilledReads("post", (made,)), BilledReads("user", (event.post.author.external_id,)))


def test_a_streamed_post_is_the_post_search_finds(fake: FakeX, stream: XStream, http: httpx.Client) -> None:
    reader = read(stream)
    fake.add_user(username="vip", name="Very Important", followers=12345, verified=True)
    made = fake.post(username="vip", text="@acmephones my acme phone https://example.com/x is broken",
                     in_reply_to=customer_post(fake, "acme?"))["id"]
    [streamed] = [e.post for e in reader.read_until({made}) if e.post is not None and e.post.external_id == made]
    searched = XSource(http=http, api_url=fake.url, bearer_token=TOKEN).fetch("acme", None).posts
    assert streamed == next(p for p in searched if p.external_id == made)


def test_posts_only_other_tools_rules_match_are_not_ours(fake: FakeX, stream: XStream) -> None:
    fake.add_stream_rule("cats", "another tool")
    reader = read(stream)
    customer_post(fake, "cats everywhere")
    ours = customer_post(fake, "acme cats")
    got = reader.read_until({ours})
    assert post_ids(got) == [ours]


def test_a_quiet_stream_ticks(fake: FakeX, stream: XStream) -> None:
    reader = read(stream)
    events = reader.read_until({"never"}, timeout=0.6)
    assert sum(e.kind == "tick" for e in events) >= 3
    assert all(e.cursor.get("since_id") for e in events)


# --- drops ----------------------------------------------------------------------------------------


def test_a_dropped_connection_raises_unavailable(fake: FakeX, stream: XStream) -> None:
    reader = read(stream)
    fake.drop_stream()
    assert isinstance(ended(reader), SourceUnavailable)


def test_xs_operational_disconnect_raises_unavailable_with_its_detail(fake: FakeX, stream: XStream) -> None:
    reader = read(stream)
    fake.drop_stream(operational=True)
    error = ended(reader)
    assert isinstance(error, SourceUnavailable) and "operational reasons" in str(error)


def test_a_silent_connection_is_dropped(fake: FakeX, stream: XStream) -> None:
    reader = read(stream)
    fake.silence_stream()
    error = ended(reader)
    assert isinstance(error, SourceUnavailable) and "silent for 1 s" in str(error)


def test_keep_alives_keep_a_connection_that_carries_nothing(fake: FakeX, stream: XStream) -> None:
    reader = read(stream)
    reader.read_until({"never"}, timeout=1.5)  # longer than the silence allowed
    assert reader.error is None and not reader.join(0.05)


def test_close_from_another_thread_ends_the_stream_quietly(fake: FakeX, stream: XStream) -> None:
    reader = read(stream)
    threading.Timer(0.1, stream.close).start()
    assert ended(reader) is None
    assert fake.stream_connections() == 0 or reader.join()


# --- the gap --------------------------------------------------------------------------------------


def test_the_gap_is_read_with_search_from_a_little_before_the_newest_post_seen(fake: FakeX, stream: XStream) -> None:
    reader = read(stream)
    seen = customer_post(fake, "acme one")
    [handled] = [e for e in reader.read_until({seen}) if e.post is not None]
    fake.drop_stream()
    ended(reader)
    missed = [customer_post(fake, "acme two"), customer_post(fake, "acme phone three"), customer_post(fake, "phone")]

    late: list[str] = []
    before_connecting = snowflake_time(missed[-1])
    time.sleep(0.01)  # the gap ends at the millisecond of connecting: later than that one

    def connected(start: dict) -> None:  # a post the stream delivers late: in the gap's time, on the stream too
        late.append(customer_post(fake, "acme late", created_at=before_connecting))

    resumed = HookedReader(stream, handled.cursor, connected)
    assert resumed.wait_connected()
    after = customer_post(fake, "acme after")
    events = resumed.read_until({*missed, *late, after})
    ids = post_ids(events)
    # `seen` again too: the gap starts REWIND before it (X's order is loose); the store keeps one copy.
    assert sorted(ids) == sorted({seen, *missed, *late, after}) and len(ids) == len(set(ids))
    got = posts(events)
    assert got[missed[1]].rule_ids == (1, 2) and got[missed[2]].rule_ids == (2,)
    assert all(got[i].cursor == handled.cursor for i in (*missed, *late))  # a crash mid-gap reads it again
    searched = fake.requests_to(SEARCH_PATH)
    assert {r.query["query"] for r in searched} == {"acme", "phone"}
    assert all(r.query["since_id"] == str(snowflake_at(snowflake_time(seen) - REWIND)) for r in searched)
    assert all(int(r.query["until_id"]) > int(missed[-1]) for r in searched)


def test_a_post_x_had_not_delivered_when_the_stream_dropped_is_read_after_reconnecting(fake: FakeX,
                                                                                      stream: XStream) -> None:
    """X delivers posts "not in sorted order" (refs/x/docs/consuming-streaming-data.mdx): one made before the
    newest post seen (a lower id) may still be on its way when the connection drops."""
    reader = read(stream)
    newest = customer_post(fake, "acme charger broke")
    [handled] = [e for e in reader.read_until({newest}) if e.post is not None]
    fake.drop_stream()
    # Queued behind the drop, so never sent on that connection: made 2 s before `newest`.
    undelivered = customer_post(fake, "acme screen cracked", created_at=snowflake_time(newest) - timedelta(seconds=2))
    assert int(undelivered) < int(handled.cursor["since_id"])
    ended(reader)
    resumed = read(stream, handled.cursor)
    after = customer_post(fake, "acme after")
    ids = post_ids(resumed.read_until({undelivered, after}))
    assert ids.count(undelivered) == 1 and ids.count(after) == 1 and len(ids) == len(set(ids))


def test_a_cursor_made_for_a_time_is_not_rewound(fake: FakeX, stream: XStream) -> None:
    """The worker's searches read up to then (they filled a gap): reading before it again would bill twice."""
    at = datetime.now(UTC) - timedelta(minutes=5)
    read(stream, stream.cursor_at(at)).read_until({"never"}, timeout=0.5)  # the gap is searched, then ticks
    assert {r.query["since_id"] for r in fake.requests_to(SEARCH_PATH)} == {str(snowflake_at(at))}


def test_a_first_connection_reads_no_gap(fake: FakeX, stream: XStream) -> None:
    customer_post(fake, "acme before")
    reader = read(stream)
    assert reader.started and set(reader.started[0]) == {"since_id"}
    after = customer_post(fake, "acme after")
    assert post_ids(reader.read_until({after})) == [after]
    assert fake.requests_to(SEARCH_PATH) == []


def test_a_gap_too_long_for_its_pages_is_left_to_the_rules_searches(fake: FakeX, http: httpx.Client) -> None:
    stream = XStream(http=http, api_url=fake.url, bearer_token=TOKEN, tick_seconds=0.1, gap_pages=1)
    stream.track([ACME])
    since = {"since_id": str(snowflake_at(datetime.now(UTC)))}
    for n in range(101):
        customer_post(fake, f"acme {n}")
    reader = StreamReader(stream, since)
    assert isinstance(ended(reader), CursorExpired)
    assert reader.read_until({"never"}, timeout=0.1) == []  # nothing half-read


def test_a_gap_past_recent_search_reach_is_left_to_the_rules_searches(fake: FakeX, stream: XStream) -> None:
    old = stream.cursor_at(datetime.now(UTC) - timedelta(days=7, hours=1))
    assert stream.is_stale(old)
    assert not stream.is_stale(stream.cursor_at(datetime.now(UTC) - timedelta(days=6)))
    assert isinstance(ended(StreamReader(stream, old)), CursorExpired)
    assert [r for r in fake.requests if r.path == STREAM_PATH] == []  # not even connected


def test_a_cursor_that_is_not_an_x_id_is_left_to_the_rules_searches(stream: XStream) -> None:
    assert isinstance(ended(StreamReader(stream, {"since_id": "at:bsky/123"})), CursorExpired)


def test_a_spent_search_limit_leaves_the_gap_to_the_rules_searches(fake: FakeX, stream: XStream) -> None:
    fake.rate_limit_next(SEARCH_PATH, 60)
    error = ended(StreamReader(stream, stream.cursor_at(datetime.now(UTC) - timedelta(minutes=5))))
    assert isinstance(error, CursorExpired)


# --- refusals -------------------------------------------------------------------------------------


def test_a_refused_token_names_the_setting(fake: FakeX, http: httpx.Client) -> None:
    wrong = XStream(http=http, api_url=fake.url, bearer_token="not-it")
    error = ended(StreamReader(wrong, None))
    assert isinstance(error, SourceRejected) and "SOCIALDESK_X_BEARER_TOKEN" in str(error)


def test_429_gives_its_reset_and_503_is_unavailable(fake: FakeX, stream: XStream) -> None:
    reset = fake.rate_limit_next(STREAM_PATH, 300)
    error = ended(StreamReader(stream, None))
    assert isinstance(error, RateLimited) and error.reset_at == datetime.fromtimestamp(reset, UTC)
    fake.refuse_stream_next(503)
    assert isinstance(ended(StreamReader(stream, None)), SourceUnavailable)
    assert read(stream).error is None  # and then it connects


def test_a_second_connection_is_too_many(fake: FakeX, stream: XStream, http: httpx.Client) -> None:
    reader = read(stream)
    other = XStream(http=http, api_url=fake.url, bearer_token=TOKEN)
    error = ended(StreamReader(other, None))
    assert isinstance(error, RateLimited) and "one connection" in str(error)
    assert reader.error is None


def test_a_line_that_never_ends_drops_the_connection_and_the_next_one_reads_past_it(fake: FakeX,
                                                                                      stream: XStream) -> None:
    """QA: the line buffer had no bound, so a body without a line end grew memory without limit."""
    reader = read(stream)
    before = customer_post(fake, "acme before")
    cursor = posts(reader.read_until({before}))[before].cursor
    fake.send_raw_on_stream(b'{"data": {"text": "' + b"a" * (MAX_LINE_BYTES + 2**20))  # no line end
    error = ended(reader)
    assert isinstance(error, SourceUnavailable) and "without a line end" in str(error)
    after = customer_post(fake, "acme after")
    again = read(stream, cursor)  # as the worker reconnects, from the cursor it stored
    events = again.read_until({after})
    assert after in posts(events)  # (`before` may come again: the gap's search rewinds a minute, REWIND)
    ticks = again.read_until({"never"}, timeout=0.5)
    assert ticks and int(ticks[-1].cursor["since_id"]) >= int(after)  # the cursor moved past it


def test_bytes_without_a_line_end_are_not_a_keep_alive(fake: FakeX, stream: XStream) -> None:
    """A keep-alive is a line end: a trickle of bytes that never ends a line is a stall, dropped as silence."""
    fake.stream_keepalive_seconds = 3600.0  # only the trickle
    reader = read(stream)
    stop = threading.Event()

    def trickle() -> None:
        while not stop.wait(0.05):
            fake.send_raw_on_stream(b"a")

    threading.Thread(target=trickle, daemon=True).start()
    try:
        error = ended(reader)
    finally:
        stop.set()
    assert isinstance(error, SourceUnavailable) and "silent for 1 s" in str(error)
