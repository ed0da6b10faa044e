"""BlueskyReplier against a running FakeBluesky: strong refs, facets, every failure kind."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from socialdesk.networks.base import ReplyFailed
from socialdesk.networks.bluesky.parse import split_at_uri
from socialdesk.networks.bluesky.profiles import Profiles
from socialdesk.networks.bluesky.reply import BlueskyReplier
from socialdesk.networks.bluesky.session import Session
from socialdesk.networks.bluesky.xrpc import XrpcClient
from tests.networks.bluesky.pds_fixtures import *
from tests.networks.bluesky.pds_fixtures import BRAND, MemoryStore

CREATE = "com.atproto.repo.createRecord"
GET_POSTS = "app.bsky.feed.getPosts"


@pytest.fixture
def ann(fake) -> str:
    return fake.world.add_account("ann.bsky.social", "Ann")


@pytest.fixture
def replier(xrpc, session, clock) -> BlueskyReplier:
    return BlueskyReplier(xrpc, session, resolve_handle=Profiles(xrpc, clock=clock).resolve_handle,
                          langs=("en",), clock=clock)


def sliced(text: str, facet: dict) -> str:
    return text.encode()[facet["index"]["byteStart"]:facet["index"]["byteEnd"]].decode()


def test_a_reply_to_a_thread_starter_lands_with_root_and_parent(fake, ann, replier) -> None:
    customer = fake.world.add_post(ann, "my order never arrived")
    sent = replier.reply("Sorry Ann! We're on it.", customer["uri"], idempotency_key="k1")
    stored = fake.world.posts[sent.id]
    assert stored.did == fake.world.brand_did
    ref = {"uri": customer["uri"], "cid": customer["cid"]}
    assert stored.record["reply"] == {"root": ref, "parent": ref}
    assert stored.record["langs"] == ["en"] and stored.record["text"] == "Sorry Ann! We're on it."
    _, collection, rkey = split_at_uri(sent.id)
    assert collection == "app.bsky.feed.post"
    assert sent.url == f"https://bsky.app/profile/{BRAND}/post/{rkey}"
    assert sent.text == "Sorry Ann! We're on it."


def test_a_reply_deep_in_a_thread_keeps_the_threads_root(fake, ann, replier) -> None:
    root = fake.world.add_post(fake.world.brand_did, "Any questions? Ask us")
    middle = fake.world.add_post(ann, "yes, where is my order", reply_to=root["uri"])
    sent = replier.reply("Checking now", middle["uri"], idempotency_key="k2")
    reply = fake.world.posts[sent.id].record["reply"]
    assert reply["root"] == {"uri": root["uri"], "cid": root["cid"]}
    assert reply["parent"] == {"uri": middle["uri"], "cid": middle["cid"]}


def test_facets_slice_to_the_right_text(fake, ann, replier) -> None:
    customer = fake.world.add_post(ann, "help")
    text = "Désolé 😢 @ann.bsky.social — see acme.com/help or https://acme.com/orders #support"
    sent = replier.reply(text, customer["uri"], idempotency_key="k3")
    record = fake.world.posts[sent.id].record
    assert [sliced(text, f) for f in record["facets"]] == [
        "@ann.bsky.social", "acme.com/help", "https://acme.com/orders", "#support"]
    assert record["facets"][0]["features"] == [{"$type": "app.bsky.richtext.facet#mention", "did": ann}]
    assert record["facets"][1]["features"][0]["uri"] == "https://acme.com/help"


def test_301_graphemes_are_refused_before_any_request(fake, ann, replier) -> None:
    customer = fake.world.add_post(ann, "help")
    before = len(fake.requests())
    with pytest.raises(ReplyFailed) as failed:
        replier.reply("é" * 300 + "👍🏽", customer["uri"], idempotency_key="k4")
    assert failed.value.kind == "too_long" and "301" in failed.value.message
    assert len(fake.requests()) == before
    replier.reply("e\u0301" * 300, customer["uri"], idempotency_key="k5")  # 300 graphemes, 600 code points


def test_blueskys_own_too_long_answer_is_too_long(fake, ann, replier, monkeypatch) -> None:
    customer = fake.world.add_post(ann, "help")
    fake.fail(CREATE, 400, {"error": "InvalidRequest",
                            "message": "Invalid app.bsky.feed.post record: Record/text must not be longer than 300 graphemes"})
    with pytest.raises(ReplyFailed) as failed:
        replier.reply("short", customer["uri"], idempotency_key="k6")
    assert failed.value.kind == "too_long"


def test_a_rate_limited_reply_says_when(fake, ann, replier) -> None:
    customer = fake.world.add_post(ann, "help")
    reset = datetime(2031, 2, 3, 4, 5, 6, tzinfo=UTC)
    fake.limit(CREATE, 0, reset_at=reset)
    with pytest.raises(ReplyFailed) as failed:
        replier.reply("hello", customer["uri"], idempotency_key="k7")
    assert failed.value.kind == "rate_limited" and failed.value.reset_at == reset
    assert "04:05" in failed.value.message


def test_a_deleted_post_is_gone(fake, ann, replier) -> None:
    customer = fake.world.add_post(ann, "help")
    fake.world.delete_post(customer["uri"])
    with pytest.raises(ReplyFailed) as failed:
        replier.reply("hello", customer["uri"], idempotency_key="k8")
    assert failed.value.kind == "gone"
    assert fake.requests(CREATE) == []


@pytest.mark.parametrize(("path", "status"), [(GET_POSTS, 503), (CREATE, 503), (GET_POSTS, 0)])
def test_not_taken_is_unavailable(fake, ann, replier, session, path, status) -> None:
    customer = fake.world.add_post(ann, "help")
    session.access_token()
    fake.fail(path, status)
    with pytest.raises(ReplyFailed) as failed:
        replier.reply("hello", customer["uri"], idempotency_key="k9")
    assert failed.value.kind == "unavailable" and failed.value.retryable


def test_a_timeout_after_sending_is_unknown_outcome_and_not_retried(fake, ann, session, clock) -> None:
    customer = fake.world.add_post(ann, "help")
    session.access_token()
    fake.fail(CREATE, None, delay=1.0)  # the post is created, the answer comes too late
    with httpx.Client(timeout=httpx.Timeout(0.3)) as impatient:
        xrpc = XrpcClient(impatient, fake.url, session=session, clock=clock)
        with pytest.raises(ReplyFailed) as failed:
            BlueskyReplier(xrpc, session, clock=clock).reply("hello", customer["uri"], idempotency_key="k10")
    assert failed.value.kind == "unknown_outcome" and not failed.value.retryable
    assert len(fake.requests(CREATE)) == 1
    assert [p for p in fake.world.posts.values() if p.record["text"] == "hello"]  # it did land


def test_an_expired_token_is_renewed_and_the_reply_sent_once(fake, ann, replier, session) -> None:
    customer = fake.world.add_post(ann, "help")
    session.access_token()
    fake.expire_access_tokens()
    replier.reply("hello", customer["uri"], idempotency_key="k11")
    assert len([p for p in fake.world.posts.values() if p.record["text"] == "hello"]) == 1


def test_auth_trouble_is_auth(fake, ann, http, clock) -> None:
    customer = fake.world.add_post(ann, "help")
    session = Session(http=http, store=MemoryStore(), handle=BRAND, app_password="wrong",
                      service_url=fake.url, clock=clock)
    replier = BlueskyReplier(XrpcClient(http, fake.url, session=session, clock=clock), session, clock=clock)
    with pytest.raises(ReplyFailed) as failed:
        replier.reply("hello", customer["uri"], idempotency_key="k12")
    assert failed.value.kind == "auth" and "SOCIALDESK_BLUESKY_APP_PASSWORD" in failed.value.message


def test_other_refusals_are_rejected_with_the_detail(fake, ann, replier) -> None:
    customer = fake.world.add_post(ann, "help")
    fake.fail(CREATE, 400, {"error": "InvalidRequest", "message": "Record/langs must not have more than 3 elements"})
    with pytest.raises(ReplyFailed) as failed:
        replier.reply("hello", customer["uri"], idempotency_key="k13")
    assert failed.value.kind == "rejected" and "langs" in failed.value.message


def test_not_a_bluesky_post_id(replier) -> None:
    with pytest.raises(ReplyFailed) as failed:
        replier.reply("hello", "1234567890", idempotency_key="k14")
    assert failed.value.kind == "rejected"
