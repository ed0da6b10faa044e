"""The contract every network passes, run against each network's fakes over real HTTP/WebSocket.

Parametrized over `registry.names()`: a network is driven through its adapter in
tests/networks/contract_support.py (fakes on 127.0.0.1, the real `Network` from
`registry.build`, a real database on SQLite and PostgreSQL). A network without an
adapter fails here. Parts a network does not have are asserted absent, not skipped.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import Engine

from socialdesk.networks import registry
from socialdesk.networks.base import (
    Network,
    NetworkInfo,
    Page,
    RateLimited,
    ReplyFailed,
    SentReply,
    SourceRejected,
    SourceUnavailable,
    TrackedRule,
)
from socialdesk.replying import ReplyDesk
from socialdesk.store import ingest
from socialdesk.store.db import session_scope
from tests.networks.contract_support import (
    ADAPTERS,
    FAMILY,
    JAPAN,
    TEXT_CATEGORIES,
    Adapter,
    StreamReader,
    post_ids,
    roundtrip,
    utcnow,
    walk,
)
from tests.support.db import engine  # noqa: F401  (fixture: SQLite and PostgreSQL)

NAMES = registry.names()
KINDS = ("search", "mentions")  # every rule kind a network may have (NetworkInfo.kinds)


def test_every_network_has_a_contract_adapter() -> None:
    missing = sorted(set(NAMES) - set(ADAPTERS))
    assert not missing, (f"networks without a contract adapter: {missing}; add one to "
                         "tests/networks/contract_support.py (ADAPTERS)")
    assert sorted(ADAPTERS) == sorted(NAMES), "an adapter for a network the registry does not have"
    for name, factory in ADAPTERS.items():
        assert factory.name == name


# --- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(params=NAMES)
def name(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def adapter(name: str) -> Iterator[Adapter]:
    factory = ADAPTERS.get(name)
    if factory is None:
        pytest.fail(f"network {name!r} has no contract adapter in tests/networks/contract_support.py")
    with factory() as started:
        yield started


def _closed(network: Network) -> None:
    if network.stream is not None:
        network.stream.close()


@pytest.fixture
def network(adapter: Adapter, engine: Engine, http: httpx.Client) -> Iterator[Network]:
    built = adapter.build(engine, http)
    yield built
    _closed(built)


def _source(network: Network, kind: str):
    """The network's source of `kind`, or None after asserting it declares the kind absent."""
    if kind not in network.info.kinds:
        assert kind not in network.sources, f"{network.name} has a {kind} source but does not list the kind"
        return None
    assert kind in network.sources, f"{network.name} lists {kind} but has no {kind} source when configured"
    return network.sources[kind]


def _ids(page: Page) -> list[str]:
    return [p.external_id for p in page.posts]


def _stored_post(adapter: Adapter, network: Network, engine: Engine):
    """A customer's post as the app has it: fetched by the network's first source and stored (a case)."""
    kind = network.info.kinds[0]
    external_id = adapter.post(kind)
    page = network.sources[kind].fetch(adapter.query(kind), None)
    [post] = [p for p in page.posts if p.external_id == external_id]
    with session_scope(engine) as session:
        stored = ingest.store_page(session=session, posts=[post], rule_id=None, channel_id="C1", now=utcnow())
    [case_id] = stored.new_case_ids
    return post, case_id


# --- 1. pages resume and never skip --------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_pages_resume_and_never_skip(adapter: Adapter, network: Network, kind: str) -> None:
    source = _source(network, kind)
    if source is None:
        return
    query, size = adapter.query(kind), adapter.page_size[kind]

    def fetch(cursor):
        return source.fetch(query, cursor)

    # A new rule takes the newest page only.
    old = [adapter.post(kind) for _ in range(size + 5)]
    first = fetch(None)
    assert adapter.requested_page_size(kind) == size
    assert first.done
    assert sorted(_ids(first)) == sorted(old[-size:])

    # Later posts: three pages' worth, walked with the stored cursors.
    new = [adapter.post(kind) for _ in range(2 * size + 7)]
    page = fetch(roundtrip(first.cursor))
    assert not page.done, "more new posts than a page, yet the walk says it is done after one page"
    walked = _ids(page)
    stored = roundtrip(page.cursor)
    late = [adapter.post(kind) for _ in range(3)]  # arrive while the walk is under way
    fetch(stored)  # fetched, then the process died before storing the page or its cursor
    rest, cursor = walk(fetch, stored)  # a restart resumes from the stored cursor
    walked += rest
    again, cursor = walk(fetch, cursor)  # the next walk
    walked += again

    assert not set(walked) & set(old), "a walk returned posts the new rule had already taken or skipped"
    assert sorted(walked) == sorted(new + late), "a new post was skipped or returned twice"
    assert set(new) <= set(walked[:len(walked) - len(again)]), "the first walk ended before its last page"

    nothing, _ = walk(fetch, cursor)  # nothing new since
    assert nothing == []


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name", NAMES)
def test_pages_never_skip_posts_that_share_a_timestamp(adapter: Adapter, network: Network, kind: str) -> None:
    source = _source(network, kind)
    if source is None:
        return
    query, size = adapter.query(kind), adapter.page_size[kind]

    def fetch(cursor):
        return source.fetch(query, cursor)

    with adapter.same_instant():  # a busy moment: everything in one millisecond
        for _ in range(size + 5):
            adapter.post(kind)
        first = fetch(None)
        new = [adapter.post(kind) for _ in range(2 * size + 7)]
    walked, cursor = walk(fetch, roundtrip(first.cursor))
    assert len(walked) == len(set(walked)), "a walk returned a post twice"
    assert not set(walked) & set(_ids(first)), "a walk returned a post the new rule had already taken"
    missing = set(new) - set(walked)
    assert not missing, f"{len(missing)} of {len(new)} new posts sharing one timestamp were skipped"
    assert walk(fetch, cursor)[0] == []


# --- 2. rate limits, outages, credentials ---------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_rate_limits_raise_rate_limited_with_the_networks_reset(adapter: Adapter, network: Network,
                                                                kind: str) -> None:
    source = _source(network, kind)
    if source is None:
        return
    adapter.post(kind)
    reset = adapter.rate_limit_next(kind)
    with pytest.raises(RateLimited) as limited:
        source.fetch(adapter.query(kind), None)
    assert limited.value.reset_at == reset
    assert limited.value.reset_at.tzinfo is not None


@pytest.mark.parametrize("kind", KINDS)
def test_outages_raise_source_unavailable(adapter: Adapter, network: Network, engine: Engine, kind: str) -> None:
    source = _source(network, kind)
    if source is None:
        return
    query = adapter.query(kind)
    posted = adapter.post(kind)
    adapter.unavailable_next(kind)
    with pytest.raises(SourceUnavailable):
        source.fetch(query, None)
    assert posted in _ids(source.fetch(query, None)), "the fetch after an outage did not work"

    assert adapter.connection_faults, "each adapter injects at least one connection fault"
    with httpx.Client(timeout=adapter.short_timeout) as impatient:
        fragile = adapter.build(engine, impatient)
        try:
            fragile.sources[kind].fetch(query, None)  # signed in before the fault
            for fault in adapter.connection_faults:
                adapter.break_connection_next(kind, fault)
                with pytest.raises(SourceUnavailable):
                    fragile.sources[kind].fetch(query, None)
        finally:
            _closed(fragile)


@pytest.mark.parametrize("kind", KINDS)
def test_bad_credentials_raise_source_rejected_naming_the_setting(adapter: Adapter, engine: Engine,
                                                                 http: httpx.Client, kind: str) -> None:
    refused = adapter.build(engine, http, **adapter.bad_credentials())
    try:
        source = _source(refused, kind)
        if source is None:
            return
        with pytest.raises(SourceRejected) as rejected:
            source.fetch(adapter.query(kind), None)
        assert adapter.credential_setting in str(rejected.value)
    finally:
        _closed(refused)
    unconfigured = adapter.build(engine, http, **adapter.no_credentials())
    try:
        assert kind not in unconfigured.sources
        assert adapter.credential_setting in unconfigured.missing(kind)
    finally:
        _closed(unconfigured)


def test_the_credentials_check_says_whose_they_are_or_what_to_fix(adapter: Adapter, network: Network,
                                                                   engine: Engine, http: httpx.Client) -> None:
    # `socialdesk doctor` calls it: one cheap call, a line for a person, or the setting to fix. The wrong
    # credentials first: a session the right ones signed in is kept, and rightly passes while it lasts.
    refused = adapter.build(engine, http, **adapter.bad_credentials())
    try:
        assert refused.check is not None
        with pytest.raises(SourceRejected) as rejected:
            refused.check()
        assert adapter.credential_setting in str(rejected.value)
    finally:
        _closed(refused)
    assert network.check is not None, f"{network.name} is configured but has no credentials check"
    said = network.check()
    assert isinstance(said, str) and said.strip()
    unconfigured = adapter.build(engine, http, **adapter.no_credentials())
    try:
        assert unconfigured.check is None  # nothing to check: `missing(kind)` says what to set
    finally:
        _closed(unconfigured)


# --- 3. a stream resumes from its cursor --------------------------------------------------------


def test_a_stream_resumes_from_its_cursor(adapter: Adapter, network: Network) -> None:
    if not adapter.has_stream:
        assert network.stream is None, f"{network.name} has a stream its contract adapter does not drive"
        return
    stream = network.stream
    assert stream is not None, f"{network.name} is configured with a stream but built none"
    stream.track([TrackedRule("search", adapter.query("search"), rule_id=1)])  # as the worker does with its rules
    first = StreamReader(stream, None)
    guard = threading.Timer(20, adapter.drop_stream_connections)  # a hang fails instead of blocking
    guard.start()
    try:
        assert first.wait_connected(), f"the stream did not connect: {first.error!r}"
        before = [adapter.post("search") for _ in range(3)]
        events = first.read_until(set(before))
        assert post_ids(events) == before  # live posts, in order
        [handled] = [e for e in events if e.post is not None and e.post.external_id == before[1]]
        stored = roundtrip(handled.cursor)  # the worker handled two posts and stored this
        assert not stream.is_stale(stored)

        adapter.drop_stream_connections()
        assert first.join(), "the stream did not end when its connection dropped"
        assert isinstance(first.error, SourceUnavailable), f"a dropped stream raised {first.error!r}"
        during = [adapter.post("search") for _ in range(3)]  # while nobody is connected

        resumed = StreamReader(stream, stored)
        assert resumed.wait_connected(), f"the stream did not reconnect: {resumed.error!r}"
        assert resumed.started == [stored]
        after = [adapter.post("search")]
        wanted = {before[2], *during, *after}
        got = resumed.read_until(wanted)
        assert wanted <= set(post_ids(got)), "events after the stored cursor were lost on reconnect"
        complete = stream.complete([e.post for e in got if e.post is not None and e.post.external_id in wanted])
        assert all(p.author.handle for p in complete), "stream posts were not completed with their authors"
    finally:
        guard.cancel()
        stream.close()
        adapter.drop_stream_connections()


# --- 4. replies -----------------------------------------------------------------------------------


def test_a_reply_lands_once_on_the_right_post(adapter: Adapter, network: Network, engine: Engine) -> None:
    assert network.replier is not None, f"{network.name} is signed in but has no replier"
    post, _ = _stored_post(adapter, network, engine)
    creates, brand = adapter.create_requests(), adapter.brand_posts()
    sent = network.replier.reply("Sorry to hear that! We're on it.", post.external_id, idempotency_key="contract-1")
    assert isinstance(sent, SentReply) and sent.id and sent.url.startswith("https://")
    assert sent.text == adapter.sent_text("Sorry to hear that! We're on it.", post)
    assert adapter.create_requests() == creates + 1
    assert adapter.brand_posts() == brand + 1
    assert adapter.reply_parent(sent.id) == post.external_id
    assert network.info.reply_link_id(sent.url) is not None, "the reply's own link is not one Mark as replied reads"


def test_a_reply_the_network_did_not_take_is_unavailable_and_nothing_is_created(
        adapter: Adapter, network: Network, engine: Engine) -> None:
    post, _ = _stored_post(adapter, network, engine)
    network.replier.reply("warming up", post.external_id, idempotency_key="contract-0")  # signed in already
    creates, brand = adapter.create_requests(), adapter.brand_posts()
    adapter.fail_create_next(503)
    with pytest.raises(ReplyFailed) as failed:
        network.replier.reply("Sorry!", post.external_id, idempotency_key="contract-2")
    assert failed.value.kind == "unavailable" and failed.value.retryable
    assert adapter.create_requests() == creates + 1, "a failed send was retried"
    assert adapter.brand_posts() == brand


def test_over_length_replies_are_refused(adapter: Adapter, network: Network, engine: Engine) -> None:
    post, _ = _stored_post(adapter, network, engine)
    limit = network.info.text_limit
    added = network.info.text_length(adapter.sent_text("", post))  # what the network adds (an address)
    at_limit = network.replier.reply("a" * (limit - added), post.external_id, idempotency_key="contract-3")
    assert at_limit.id
    creates, brand, requests = adapter.create_requests(), adapter.brand_posts(), adapter.all_requests()
    with pytest.raises(ReplyFailed) as failed:
        network.replier.reply("b" * (limit + 1), post.external_id, idempotency_key="contract-4")
    assert failed.value.message and not failed.value.retryable
    assert adapter.brand_posts() == brand
    if adapter.length_checked_locally:
        assert adapter.create_requests() == creates, "refused before sending, yet it was sent"
        assert adapter.all_requests() - requests <= adapter.reads_before_reply, "refused, after needless requests"
    else:  # the network's API refused it: sent once, answered with its error
        assert adapter.create_requests() == creates + 1
        assert failed.value.status is not None and 400 <= failed.value.status < 500


@pytest.mark.parametrize("name", NAMES)
def test_an_over_length_reply_fails_as_too_long(adapter: Adapter, network: Network, engine: Engine) -> None:
    post, _ = _stored_post(adapter, network, engine)
    with pytest.raises(ReplyFailed) as failed:
        network.replier.reply("b" * (network.info.text_limit + 1), post.external_id, idempotency_key="contract-5")
    assert failed.value.kind == "too_long", f"kind={failed.value.kind!r}: {failed.value.message}"


def test_the_reply_desk_sends_one_reply_per_idempotency_key(adapter: Adapter, network: Network,
                                                           engine: Engine) -> None:
    _, case_id = _stored_post(adapter, network, engine)
    desk = ReplyDesk(engine=engine, networks={network.name: network}, clock=utcnow, approvers=frozenset())
    creates = adapter.create_requests()
    first = desk.request(case_id=case_id, agent="UALICE", text="Sorry! DM us your order number.", key="view:contract")
    again = desk.request(case_id=case_id, agent="UALICE", text="Sorry! DM us your order number.", key="view:contract")
    assert first.status == "sent", first
    assert first.url and first.url.startswith("https://")
    assert again.status == "duplicate"
    assert adapter.create_requests() == creates + 1
    reply = desk.reply(first.reply_id)
    assert reply.status == "sent"


# --- 5. text length matches the network's own count ----------------------------------------------


def test_text_length_matches_the_networks_count(name: str, adapter: Adapter) -> None:
    info = registry.info(name)
    cases = adapter.text_cases()
    assert set(TEXT_CATEGORIES) <= set(cases), f"samples missing: {set(TEXT_CATEGORIES) - set(cases)}"
    assert all(cases[c] for c in TEXT_CATEGORIES)
    wrong = [(category, text, expected, info.text_length(text)) for category, samples in cases.items()
             for text, expected in samples if info.text_length(text) != expected]
    assert wrong == []


def test_text_limit_agrees_with_what_the_fake_accepts(name: str, adapter: Adapter) -> None:
    info = registry.info(name)
    limit = info.text_limit
    for unit in ("a", "日", FAMILY, JAPAN, "e\u0301"):
        weight = info.text_length(unit)
        if limit % weight:
            continue
        full = unit * (limit // weight)
        assert info.text_length(full) == limit
        assert adapter.fake_accepts(full), f"the fake refused {unit!r} x {limit // weight}, counted {limit}"
        assert info.text_length(full + "a") == limit + 1
        assert not adapter.fake_accepts(full + "a"), f"the fake took {limit + 1} by the network's count"


# --- 6. info is complete and pure --------------------------------------------------------------


def test_info_is_complete_and_pure(name: str, adapter: Adapter) -> None:
    info = registry.info(name)  # no settings, no engine, no requests
    assert isinstance(info, NetworkInfo) and info is registry.info(name)
    assert info.name == name and registry.label(name) == info.label
    assert info.label.strip() and info.icon.strip()
    assert info.text_limit > 0 and info.text_hint.strip() and info.query_hint.strip()
    assert info.query_max_length > 0
    assert info.kinds and set(info.kinds) <= set(KINDS) and len(set(info.kinds)) == len(info.kinds)
    assert set(info.kinds) <= set(info.setting_hint), "a kind without a hint of what to set"
    example = info.post_url_example
    assert example.startswith("https://")
    assert info.reply_link_id(example.rstrip("…")) is not None, f"{example!r} is not a link reply_link_id reads"
    assert info.reply_link_id("https://example.com/not/a/post") is None
    assert info.profile_url("acme_care").startswith("https://") and "acme_care" in info.profile_url("acme_care")
    if "mentions" in info.kinds:
        assert re.fullmatch(info.mentions_query, adapter.query("mentions")), \
            "the mentions query of the real account does not match info.mentions_query"
        assert info.mentions_query_example


def test_info_orders_and_links_real_posts(adapter: Adapter, network: Network) -> None:
    info = network.info
    assert info is registry.info(network.name)
    kind = info.kinds[0]
    earlier = adapter.post(kind)
    later = adapter.post(kind, reply_to=earlier)
    page = network.sources[kind].fetch(adapter.query(kind), None)
    posts = {p.external_id: p for p in page.posts}
    root, reply = posts[earlier], posts[later]
    assert info.is_newer(later, earlier) and not info.is_newer(earlier, later)
    assert not info.is_newer(earlier, earlier)
    assert root.conversation_id and reply.conversation_id == root.conversation_id
    thread = info.conversation_url(reply.conversation_id, reply.url)
    assert thread and thread.startswith("https://")
    if thread != info.conversation_url(root.conversation_id, root.url):
        # A network whose post pages show the whole thread links each post's own page (no thread page).
        assert thread == reply.url and info.conversation_url(root.conversation_id, root.url) == root.url
    for post in (root, reply):
        assert post.url.startswith("https://") and info.reply_link_id(post.url) is not None
        assert info.profile_url(post.author.handle).startswith("https://")
        # user@server handles link to the account on its own server: the name is in the link
        assert post.author.handle.split("@")[0] in info.profile_url(post.author.handle)
        assert post.network == network.name
        assert post.created_at.tzinfo is not None and post.created_at <= datetime.now(UTC) + timedelta(seconds=5)
