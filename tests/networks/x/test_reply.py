"""Public replies against FakeX over HTTP: each way X says no, in X's own words."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import Engine

from socialdesk.networks.x.fake import data as d
from socialdesk.networks.x.fake.server import TOKEN_PATH, FakeX
from socialdesk.networks.x.auth import XUserAuth
from socialdesk.networks.x.links import intent_url
from socialdesk.networks.x.reply import ReplyFailed, SentReply, XReplier, post_url
from socialdesk.networks.base import BilledReads
from socialdesk.networks.x import network as x_network
from socialdesk.networks.x.settings import XSettings
from tests.networks.x.test_auth import Clock, brand, engine, fake, oauth1_settings, sign_in, x_settings  # noqa: F401

CREATE = "/2/tweets"


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def replier(fake: FakeX, http: httpx.Client, engine: Engine, clock: Clock) -> XReplier:
    settings = x_settings(fake)
    sign_in(fake, settings, http, engine, clock)
    auth = XUserAuth(settings, http=http, credentials=brand(engine), clock=clock)
    return XReplier(http=http, api_url=fake.url, auth=auth, clock=clock)


@pytest.fixture
def question(fake: FakeX) -> dict:
    return fake.post(username="dana_k", text="@acmephones my Acme X3 screen cracked, is that covered?")


def failure(replier: XReplier, text: str, to: str) -> ReplyFailed:
    with pytest.raises(ReplyFailed) as caught:
        replier.reply(text, to, idempotency_key="case-1-reply-1")
    return caught.value


def own_posts(fake: FakeX) -> int:
    return fake.own_user["public_metrics"]["tweet_count"]


def test_a_sent_reply_is_a_reply_on_x(fake: FakeX, replier: XReplier, question: dict) -> None:
    text = "@dana_k Sorry! Acme Care covers 1 screen & 1 battery <a year>."
    sent = replier.reply(text, question["id"], idempotency_key="k")
    assert sent == SentReply(sent.id, f"https://x.com/acmephones/status/{sent.id}", text,  # not X's &amp;
                             billed=(BilledReads("created", (sent.id,)),))  # X bills a post created
    fields = "author_id,referenced_tweets,in_reply_to_user_id,conversation_id"
    posted = httpx.get(f"{fake.url}/2/tweets/{sent.id}", params={"tweet.fields": fields},
                       headers={"Authorization": f"Bearer {fake.bearer_token}"}).json()
    assert posted["data"]["referenced_tweets"] == [{"type": "replied_to", "id": question["id"]}]
    assert posted["data"]["author_id"] == fake.own_user["id"]
    assert posted["data"]["in_reply_to_user_id"] == question["author_id"]
    assert fake.requests_to(CREATE, method="POST")[0].json() == {
        "text": text, "reply": {"in_reply_to_tweet_id": question["id"]}}


def test_a_reply_with_a_url_is_billed_as_a_post_created_with_a_url(fake: FakeX, replier: XReplier,
                                                                    question: dict) -> None:
    """X bills "Post: Create (with URL)" at $0.200, not $0.015 (refs/x/docs/pricing.mdx)."""
    for n, text in enumerate(("@dana_k See https://acme.example/care for the steps", "@dana_k see acme.com/care")):
        sent = replier.reply(text + f" ({n})", question["id"], idempotency_key=f"k{n}")
        assert sent.billed == (BilledReads("created_url", (sent.id,)),)
    plain = replier.reply("@dana_k Sorry about that. We are on it.", question["id"], idempotency_key="k3")
    assert plain.billed == (BilledReads("created", (plain.id,)),)
    billing = x_network.billing(XSettings())
    assert (billing.rates["created_url"], billing.rates["created"]) == (0.200, 0.015)
    assert billing.labels["created_url"] == "posts created with a URL"


def test_oauth1_keys_reply_too(fake: FakeX, http: httpx.Client, engine: Engine, question: dict) -> None:
    auth = XUserAuth(oauth1_settings(fake), http=http, credentials=brand(engine))
    sent = XReplier(http=http, api_url=fake.url, auth=auth).reply("@dana_k on it", question["id"], idempotency_key="k")
    assert sent.url == post_url("acmephones", sent.id)
    assert fake.requests_to(CREATE, method="POST")[0].headers["authorization"].startswith("OAuth ")


@pytest.mark.parametrize("body", [d.REPLY_NOT_ENGAGED, d.REPLY_ONLY_MENTIONED], ids=["engaged", "mentioned"])
def test_replies_to_people_who_did_not_mention_the_brand_are_not_allowed(fake: FakeX, replier: XReplier,
                                                                         question: dict, body: dict) -> None:
    fake.restrict_replies, fake.reply_restriction_body = True, body
    stranger = fake.post(username="lena", text="Anyone know if Acme ships to Canada?")
    refused = failure(replier, "@lena Yes, in 5 days!", stranger["id"])
    assert (refused.kind, refused.status, refused.retryable) == ("not_allowed", 403, False)
    assert refused.detail == body["detail"]
    assert "@acmephones" in refused.message and "Mark as replied" in refused.message
    # Allowed: a post that mentions the brand, and a reply to one of the brand's posts.
    first = replier.reply("@dana_k We can help!", question["id"], idempotency_key="k2")
    answer = fake.post(username="dana_k", text="thanks, what next?", in_reply_to=first.id)
    assert replier.reply("@dana_k DM us your order number", answer["id"], idempotency_key="k3").id
    assert own_posts(fake) == 2


def test_duplicate_text_is_refused(replier: XReplier, question: dict) -> None:
    replier.reply("@dana_k Thanks for reaching out & sorry!", question["id"], idempotency_key="k1")
    refused = failure(replier, "@dana_k Thanks for reaching out & sorry!", question["id"])
    assert (refused.kind, refused.detail) == ("duplicate", d.DUPLICATE_CONTENT["detail"])
    assert "Change the wording" in refused.message


def test_deleted_or_protected_posts_are_gone(fake: FakeX, replier: XReplier) -> None:
    assert failure(replier, "@nobody hi", "1234567890").kind == "gone"
    hidden = fake.post(username="private_pat", text="@acmephones my phone is broken")
    fake._users[hidden["author_id"]]["protected"] = True
    refused = failure(replier, "@private_pat hi", hidden["id"])
    assert (refused.kind, refused.detail) == ("gone", d.REPLY_TARGET_GONE["detail"])


def test_no_sign_in_is_an_auth_failure_that_names_the_command(fake: FakeX, http: httpx.Client, engine: Engine,
                                                             question: dict) -> None:
    replier = XReplier(http=http, api_url=fake.url, auth=XUserAuth(x_settings(fake), http=http, credentials=brand(engine)))
    refused = failure(replier, "@dana_k hi", question["id"])
    assert refused.kind == "auth" and "`socialdesk auth x`" in refused.message
    assert fake.requests_to(CREATE) == []


def test_a_rejected_token_is_renewed_once_and_the_reply_resent(fake: FakeX, replier: XReplier, question: dict,
                                                              clock: Clock) -> None:
    fake.clock = lambda: time.time() + 7300  # X ended the token early; our clock says it is fine
    sent = replier.reply("@dana_k hello again", question["id"], idempotency_key="k")
    first, second = (r.headers["authorization"] for r in fake.requests_to(CREATE, method="POST"))
    assert first != second and second.startswith("Bearer ")  # refused, renewed, resent
    assert fake.token_grants("refresh_token") == ["refresh_token"]
    assert own_posts(fake) == 1 and sent.id


def test_revoked_access_is_an_auth_failure(fake: FakeX, replier: XReplier, question: dict) -> None:
    fake.revoke_user_tokens()
    refused = failure(replier, "@dana_k hi", question["id"])
    assert refused.kind == "auth" and "socialdesk auth x" in refused.message
    assert "Value passed for the token was invalid." in refused.detail


def test_an_app_only_token_is_an_auth_failure(fake: FakeX, replier: XReplier, question: dict) -> None:
    fake.fail_next(CREATE, status=403, body=d.UNSUPPORTED_AUTH, method="POST")
    refused = failure(replier, "@dana_k hi", question["id"])
    assert (refused.kind, refused.detail) == ("auth", d.UNSUPPORTED_AUTH["detail"])


def test_rate_limits_say_when_posting_works_again(fake: FakeX, replier: XReplier, question: dict) -> None:
    reset = fake.rate_limit_next(CREATE, 600, method="POST")
    refused = failure(replier, "@dana_k hi", question["id"])
    assert (refused.kind, refused.retryable) == ("rate_limited", True)
    assert refused.reset_at == datetime.fromtimestamp(reset, UTC)
    assert f"{refused.reset_at:%H:%M} UTC" in refused.message and "Nothing was sent" in refused.message
    # The 24-hour posting cap: the 15-minute window is fine, the day is not.
    day_end = int(time.time()) + 20 * 3600
    fake.fail_next(CREATE, status=429, method="POST", headers={
        "x-rate-limit-remaining": "99", "x-user-limit-24hour-limit": "100",
        "x-user-limit-24hour-remaining": "0", "x-user-limit-24hour-reset": str(day_end)})
    assert failure(replier, "@dana_k hi", question["id"]).reset_at == datetime.fromtimestamp(day_end, UTC)


def test_x_down_is_retryable(fake: FakeX, replier: XReplier, question: dict, http: httpx.Client) -> None:
    fake.unavailable_next(CREATE, method="POST")
    refused = failure(replier, "@dana_k hi", question["id"])
    assert (refused.kind, refused.retryable, refused.status) == ("unavailable", True, 503)
    with FakeX() as closed:
        dead_url = closed.url
    unreachable = XReplier(http=http, api_url=dead_url, auth=replier._auth)
    refused = failure(unreachable, "@dana_k hi", question["id"])
    assert (refused.kind, refused.retryable) == ("unavailable", True)
    assert own_posts(fake) == 0


def test_an_over_length_reply_is_too_long_with_x_detail(replier: XReplier, question: dict) -> None:
    refused = failure(replier, "@dana_k " + "x" * 280, question["id"])
    assert (refused.kind, refused.status) == ("too_long", 400)
    assert refused.detail == d.TEXT_TOO_LONG and "over 280 characters as X counts them" in refused.message


def test_a_timeout_after_sending_is_an_unknown_outcome(fake: FakeX, engine: Engine, question: dict,
                                                      clock: Clock) -> None:
    with httpx.Client(timeout=httpx.Timeout(5, read=0.3)) as slow_http:
        settings = x_settings(fake)
        sign_in(fake, settings, slow_http, engine, clock)
        replier = XReplier(http=slow_http, api_url=fake.url,
                           auth=XUserAuth(settings, http=slow_http, credentials=brand(engine), clock=clock))
        fake.fail_next(CREATE, status=200, delay=0.6, method="POST")  # X is slow, but does post it
        refused = failure(replier, "@dana_k hi", question["id"])
    assert (refused.kind, refused.retryable) == ("unknown_outcome", False)
    assert "https://x.com/acmephones/with_replies" in refused.message and "before sending it again" in refused.message
    deadline = time.monotonic() + 5
    while own_posts(fake) == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert own_posts(fake) == 1  # why the caller must not simply retry
    assert len(fake.requests_to(CREATE, method="POST")) == 1


def test_a_gateway_timeout_is_an_unknown_outcome(fake: FakeX, replier: XReplier, question: dict) -> None:
    fake.fail_next(CREATE, status=504, method="POST")
    assert failure(replier, "@dana_k hi", question["id"]).kind == "unknown_outcome"


def test_intent_and_post_urls() -> None:
    url = intent_url("@dana_k Sorry & thanks #acme", "1790000000000000000")
    assert url.startswith("https://x.com/intent/tweet?")
    assert parse_qs(urlsplit(url).query) == {"text": ["@dana_k Sorry & thanks #acme"],
                                             "in_reply_to": ["1790000000000000000"]}
    assert "%20" in url and "+" not in url
    assert post_url("acmephones", "17") == "https://x.com/acmephones/status/17"
    assert TOKEN_PATH == "/2/oauth2/token"
