"""The stream worker against a local Jetstream and PDS (Bluesky's fakes), on SQLite and PostgreSQL.

Posts are made in the fake world; the fake Jetstream relays them live over a real
WebSocket, after the recorded golden events (real traffic no rule should match).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from slack_sdk import WebClient
from sqlmodel import select

from socialdesk.config import Settings
from socialdesk.jobs.edits import EditMarker
from socialdesk.jobs.poll import Poller
from socialdesk.jobs.removal import RemovalMarker
from socialdesk.jobs.stream import StreamWorker
from socialdesk.networks.bluesky import network as bluesky
from socialdesk.networks.bluesky.fake.jetstream import FakeJetstream, post_commit
from socialdesk.networks.bluesky.fake.pds import FakeBluesky
from tests.support.bluesky import local_jetstream
from socialdesk.store import rules as rule_store
from socialdesk.store import streams as stream_store
from socialdesk.store.credentials import DatabaseCredentials
from socialdesk.store.db import session_scope
from socialdesk.store.models import AuthorRow, CaseEventRow, CaseRow, PostRow

BRAND, PASSWORD = "acme.bsky.social", "app-password"


def now() -> datetime:
    return datetime.now(UTC)


def wait_for(check: Callable[[], bool], timeout: float = 20.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def pds() -> Iterator[FakeBluesky]:
    with FakeBluesky(brand_handle=BRAND, brand_password=PASSWORD) as server:
        yield server


@pytest.fixture
def jetstream(pds: FakeBluesky) -> Iterator[FakeJetstream]:
    with local_jetstream(pds) as server:
        yield server


class Desk:
    """What app.build wires for one network's stream, built from the same settings."""

    def __init__(self, engine, pds: FakeBluesky, jetstream: FakeJetstream, **worker) -> None:  # type: ignore[no-untyped-def]
        self.http = httpx.Client(timeout=5)
        settings = Settings(_env_file=None, SOCIALDESK_BLUESKY_HANDLE=BRAND, SOCIALDESK_BLUESKY_APP_PASSWORD=PASSWORD,
                            SOCIALDESK_BLUESKY_SERVICE_URL=pds.url, SOCIALDESK_BLUESKY_JETSTREAM_URL=jetstream.url)
        self.network = bluesky.build(settings, http=self.http, clock=now,
                                     credentials=lambda name: DatabaseCredentials(engine, name))
        self.opened: list[int] = []
        self.poller = Poller(engine=engine, networks={"bluesky": self.network}, own_handles=frozenset({BRAND}),
                             clock=now, on_new_cases=self.opened.extend)
        slack = WebClient(base_url="http://127.0.0.1:9/")  # no card was posted: nothing to redraw
        marker = RemovalMarker(engine=engine, slack=slack, network="bluesky")
        self.worker = StreamWorker(engine=engine, network=self.network, poller=self.poller, clock=now,
                                   removed=marker, edited=EditMarker(engine=engine, slack=slack), **worker)

    def start(self) -> Desk:
        self.worker.start()
        return self

    def stop(self) -> None:
        self.worker.stop()
        self.http.close()


@pytest.fixture
def desks(engine, pds, jetstream) -> Iterator[Callable[..., Desk]]:  # type: ignore[no-untyped-def]
    made: list[Desk] = []

    def make(**worker) -> Desk:  # type: ignore[no-untyped-def]
        made.append(Desk(engine, pds, jetstream, **worker))
        return made[-1]

    yield make
    for desk in made:
        desk.stop()


def add_rule(engine, query: str = "acme", channel: str = "C1") -> int:  # type: ignore[no-untyped-def]
    with session_scope(engine) as session:
        rule = rule_store.add_rule(session=session, network="bluesky", query=query, channel_id=channel,
                                   every_seconds=60, lang=None, include_reposts=False, now=now())
        # As if the rule's newest page had been taken: only the stream brings its posts.
        rule_store.save_cursor(session=session, rule_id=rule.id, cursor={"since_id": None}, not_before=None,
                               now=now())
        return rule.id


def stored(engine) -> dict[str, int | None]:  # type: ignore[no-untyped-def]
    with session_scope(engine) as session:
        return {p.external_id: p.case_id for p in session.exec(select(PostRow))}


def connected(jetstream: FakeJetstream, count: int = 1) -> None:
    wait_for(lambda: jetstream.live_connections >= count, what="the stream to connect")


def test_a_matching_post_becomes_a_case_and_the_golden_traffic_does_not(engine, pds, jetstream, desks):
    add_rule(engine, "acme OR \"screen cracked\"")
    desk = desks().start()
    connected(jetstream)
    dana = pds.world.add_account("dana.bsky.social", "Dana K.", followers=321)
    other = pds.world.add_account("sam.bsky.social", "Sam")
    pds.world.add_post(other, "lovely weather today")
    post = pds.world.add_post(dana, "The screen cracked like a spiderweb. Covered by the warranty?")
    wait_for(lambda: post["uri"] in stored(engine), what="the matching post")
    assert list(stored(engine)) == [post["uri"]]
    with session_scope(engine) as session:
        row = session.exec(select(PostRow)).one()
        case = session.get(CaseRow, row.case_id)
    assert (case.network, case.channel_id, case.conversation_id) == ("bluesky", "C1", post["uri"])
    # The author was completed from the profile: handle and followers, not just the DID.
    assert desk.opened == [case.id]
    with session_scope(engine) as session:
        author = session.exec(select(PostRow)).one()
    assert author.url == f"https://bsky.app/profile/dana.bsky.social/post/{post['uri'].rsplit('/', 1)[1]}"


def test_posts_of_our_own_account_and_of_paused_rules_open_nothing(engine, pds, jetstream, desks):
    rule_id = add_rule(engine, "acme")
    desks().start()
    connected(jetstream)
    pds.world.add_post(pds.world.brand_did, "acme update: the fix is rolling out")
    cust = pds.world.add_account("cust.bsky.social")
    first = pds.world.add_post(cust, "acme phone question")
    wait_for(lambda: first["uri"] in stored(engine), what="the customer's post")
    with session_scope(engine) as session:
        rule_store.set_paused(session=session, rule_id=rule_id, paused=True, now=datetime.now(UTC))
    time.sleep(3.5)  # the worker reloads rules every few seconds
    pds.world.add_post(cust, "acme still broken")
    marker = pds.world.add_post(cust, "unrelated marker")  # nothing matches; proves the stream got this far
    wait_for(lambda: any(e.get("commit", {}).get("rkey") == marker["uri"].rsplit("/", 1)[1]
                         for e in jetstream.events), what="the marker event")
    time.sleep(0.5)
    assert list(stored(engine)) == [first["uri"]]


def test_a_customer_reply_in_the_thread_joins_the_case_without_matching(engine, pds, jetstream, desks):
    add_rule(engine, "acme")
    desks().start()
    connected(jetstream)
    cust = pds.world.add_account("cust.bsky.social")
    first = pds.world.add_post(cust, "my acme phone will not charge")
    wait_for(lambda: first["uri"] in stored(engine), what="the first post")
    later = pds.world.add_post(cust, "tried another cable, same thing", reply_to=first["uri"])
    wait_for(lambda: later["uri"] in stored(engine), timeout=30, what="the follow-up")
    posts = stored(engine)
    assert posts[later["uri"]] == posts[first["uri"]] is not None


def test_a_reply_joins_a_case_the_search_opened_moments_before(engine, pds, jetstream, desks, monkeypatch):
    """The poller's search can store a post before the stream relays it: the stream's copy is
    then a duplicate, and the customer's answer right after must still join (CI lost one)."""
    monkeypatch.setattr("socialdesk.jobs.stream_watch.WATCH_SECONDS", 600.0)  # no reload of the watched set comes to help
    with session_scope(engine) as session:  # a new rule: its newest page is taken by search
        rule_id = rule_store.add_rule(session=session, network="bluesky", query="acme", channel_id="C1",
                                      every_seconds=60, lang=None, include_reposts=False, now=now()).id
    desk = desks().start()
    connected(jetstream)
    cust = pds.world.add_account("cust.bsky.social")
    seen = desk.worker.events_seen
    pds.world.add_post(cust, "lovely weather today")  # the worker reads the watched set here: empty
    wait_for(lambda: desk.worker.events_seen > seen, what="the first event")
    jetstream.pause()
    first = pds.world.add_post(cust, "my acme phone will not charge")
    desk.poller.poll_rule(rule_id)
    assert first["uri"] in stored(engine), "the search stored the post before the stream relayed it"
    seen = desk.worker.events_seen
    jetstream.resume()
    wait_for(lambda: desk.worker.events_seen > seen, what="the stream's copy of the post")
    later = pds.world.add_post(cust, "tried another cable, same thing", reply_to=first["uri"])
    wait_for(lambda: later["uri"] in stored(engine), what="the follow-up")
    posts = stored(engine)
    assert posts[later["uri"]] == posts[first["uri"]] is not None


def test_a_reply_that_came_before_its_case_was_opened_elsewhere_joins_it(engine, pds, jetstream, desks,
                                                                          monkeypatch):
    """A case opened by another replica's search (or a mentions poll) just after its customer's
    answer streamed by: the answer was kept, and joins once the watched set is read again."""
    monkeypatch.setattr("socialdesk.jobs.stream_watch.WATCH_SECONDS", 0.5)
    add_rule(engine, "acme")
    desk = desks().start()
    connected(jetstream)
    cust = pds.world.add_account("cust.bsky.social")
    root = pds.world.add_post(cust, "my phone will not charge")  # no rule matches it yet
    reply = pds.world.add_post(cust, "tried another cable, same thing", reply_to=root["uri"])
    wait_for(lambda: desk.worker.events_seen >= 2, what="both posts at the worker")
    with session_scope(engine) as session:  # another replica's new rule took its newest page
        rule_id = rule_store.add_rule(session=session, network="bluesky", query="charge", channel_id="C1",
                                      every_seconds=60, lang=None, include_reposts=False, now=now()).id
    desk.poller.poll_rule(rule_id)
    assert root["uri"] in stored(engine) and reply["uri"] not in stored(engine)
    time.sleep(0.6)
    pds.world.add_post(cust, "lovely weather today")  # any event: the worker reads the watched set again
    wait_for(lambda: reply["uri"] in stored(engine), what="the kept reply")
    posts = stored(engine)
    assert posts[reply["uri"]] == posts[root["uri"]] is not None


def test_an_edit_rewrites_the_stored_post_and_an_unknown_or_unchanged_one_is_left_alone(engine, pds, jetstream,
                                                                                          desks):
    add_rule(engine, "acme")
    desk = desks().start()
    connected(jetstream)
    cust = pds.world.add_account("cust.bsky.social")
    first = pds.world.add_post(cust, "my acme phone will not charge")
    wait_for(lambda: first["uri"] in stored(engine), what="the post")
    did, rkey = cust, first["uri"].rsplit("/", 1)[1]
    seen = desk.worker.events_seen
    jetstream.publish(post_commit(did, rkey, "my acme phone will not charge", operation="update"))  # unchanged
    jetstream.publish(post_commit(did, "3zzzzzzzzzzzz", "never stored acme", operation="update"))
    jetstream.publish(post_commit(did, rkey, "my acme phone will not charge, even with a new cable",
                                  operation="update"))
    wait_for(lambda: desk.worker.events_seen >= seen + 3, what="the three updates")

    def edited() -> tuple[str, int] | None:  # the worker counts an event as it takes it, before it is written
        with session_scope(engine) as session:
            row = session.exec(select(PostRow).where(PostRow.external_id == first["uri"])).one()
            return (row.text, row.case_id) if row.edited_at is not None else None

    wait_for(lambda: edited() is not None, what="the edit stored")
    text, case_id = edited()  # type: ignore[misc]
    assert text == "my acme phone will not charge, even with a new cable"
    with session_scope(engine) as session:
        events = [e.kind for e in session.exec(select(CaseEventRow).where(CaseEventRow.case_id == case_id))]
    assert events.count("edited_at_source") == 1
    assert list(stored(engine)) == [first["uri"]]  # an edit of a post we never stored opens nothing


def test_a_post_its_rows_cannot_hold_is_stored_cleaned_and_the_stream_goes_on(engine, pds, jetstream, desks):
    """PostgreSQL refuses a display name past authors.name and NUL in text (SQLite takes both):
    the post, and every one after it, would fail to store on every try."""
    add_rule(engine, "acme")
    desk = desks().start()
    connected(jetstream)
    accented = "".join("a" + "\u0301" * 4 for _ in range(60))  # 300 code points: within the lexicon's limits
    odd = pds.world.add_account("zed.bsky.social", accented)
    first = pds.world.add_post(odd, "acme support\x00 please")
    fine = pds.world.add_post(pds.world.add_account("dana.bsky.social", "Dana"), "acme charger broke")
    wait_for(lambda: {first["uri"], fine["uri"]} <= set(stored(engine)), what="both posts")
    seen = desk.worker.events_seen
    jetstream.publish(post_commit(odd, first["uri"].rsplit("/", 1)[1], "acme support\x00 please, still",
                                  operation="update"))
    wait_for(lambda: desk.worker.events_seen > seen, what="the edit")

    def row() -> tuple[str, str, bool]:
        with session_scope(engine) as session:
            post = session.exec(select(PostRow).where(PostRow.external_id == first["uri"])).one()
            return post.text, session.get(AuthorRow, post.author_id).name, post.edited_at is not None

    wait_for(lambda: row()[2], what="the edit stored")
    assert row() == ("acme support please, still", accented[:255], True)


def test_dropped_connections_mid_burst_lose_and_duplicate_nothing(engine, pds, jetstream, desks):
    add_rule(engine, "acme")
    desks().start()
    connected(jetstream)
    cust = pds.world.add_account("burst.bsky.social")
    made: list[str] = []
    before = 0
    for i in range(150):
        made.append(pds.world.add_post(cust, f"acme question number {i}" if i % 3 else f"other words {i}")["uri"])
        if i in (40, 90, 130):
            before = len(jetstream.connections)
            jetstream.drop_connections()  # the next posts are made while it is down
        if i in (45, 95, 135):
            wait_for(lambda: len(jetstream.connections) > before, what="the stream to reconnect")
        time.sleep(0.005)
    matching = [uri for i, uri in enumerate(made) if i % 3]
    wait_for(lambda: set(matching) <= set(stored(engine)), timeout=60, what="every matching post")
    posts = stored(engine)
    assert sorted(posts) == sorted(matching) and len(set(posts.values())) == len(matching)
    assert len(jetstream.connections) >= 4  # it reconnected after each drop


def test_a_restarted_worker_resumes_from_its_cursor(engine, pds, jetstream, desks):
    add_rule(engine, "acme")
    first = desks().start()
    connected(jetstream)
    cust = pds.world.add_account("cust.bsky.social")
    before = pds.world.add_post(cust, "acme before the restart")
    wait_for(lambda: before["uri"] in stored(engine), what="the first post")
    time.sleep(2.5)  # a cursor save is due
    first.worker.stop()
    while_down = [pds.world.add_post(cust, f"acme while down {i}")["uri"] for i in range(5)]
    desks().start()
    wait_for(lambda: set(while_down) <= set(stored(engine)), timeout=30, what="the posts made while down")
    resumed = jetstream.connections[-1]
    assert resumed.cursor is not None  # resumed, not from the live tip
    assert len(stored(engine)) == 6


def test_one_replica_holds_the_stream_and_another_takes_over(engine, pds, jetstream, desks):
    add_rule(engine, "acme")
    a = desks(lease_seconds=3).start()
    connected(jetstream)
    b = desks(lease_seconds=3).start()
    time.sleep(3)
    assert jetstream.live_connections == 1  # b waits for the lease
    a.worker._stream.close()  # noqa: SLF001 - a replica dying: its connection gone, its lease not renewed
    a.worker._stop.set()  # noqa: SLF001
    cust = pds.world.add_account("cust.bsky.social")
    post = pds.world.add_post(cust, "acme after the failover")
    wait_for(lambda: post["uri"] in stored(engine), timeout=30, what="the other replica to take over")
    with session_scope(engine) as session:
        assert stream_store.stream_state(session=session, network="bluesky").holder == b.worker._holder  # noqa: SLF001


def test_a_deleted_post_is_marked_removed_at_the_source(engine, pds, jetstream, desks):
    add_rule(engine, "acme")
    desks().start()
    connected(jetstream)
    cust = pds.world.add_account("cust.bsky.social")
    post = pds.world.add_post(cust, "acme: my order number is 12345")
    wait_for(lambda: post["uri"] in stored(engine), what="the post")
    pds.world.delete_post(post["uri"])

    def removed() -> bool:
        with session_scope(engine) as session:
            return session.exec(select(PostRow.removed_reason)).one() == "deleted"

    wait_for(removed, what="the post to be marked deleted")
    with session_scope(engine) as session:
        assert "12345" not in session.exec(select(PostRow.text)).one()


def test_with_the_stream_live_the_poller_leaves_search_rules_alone(engine, pds, jetstream, desks):
    rule_id = add_rule(engine, "acme")
    desk = desks().start()
    connected(jetstream)
    wait_for(lambda: _live(engine), what="the stream to be recorded as live")
    searched = len(pds.requests("/xrpc/app.bsky.feed.searchPosts"))
    desk.poller.poll_rule(rule_id)
    assert len(pds.requests("/xrpc/app.bsky.feed.searchPosts")) == searched
    # Without a live stream (it dropped and cannot reconnect), the poller searches again.
    jetstream.refuse(503, times=1000)
    jetstream.drop_connections()
    wait_for(lambda: not _live(engine), what="the stream to be recorded as down")
    with session_scope(engine) as session:
        rule_store.get_rule(session=session, rule_id=rule_id).last_polled_at = None
    desk.poller.poll_rule(rule_id)
    assert len(pds.requests("/xrpc/app.bsky.feed.searchPosts")) == searched + 1


def _live(engine) -> bool:  # type: ignore[no-untyped-def]
    with session_scope(engine) as session:
        return stream_store.is_live(session=session, network="bluesky", now=now())


def test_from_rules_match_streamed_posts_that_name_only_the_author_id(engine, pds, jetstream, desks):
    add_rule(engine, "from:ann.bsky.social", channel="C-ann")
    add_rule(engine, "acme -from:ann.bsky.social", channel="C-acme")
    ann = pds.world.add_account("ann.bsky.social", "Ann")
    bob = pds.world.add_account("bob.bsky.social", "Bob")
    desks().start()
    connected(jetstream)
    by_ann = pds.world.add_post(ann, "acme: hello from ann")
    by_bob = pds.world.add_post(bob, "acme: hello from bob")
    wait_for(lambda: {by_ann["uri"], by_bob["uri"]} <= set(stored(engine)), what="both posts")
    time.sleep(0.5)
    with session_scope(engine) as session:
        channels = {p.external_id: session.get(CaseRow, p.case_id).channel_id for p in session.exec(select(PostRow))}
    assert channels == {by_ann["uri"]: "C-ann", by_bob["uri"]: "C-acme"}  # ann's post is not one for the acme rule


def test_search_results_are_matched_again_as_the_stream_matches(engine, pds, jetstream, desks):
    desk = desks()  # not started: the poller alone, as when a rule is new
    cust = pds.world.add_account("cust.bsky.social")
    wanted = pds.world.add_post(cust, "acme phone question")
    pds.world.add_post(cust, "acme giveaway, click now")  # Bluesky's search finds it; the exclusion drops it
    with session_scope(engine) as session:
        rule_id = rule_store.add_rule(session=session, network="bluesky", query="acme -giveaway", channel_id="C1",
                                      every_seconds=60, lang=None, include_reposts=False, now=now()).id
    assert desk.poller.poll_rule(rule_id) == 1
    assert list(stored(engine)) == [wanted["uri"]]


def test_a_stream_down_longer_than_it_can_replay_is_filled_by_search(engine, pds, jetstream, desks):
    rule_id = add_rule(engine, "acme (late OR lost)")
    cust = pds.world.add_account("cust.bsky.social")
    while_down = [pds.world.add_post(cust, f"acme order {i} is {'late' if i % 2 else 'lost'}")["uri"]
                  for i in range(6)]
    pds.world.add_post(cust, "acme order is fine")  # matches neither alternative
    with session_scope(engine) as session:  # as a replica left it a day ago: a cursor Jetstream cannot replay
        session.add(stream_store.StreamRow(network="bluesky", cursor={"time_us": 1}, cursor_at=now() - timedelta(days=2),
                                           updated_at=now()))
    desks().start()
    wait_for(lambda: set(while_down) <= set(stored(engine)), timeout=30, what="the gap filled by search")
    searches = pds.requests("/xrpc/app.bsky.feed.searchPosts")
    assert {r.query["q"][0] for r in searches} >= {"acme late", "acme lost"}  # one search per alternative
    assert all(r.query.get("since") for r in searches)  # from where the stream stopped, not the newest page
    connected(jetstream)
    resumed = jetstream.connections[-1]
    assert resumed.cursor is not None and int(resumed.cursor) > 1  # from when the search began
    live = pds.world.add_post(cust, "acme order 99 is late")
    wait_for(lambda: live["uri"] in stored(engine), what="the next post, from the stream")
    assert len(stored(engine)) == 7
    with session_scope(engine) as session:
        assert rule_store.get_rule(session=session, rule_id=rule_id).last_error is None


def test_the_worker_outlives_a_database_failure(engine, pds, jetstream, desks):
    add_rule(engine, "acme")
    desks().start()
    connected(jetstream)
    cust = pds.world.add_account("cust.bsky.social")
    with engine.begin() as conn:  # the table the worker writes its cursor to goes away for a while
        conn.exec_driver_sql("ALTER TABLE streams RENAME TO streams_away")
    lost = pds.world.add_post(cust, "acme while the database fails")
    time.sleep(1.5)
    with engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE streams_away RENAME TO streams")
    later = pds.world.add_post(cust, "acme after it is back")
    wait_for(lambda: {lost["uri"], later["uri"]} <= set(stored(engine)), timeout=30,
             what="both posts, the worker having lived through it")


# Refuses to note the stream's first connection (a database failing at that moment), until dropped.
_REFUSE_FIRST_CONNECTION = {
    "sqlite": ["CREATE TRIGGER refuse_first BEFORE UPDATE OF connected_at ON streams "
               "WHEN OLD.connected_at IS NULL AND NEW.connected_at IS NOT NULL "
               "BEGIN SELECT RAISE(ABORT, 'the database is away'); END"],
    "postgresql": ["CREATE FUNCTION refuse_first() RETURNS trigger AS $$ BEGIN "
                   "IF OLD.connected_at IS NULL AND NEW.connected_at IS NOT NULL THEN "
                   "RAISE EXCEPTION 'the database is away'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql",
                   "CREATE TRIGGER refuse_first BEFORE UPDATE ON streams FOR EACH ROW EXECUTE FUNCTION refuse_first()"],
}
_ALLOW = {"sqlite": ["DROP TRIGGER refuse_first"],
          "postgresql": ["DROP TRIGGER refuse_first ON streams", "DROP FUNCTION refuse_first()"]}


def test_a_first_connection_that_could_not_be_noted_resumes_where_it_began(engine, pds, jetstream, desks):
    add_rule(engine, "acme")
    with engine.begin() as conn:
        for statement in _REFUSE_FIRST_CONNECTION[engine.dialect.name]:
            conn.exec_driver_sql(statement)
    desks().start()
    wait_for(lambda: len(jetstream.connections) >= 1, what="the first connection")
    cust = pds.world.add_account("cust.bsky.social")
    meanwhile = pds.world.add_post(cust, "acme while the first connection is not noted")
    with engine.begin() as conn:
        for statement in _ALLOW[engine.dialect.name]:
            conn.exec_driver_sql(statement)
    # The retry starts where the first connection began, not at the live tip it reaches later.
    wait_for(lambda: meanwhile["uri"] in stored(engine), timeout=30, what="the post made meanwhile")


def test_a_hostile_record_is_skipped_and_the_stream_moves_past_it(engine, pds, jetstream, desks):
    """QA's poison: a reply whose root and parent URIs are lists. Nothing matches it, yet it broke every
    post (the worker reconnected, rewound to before it and read it again, for a day)."""
    add_rule(engine, "acme")
    desks().start()
    connected(jetstream)
    cust = pds.world.add_account("cust.bsky.social")
    before = pds.world.add_post(cust, "acme phone will not charge")
    wait_for(lambda: before["uri"] in stored(engine), what="the post before the poison")
    poison = post_commit("did:plc:evilevilevilevil", "3kpoison", "lovely weather")
    poison["commit"]["record"]["reply"] = {"root": {"uri": ["x"], "cid": "c"}, "parent": {"uri": ["x"], "cid": "c"}}
    poison_at = jetstream.publish(poison)["time_us"]
    after = pds.world.add_post(cust, "acme still broken, please help")
    wait_for(lambda: after["uri"] in stored(engine), what="the post after the poison")

    def cursor() -> int:
        with session_scope(engine) as session:
            return stream_store.stream_state(session=session, network="bluesky").cursor["time_us"]

    wait_for(lambda: cursor() > poison_at, what="the cursor to move past the poison")
    assert sorted(stored(engine)) == sorted([before["uri"], after["uri"]])
    assert len(jetstream.connections) == 1  # skipped, not a reconnect from before it
