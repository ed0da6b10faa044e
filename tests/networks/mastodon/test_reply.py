"""MastodonReplier against a running FakeMastodon: mention, visibility, Idempotency-Key, every failure kind."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from socialdesk.networks.base import ReplyFailed
from socialdesk.networks.mastodon.api import MastodonApi
from socialdesk.networks.mastodon.fake.rest import FakeMastodon
from socialdesk.networks.mastodon.fake.world import MastodonWorld
from socialdesk.networks.mastodon.reply import (
    MastodonReplier,
    reply_visibility,
    with_mention,
)
from socialdesk.networks.mastodon.threads import Threads

STATUSES = "/api/v1/statuses"


@pytest.fixture
def replier(api, threads) -> MastodonReplier:
    return MastodonReplier(api, threads)


@pytest.fixture
def ann(fake):
    return fake.world.add_account("ann", "Ann", domain="social.example")


def sent_forms(fake) -> list[dict]:
    return [r.form for r in fake.requests(STATUSES, method="POST")]


def test_a_reply_mentions_the_customer_and_answers_their_post(fake, ann, replier, threads) -> None:
    customer = fake.world.add_status(ann, "#acme my phone died")
    sent = replier.reply("Sorry to hear that! Which model?", customer["id"], idempotency_key="k1")
    assert sent.text == "@ann@social.example Sorry to hear that! Which model?"
    status = fake.world.statuses[sent.id]
    assert status["in_reply_to_id"] == customer["id"] and status["account"]["id"] == fake.world.brand.id
    assert status["visibility"] == "public" and [m["acct"] for m in status["mentions"]] == ["ann@social.example"]
    assert sent.url == status["url"] and sent.url.startswith("https://mastodon.example/@acmecare/")
    [request] = fake.requests(STATUSES, method="POST")
    assert request.headers["idempotency-key"] == "k1"
    assert request.form == {"status": sent.text, "in_reply_to_id": customer["id"], "visibility": "public"}
    assert threads.known_root({"id": "x", "in_reply_to_id": sent.id}) == customer["id"]


def test_a_mention_already_written_is_not_added_again(fake, ann, replier) -> None:
    customer = fake.world.add_status(ann, "help")
    sent = replier.reply("@ann@social.example on it", customer["id"], idempotency_key="k2")
    assert sent.text == "@ann@social.example on it"
    local = fake.world.add_account("bea")
    mine = fake.world.add_status(local, "help too")
    assert replier.reply("@bea @other hi", mine["id"], idempotency_key="k3").text == "@bea @other hi"
    assert replier.reply("hi @bea", mine["id"], idempotency_key="k4").text == "@bea hi @bea"


@pytest.mark.parametrize("theirs", ["public", "unlisted", "private", "direct"])
def test_the_reply_is_no_wider_than_the_customers_post(fake, ann, replier, theirs) -> None:
    text = "help @acmecare@mastodon.example" if theirs in ("private", "direct") else "help"
    customer = fake.world.add_status(ann, text, visibility=theirs)
    sent = replier.reply("on it", customer["id"], idempotency_key=f"v-{theirs}")
    assert fake.world.statuses[sent.id]["visibility"] == theirs
    assert sent_forms(fake)[-1]["visibility"] == theirs


def test_visibility_and_mentions_are_pure_rules() -> None:
    assert [reply_visibility(v) for v in ("public", "unlisted", "private", "direct", "limited", None)] == [
        "public", "unlisted", "private", "direct", "direct", "direct"]
    assert with_mention("thanks", "ann", "mastodon.example") == "@ann thanks"
    assert with_mention("@Ann@Mastodon.example thanks", "ann", "mastodon.example") == "@Ann@Mastodon.example thanks"
    assert with_mention("  thanks", "ann@social.example", "x") == "@ann@social.example thanks"


def test_the_same_key_never_posts_twice(fake, ann, replier) -> None:
    customer = fake.world.add_status(ann, "help")
    first = replier.reply("on it", customer["id"], idempotency_key="same")
    again = replier.reply("on it", customer["id"], idempotency_key="same")
    assert again.id == first.id
    assert [s for s in fake.world.statuses.values() if s["in_reply_to_id"] == customer["id"]] == \
        [fake.world.statuses[first.id]]


def test_over_the_instances_limit_is_refused_before_sending(clock, http) -> None:
    world = MastodonWorld(clock=clock, max_characters=100, characters_reserved_per_url=23)
    with FakeMastodon(world) as fake:
        api = MastodonApi(http, fake.url, world.brand_token, clock=clock)
        replier = MastodonReplier(api, Threads(api))
        customer = world.add_status(world.add_account("ann", domain="social.example"), "help")
        prefix = len("@ann ")  # a mention counts its local part only
        with pytest.raises(ReplyFailed) as failed:
            replier.reply("x" * (100 - prefix + 1), customer["id"], idempotency_key="long")
        assert failed.value.kind == "too_long" and "101" in failed.value.message and "100" in failed.value.message
        assert fake.requests(STATUSES, method="POST") == []
        link = "https://acme.example/" + "a" * 200
        sent = replier.reply(f"{link} " + "x" * (100 - prefix - 24), customer["id"], idempotency_key="fits")
        assert sent.id in world.statuses  # the fake counts as we do: 100 exactly


def test_mastodons_own_refusals_are_explained(fake, ann, replier, clock) -> None:
    customer = fake.world.add_status(ann, "help")
    cases = [
        (422, {"error": "Validation failed: Text character limit of 500 exceeded"}, "too_long"),
        (422, {"error": "Validation failed: Text can't be blank"}, "rejected"),
        (401, {"error": "The access token is invalid"}, "auth"),
        (403, {"error": "This action is outside the authorized scopes"}, "auth"),
        (404, {"error": "Record not found"}, "gone"),
        (503, {"error": "Service Unavailable"}, "unavailable"),
    ]
    for status, body, kind in cases:
        fake.fail(STATUSES, status, body=body, method="POST")
        with pytest.raises(ReplyFailed) as failed:
            replier.reply("on it", customer["id"], idempotency_key=f"f{status}{kind}")
        assert (failed.value.kind, failed.value.status) == (kind, status), body
        assert failed.value.message
    assert fake.requests(STATUSES, method="POST") and not [
        s for s in fake.world.statuses.values() if s["in_reply_to_id"] == customer["id"]]
    assert "SOCIALDESK_MASTODON_TOKEN" in _failure(fake, replier, customer["id"], 401).message


def _failure(fake, replier, status_id: str, status: int) -> ReplyFailed:
    fake.fail(STATUSES, status, method="POST")
    with pytest.raises(ReplyFailed) as failed:
        replier.reply("on it", status_id, idempotency_key=f"again{status}")
    return failed.value


def test_a_spent_posting_budget_is_rate_limited_with_its_reset(fake, ann, replier, clock) -> None:
    customer = fake.world.add_status(ann, "help")
    reset = clock() + timedelta(minutes=30)
    fake.limit(STATUSES, 0, reset_at=reset)
    with pytest.raises(ReplyFailed) as failed:
        replier.reply("on it", customer["id"], idempotency_key="rl")
    assert failed.value.kind == "rate_limited" and failed.value.retryable
    assert abs(failed.value.reset_at - reset) < timedelta(seconds=1)
    # Known spent now: the next try waits without sending.
    before = len(fake.requests(STATUSES, method="POST"))
    with pytest.raises(ReplyFailed, match="limit"):
        replier.reply("on it", customer["id"], idempotency_key="rl2")
    assert len(fake.requests(STATUSES, method="POST")) == before


def test_a_deleted_post_is_gone_before_anything_is_sent(fake, ann, replier) -> None:
    customer = fake.world.add_status(ann, "help")
    fake.world.delete_status(customer["id"])
    with pytest.raises(ReplyFailed) as failed:
        replier.reply("on it", customer["id"], idempotency_key="gone")
    assert failed.value.kind == "gone" and fake.requests(STATUSES, method="POST") == []
    with pytest.raises(ReplyFailed) as odd:
        replier.reply("on it", "at://not-mastodon", idempotency_key="odd")
    assert odd.value.kind == "rejected"


def test_no_answer_after_sending_is_an_unknown_outcome_and_a_retry_posts_nothing_new(fake, ann, clock) -> None:
    customer = fake.world.add_status(ann, "help")
    with httpx.Client(timeout=0.5) as impatient:
        api = MastodonApi(impatient, fake.url, fake.world.brand_token, clock=clock)
        replier = MastodonReplier(api, Threads(api))
        fake.fail(STATUSES, None, delay=1.5, method="POST")  # posted, answered too late
        with pytest.raises(ReplyFailed) as failed:
            replier.reply("on it", customer["id"], idempotency_key="slow")
        assert failed.value.kind == "unknown_outcome" and not failed.value.retryable
        fake.fail(STATUSES, 0, method="POST", after_handling=True)  # posted, connection lost
        with pytest.raises(ReplyFailed) as dropped:
            replier.reply("on it too", customer["id"], idempotency_key="dropped")
        assert dropped.value.kind == "unknown_outcome"
        retried = replier.reply("on it", customer["id"], idempotency_key="slow")
    replies = [s for s in fake.world.statuses.values() if s["in_reply_to_id"] == customer["id"]]
    assert retried.id in {s["id"] for s in replies} and len(replies) == 2  # "slow" once, "dropped" once


def test_an_unreachable_instance_is_unavailable(fake, ann, http, clock) -> None:
    customer = fake.world.add_status(ann, "help")
    api = MastodonApi(http, "http://127.0.0.1:9", fake.world.brand_token, clock=clock)
    with pytest.raises(ReplyFailed) as failed:
        MastodonReplier(api, Threads(api)).reply("on it", customer["id"], idempotency_key="down")
    assert failed.value.kind == "unavailable" and failed.value.retryable
