"""The XRPC client and the session against a running FakeBluesky."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from socialdesk.networks.base import (
    AuthMissing,
    AuthRefused,
    AuthUnavailable,
    RateLimited,
    StoredCredential,
)
from socialdesk.networks.bluesky.session import Session, jwt_expiry
from socialdesk.networks.bluesky.xrpc import XrpcClient, XrpcRejected, XrpcUnavailable
from tests.networks.bluesky.pds_fixtures import *
from tests.networks.bluesky.pds_fixtures import BRAND, PASSWORD, MemoryStore

SEARCH = "app.bsky.feed.searchPosts"
LOGIN = "com.atproto.server.createSession"
REFRESH = "com.atproto.server.refreshSession"


def test_first_call_logs_in_once_and_stores_the_tokens(fake, xrpc, store, clock) -> None:
    xrpc.get(SEARCH, {"q": "hello"})
    xrpc.get(SEARCH, {"q": "again"})
    assert len(fake.requests(LOGIN)) == 1
    saved = store.credential
    assert saved.account_id == fake.world.brand_did and saved.account_handle == BRAND
    assert saved.expires_at == jwt_expiry(saved.access_token)
    assert saved.expires_at - clock() == fake.access_ttl
    [first, second] = fake.requests(SEARCH)
    assert first.headers["authorization"] == f"Bearer {saved.access_token}" == second.headers["authorization"]


def test_an_access_token_near_expiry_is_refreshed_not_a_new_login(fake, xrpc, store, clock) -> None:
    xrpc.get(SEARCH, {"q": "hello"})
    old = store.credential
    clock.advance(seconds=fake.access_ttl.total_seconds() - 30)  # inside the refresh margin
    xrpc.get(SEARCH, {"q": "hello"})
    assert len(fake.requests(LOGIN)) == 1
    [refresh] = fake.requests(REFRESH)
    assert refresh.headers["authorization"] == f"Bearer {old.refresh_token}"
    assert store.credential.access_token != old.access_token
    assert store.credential.refresh_token != old.refresh_token  # single use: the new one is kept
    assert fake.requests(SEARCH)[-1].headers["authorization"] == f"Bearer {store.credential.access_token}"
    assert store.locked_loads >= 1


def test_expired_token_answer_gives_one_refresh_and_one_retry(fake, xrpc, store) -> None:
    xrpc.get(SEARCH, {"q": "hello"})
    fake.expire_access_tokens()  # the server says expired although the JWT's exp is ahead
    body = xrpc.get(SEARCH, {"q": "hello"}).body
    assert body == {"posts": []}
    assert len(fake.requests(LOGIN)) == 1 and len(fake.requests(REFRESH)) == 1
    assert len(fake.requests(SEARCH)) == 3  # ok, 400 ExpiredToken, ok


def test_a_refused_refresh_gives_one_new_login(fake, xrpc, store, clock) -> None:
    xrpc.get(SEARCH, {"q": "hello"})
    clock.advance(minutes=10)
    fake.expire_access_tokens()
    fake.revoke_refresh_tokens()
    xrpc.get(SEARCH, {"q": "hello"})
    assert len(fake.requests(REFRESH)) == 1 and len(fake.requests(LOGIN)) == 2


def test_no_second_login_right_after_one(fake, xrpc, store) -> None:
    """A session refused right after signing in is not answered by signing in again (a loop)."""
    xrpc.get(SEARCH, {"q": "hello"})
    fake.expire_access_tokens()
    fake.revoke_refresh_tokens()
    with pytest.raises(AuthRefused):
        xrpc.get(SEARCH, {"q": "hello"})
    assert len(fake.requests(LOGIN)) == 1


def test_refresh_tokens_are_single_use_and_a_second_replica_reuses_the_stored_ones(fake, http, store, clock) -> None:
    one = Session(http=http, store=store, handle=BRAND, app_password=PASSWORD, service_url=fake.url, clock=clock)
    two = Session(http=http, store=store, handle=BRAND, app_password=PASSWORD, service_url=fake.url, clock=clock)
    first = one.access_token()
    fake.expire_access_tokens()
    renewed = one.renew(first)
    # The second replica saw `first` refused too; the store already has a newer token.
    assert two.renew(first) == renewed
    assert len(fake.requests(REFRESH)) == 1 and len(fake.requests(LOGIN)) == 1


def test_a_refused_login_names_the_settings_and_is_not_repeated(fake, http, store, clock) -> None:
    session = Session(http=http, store=store, handle=BRAND, app_password="wrong", service_url=fake.url, clock=clock)
    client = XrpcClient(http, fake.url, session=session, clock=clock)
    with pytest.raises(AuthRefused) as refused:
        client.get(SEARCH, {"q": "x"})
    assert "SOCIALDESK_BLUESKY_HANDLE" in str(refused.value) and "SOCIALDESK_BLUESKY_APP_PASSWORD" in str(refused.value)
    assert "App passwords" in str(refused.value)
    assert refused.value.status == 401 and refused.value.error == "AuthenticationRequired"
    with pytest.raises(AuthRefused):
        client.get(SEARCH, {"q": "x"})
    assert len(fake.requests(LOGIN)) == 1  # no login loop
    clock.advance(minutes=6)
    with pytest.raises(AuthRefused):
        client.get(SEARCH, {"q": "x"})
    assert len(fake.requests(LOGIN)) == 2  # after the cooldown, one more try


def test_nothing_configured_is_auth_missing(fake, http, clock) -> None:
    session = Session(http=http, store=MemoryStore(), handle=None, app_password=None, service_url=fake.url, clock=clock)
    with pytest.raises(AuthMissing) as missing:
        session.access_token()
    assert "SOCIALDESK_BLUESKY_APP_PASSWORD" in str(missing.value)
    assert fake.requests() == []


def test_stored_tokens_work_without_a_password(fake, http, clock) -> None:
    body = fake.issue_session(fake.world.brand_did)
    store = MemoryStore(StoredCredential(access_token=body["accessJwt"], refresh_token=body["refreshJwt"],
                                         expires_at=jwt_expiry(body["accessJwt"]), account_id=body["did"],
                                         account_handle=body["handle"]))
    session = Session(http=http, store=store, handle=None, app_password=None, service_url=fake.url, clock=clock)
    fake.expire_access_tokens()
    XrpcClient(http, fake.url, session=session, clock=clock).get(SEARCH, {"q": "x"})
    assert len(fake.requests(REFRESH)) == 1 and fake.requests(LOGIN) == []


def test_sign_in_service_down_is_auth_unavailable(fake, session) -> None:
    fake.fail(LOGIN, 503)
    with pytest.raises(AuthUnavailable):
        session.access_token()


def test_429_is_rate_limited_until_the_headers_reset(fake, xrpc) -> None:
    reset = int(datetime(2031, 1, 2, 3, 4, 5, tzinfo=UTC).timestamp())
    fake.fail(SEARCH, 429, {"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"},
              headers={"RateLimit-Remaining": "0", "RateLimit-Reset": str(reset)})
    with pytest.raises(RateLimited) as limited:
        xrpc.get(SEARCH, {"q": "x"})
    assert limited.value.reset_at == datetime(2031, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_429_with_retry_after_only(fake, xrpc, clock) -> None:
    fake.fail(SEARCH, 429, headers={"Retry-After": "42", "RateLimit-Reset": ""})
    with pytest.raises(RateLimited) as limited:
        xrpc.get(SEARCH, {"q": "x"})
    assert limited.value.reset_at == clock() + timedelta(seconds=42)


def test_quota_headers_are_returned(fake, xrpc) -> None:
    fake.limit(SEARCH, 1, reset_at=datetime(2031, 1, 1, tzinfo=UTC))
    response = xrpc.get(SEARCH, {"q": "x"})
    assert response.quota.remaining == 0 and response.quota.spent
    assert response.quota.reset_at == datetime(2031, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize("status", [500, 502, 503])
def test_5xx_is_unavailable(fake, xrpc, status) -> None:
    fake.fail(SEARCH, status)
    with pytest.raises(XrpcUnavailable) as unavailable:
        xrpc.get(SEARCH, {"q": "x"})
    assert unavailable.value.status == status


def test_a_dropped_connection_is_unavailable(fake, xrpc) -> None:
    xrpc.get(SEARCH, {"q": "warm up the session"})
    fake.fail(SEARCH, 0)
    with pytest.raises(XrpcUnavailable) as unavailable:
        xrpc.get(SEARCH, {"q": "x"})
    assert unavailable.value.maybe_sent


def test_nothing_listening_is_unavailable_and_not_sent(http, clock) -> None:
    import socket
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(XrpcUnavailable) as unavailable:
        XrpcClient(http, f"http://127.0.0.1:{port}", clock=clock).get(SEARCH, {"q": "x"}, auth=False)
    assert not unavailable.value.maybe_sent


def test_a_read_timeout_is_unavailable_and_maybe_sent(fake, session, clock) -> None:
    session.access_token()
    fake.fail(SEARCH, None, delay=1.0)
    with httpx.Client(timeout=httpx.Timeout(0.2)) as impatient:
        client = XrpcClient(impatient, fake.url, session=session, clock=clock)
        with pytest.raises(XrpcUnavailable) as unavailable:
            client.get(SEARCH, {"q": "x"})
    assert unavailable.value.maybe_sent


def test_400_is_rejected_with_blueskys_words(fake, xrpc) -> None:
    fake.fail(SEARCH, 400, {"error": "BadQueryString", "message": "could not parse query"})
    with pytest.raises(XrpcRejected) as rejected:
        xrpc.get(SEARCH, {"q": "x"})
    assert (rejected.value.status, rejected.value.error, rejected.value.detail) == (
        400, "BadQueryString", "could not parse query")
    assert "could not parse query" in str(rejected.value)


def test_tokens_and_password_are_never_logged(fake, xrpc, store, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    xrpc.get(SEARCH, {"q": "x"})
    fake.expire_access_tokens()
    xrpc.get(SEARCH, {"q": "x"})
    text = caplog.text
    assert store.credential.access_token.split(".")[2] not in text
    assert store.credential.refresh_token.split(".")[2] not in text
    assert PASSWORD not in text


def test_concurrent_callers_share_one_refresh(fake, xrpc, store) -> None:
    """Refresh tokens are single use: eight threads meeting an expired token refresh once."""
    import threading

    xrpc.get(SEARCH, {"q": "warm up"})
    fake.expire_access_tokens()
    errors: list[BaseException] = []

    def call() -> None:
        try:
            xrpc.get(SEARCH, {"q": "x"})
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=call) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert errors == []
    assert len(fake.requests(REFRESH)) == 1 and len(fake.requests(LOGIN)) == 1
