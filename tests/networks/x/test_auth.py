"""Signing in the brand's X account and keeping it signed in, against FakeX over HTTP.

Real httpx, real SQLite (and PostgreSQL where two replicas share a database); time
is moved with an injected clock, never slept through.
"""

from __future__ import annotations

import base64
import hashlib
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, parse_qsl, urlsplit

import httpx
import pytest
from sqlalchemy import Engine

from socialdesk.config import Settings
from socialdesk.networks.x.fake import data as d
from socialdesk.networks.x.fake.server import TOKEN_PATH, FakeX
from socialdesk.networks.x.auth import (SCOPES, XAuthMissing, XTokenRefused, XUserAuth, authorize_url,
                                       exchange_code, new_pkce, new_state, refresh)
from socialdesk.store.credentials import DatabaseCredentials, get_credential, save_credential
from socialdesk.store.db import make_engine, session_scope, upgrade, utcnow


class Clock:
    """An injected `utcnow` that tests move forward."""

    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def fake() -> Iterator[FakeX]:
    with FakeX(require_user_context=True) as server:
        yield server


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path}/t.db")
    upgrade(engine)
    yield engine
    engine.dispose()


def x_settings(fake: FakeX, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "SOCIALDESK_X_API_URL": fake.url, "SOCIALDESK_X_AUTHORIZE_URL": fake.url + "/i/oauth2/authorize",
        "SOCIALDESK_X_CLIENT_ID": fake.client_id, "SOCIALDESK_X_CLIENT_SECRET": fake.client_secret,
    }
    return Settings(_env_file=None, **{**values, **overrides})


def oauth1_settings(fake: FakeX, **overrides: object) -> Settings:
    keys = fake.oauth1_keys
    four = {"SOCIALDESK_X_API_KEY": keys.consumer_key, "SOCIALDESK_X_API_SECRET": keys.consumer_secret,
            "SOCIALDESK_X_ACCESS_TOKEN": keys.token, "SOCIALDESK_X_ACCESS_SECRET": keys.token_secret}
    return x_settings(fake, **{**four, **overrides})


def approve_and_exchange(fake: FakeX, settings: Settings, http: httpx.Client, now: datetime | None = None):
    verifier, challenge = new_pkce()
    landed = fake.approve(authorize_url(settings, state=new_state(), challenge=challenge))
    code = parse_qs(urlsplit(landed).query)["code"][0]
    return exchange_code(http, settings, code=code, verifier=verifier, now=now)


def sign_in(fake: FakeX, settings: Settings, http: httpx.Client, engine: Engine, clock: Clock | None = None):
    """What `socialdesk auth x` leaves in the database."""
    tokens = approve_and_exchange(fake, settings, http, now=clock() if clock else None)
    with session_scope(engine) as session:
        save_credential(session=session, network="x", access_token=tokens.access_token,
                        refresh_token=tokens.refresh_token, expires_at=tokens.expires_at,
                        account_id=fake.own_user["id"], account_handle=fake.own_user["username"], now=utcnow())
    return tokens


def brand(engine: Engine) -> DatabaseCredentials:
    """Where the app keeps the brand's X tokens (app.build gives XUserAuth the same)."""
    return DatabaseCredentials(engine, "x")


def stored(engine: Engine):
    with session_scope(engine) as session:
        return get_credential(session=session, network="x")


def me(fake: FakeX, token: str) -> httpx.Response:
    return httpx.get(fake.url + "/2/users/me", headers={"Authorization": f"Bearer {token}"})


# --- PKCE and the authorize address -----------------------------------------------------

def test_pkce_pair_and_authorize_url_follow_x_docs(fake: FakeX) -> None:
    verifier, challenge = new_pkce()
    assert 43 <= len(verifier) <= 128 and verifier != new_pkce()[0]
    assert challenge == base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    url = authorize_url(x_settings(fake), state="st8", challenge=challenge)
    assert url.startswith(fake.url + "/i/oauth2/authorize?")
    assert "scope=tweet.read%20tweet.write%20users.read%20offline.access" in url  # %20, not +
    assert dict(parse_qsl(urlsplit(url).query)) == {
        "response_type": "code", "client_id": fake.client_id, "redirect_uri": "http://127.0.0.1:8765/x/callback",
        "scope": SCOPES, "state": "st8", "code_challenge": challenge, "code_challenge_method": "S256"}


def test_a_code_works_once_and_only_with_its_verifier(fake: FakeX, http: httpx.Client) -> None:
    settings = x_settings(fake)
    verifier, challenge = new_pkce()
    code = parse_qs(urlsplit(fake.approve(authorize_url(settings, state="s", challenge=challenge))).query)["code"][0]
    with pytest.raises(XTokenRefused) as wrong:
        exchange_code(http, settings, code=code, verifier=new_pkce()[0])
    assert wrong.value.status == 400 and wrong.value.description == d.TOKEN_BAD_CODE["error_description"]
    tokens = approve_and_exchange(fake, settings, http)
    assert tokens.refresh_token and me(fake, tokens.access_token).json()["data"]["username"] == "acmephones"
    assert timedelta(seconds=7190) < tokens.expires_at - utcnow() <= timedelta(seconds=7200)


def test_confidential_client_uses_basic_auth_and_public_client_the_form(fake: FakeX, http: httpx.Client) -> None:
    approve_and_exchange(fake, x_settings(fake), http)
    sent = fake.requests_to(TOKEN_PATH)[-1]
    expected = base64.b64encode(f"{fake.client_id}:{fake.client_secret}".encode()).decode()
    assert sent.headers["authorization"] == f"Basic {expected}"
    assert dict(parse_qsl(sent.body.decode()))["client_id"] == fake.client_id  # X wants it in the form too
    with pytest.raises(XTokenRefused, match="Missing valid authorization header"):
        approve_and_exchange(fake, x_settings(fake, SOCIALDESK_X_CLIENT_SECRET="wrong"), http)

    fake.client_secret = None  # a "Native App": public client, no secret
    approve_and_exchange(fake, x_settings(fake, SOCIALDESK_X_CLIENT_SECRET=None), http)
    sent = fake.requests_to(TOKEN_PATH)[-1]
    assert "authorization" not in sent.headers
    assert dict(parse_qsl(sent.body.decode()))["client_id"] == fake.client_id


# --- staying signed in -----------------------------------------------------------------

def test_expiring_token_is_refreshed_and_the_old_refresh_token_is_spent(fake: FakeX, http: httpx.Client,
                                                                       engine: Engine) -> None:
    settings, clock = x_settings(fake), Clock()
    first = sign_in(fake, settings, http, engine, clock)
    auth = XUserAuth(settings, http=http, credentials=brand(engine), clock=clock)
    assert auth.headers("POST", fake.url + "/2/tweets") == {"Authorization": f"Bearer {first.access_token}"}
    clock.advance(7200 - 61)
    assert auth.access_token() == first.access_token and fake.token_grants("refresh_token") == []

    clock.advance(2)  # now within 60 s of expiry
    renewed = auth.access_token()
    row = stored(engine)
    assert renewed != first.access_token and row.access_token == renewed
    assert row.refresh_token not in (None, first.refresh_token)  # rotated, and the new one saved
    assert row.expires_at == clock() + timedelta(seconds=7200)
    assert fake.token_grants("refresh_token") == ["refresh_token"]
    assert me(fake, renewed).status_code == 200
    with pytest.raises(XTokenRefused) as spent:
        refresh(http, settings, first.refresh_token)
    assert spent.value.description == "Value passed for the token was invalid."
    assert refresh(http, settings, row.refresh_token).access_token  # the rotated one works (once)


def test_concurrent_requests_refresh_once(fake: FakeX, http: httpx.Client, engine: Engine) -> None:
    settings, clock = x_settings(fake), Clock()
    sign_in(fake, settings, http, engine, clock)
    clock.advance(7200)
    auth = XUserAuth(settings, http=http, credentials=brand(engine), clock=clock)
    fake.fail_next(TOKEN_PATH, status=200, delay=0.3)  # a slow token endpoint widens the race
    start, got = threading.Barrier(2), []

    def send() -> None:
        start.wait()
        got.append(auth.headers("POST", fake.url + "/2/tweets")["Authorization"])

    threads = [threading.Thread(target=send) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert len(got) == 2 and got[0] == got[1] == f"Bearer {stored(engine).access_token}"
    assert fake.token_grants("refresh_token") == ["refresh_token"]


def test_two_replicas_sharing_a_database_refresh_once(fake: FakeX, http: httpx.Client, db_url: str) -> None:
    settings, clock = x_settings(fake), Clock()
    engines = [make_engine(db_url) for _ in range(2)]  # separate pools, as in separate processes
    try:
        upgrade(engines[0])
        sign_in(fake, settings, http, engines[0], clock)
        clock.advance(7200)
        replicas = [XUserAuth(settings, http=http, credentials=brand(e), clock=clock) for e in engines]
        fake.fail_next(TOKEN_PATH, status=200, delay=0.3)
        start, got = threading.Barrier(2), []
        threads = [threading.Thread(target=lambda a=a: (start.wait(), got.append(a.access_token())))
                   for a in replicas]
        for t in threads:
            t.start()
        for t in threads:
            t.join(15)
        assert len(got) == 2 and got[0] == got[1]
        assert fake.token_grants("refresh_token") == ["refresh_token"]
    finally:
        for e in engines:
            e.dispose()


def test_revoked_access_tells_the_admin_to_sign_in_again(fake: FakeX, http: httpx.Client, engine: Engine) -> None:
    settings, clock = x_settings(fake), Clock()
    sign_in(fake, settings, http, engine, clock)
    fake.revoke_user_tokens()  # the owner removed the app in X's settings
    clock.advance(7200)
    with pytest.raises(XTokenRefused, match="run `socialdesk auth x` again") as refused:
        XUserAuth(settings, http=http, credentials=brand(engine), clock=clock).headers("POST", fake.url + "/2/tweets")
    assert "Value passed for the token was invalid." in str(refused.value)


def test_nothing_configured_says_exactly_what_to_do(fake: FakeX, http: httpx.Client, engine: Engine) -> None:
    with pytest.raises(XAuthMissing) as missing:
        XUserAuth(x_settings(fake), http=http, credentials=brand(engine)).headers("POST", fake.url + "/2/tweets")
    message = str(missing.value)
    assert "`socialdesk auth x`" in message
    assert all(v in message for v in ("SOCIALDESK_X_API_KEY", "SOCIALDESK_X_API_SECRET",
                                      "SOCIALDESK_X_ACCESS_TOKEN", "SOCIALDESK_X_ACCESS_SECRET"))
    partial = x_settings(fake, SOCIALDESK_X_API_KEY="k", SOCIALDESK_X_API_SECRET="s")
    with pytest.raises(XAuthMissing, match="SOCIALDESK_X_ACCESS_TOKEN, SOCIALDESK_X_ACCESS_SECRET are not set"):
        XUserAuth(partial, http=http, credentials=brand(engine)).headers("POST", fake.url + "/2/tweets")


def test_account_is_looked_up_once_and_kept_on_the_credential_row(fake: FakeX, http: httpx.Client,
                                                                  engine: Engine) -> None:
    settings = x_settings(fake)
    tokens = approve_and_exchange(fake, settings, http)
    with session_scope(engine) as session:
        save_credential(session=session, network="x", access_token=tokens.access_token,
                        refresh_token=tokens.refresh_token, expires_at=tokens.expires_at,
                        account_id=None, account_handle=None, now=utcnow())
    assert XUserAuth(settings, http=http, credentials=brand(engine)).account() == (fake.own_user["id"], "acmephones")
    row = stored(engine)
    assert (row.account_id, row.account_handle) == (fake.own_user["id"], "acmephones")
    assert XUserAuth(settings, http=http, credentials=brand(engine)).account() == (fake.own_user["id"], "acmephones")
    assert len(fake.requests_to("/2/users/me")) == 1


# --- OAuth 1.0a ------------------------------------------------------------------------

def test_oauth1_signatures_are_verified_by_fakex(fake: FakeX, http: httpx.Client, engine: Engine) -> None:
    auth = XUserAuth(oauth1_settings(fake), http=http, credentials=brand(engine))
    assert auth.mode == "oauth1" and auth.account() == (fake.own_user["id"], "acmephones")
    url = fake.url + "/2/users/me?user.fields=verified,public_metrics"  # the query is signed too
    header = auth.headers("GET", url)["Authorization"]
    assert header.startswith("OAuth ") and 'oauth_signature_method="HMAC-SHA1"' in header
    assert f'oauth_consumer_key="{fake.oauth1_keys.consumer_key}"' in header
    assert http.get(url, headers={"Authorization": header}).json()["data"]["verified"] is True
    assert http.get(url, headers={"Authorization": header}).status_code == 401  # a nonce works once
    body = {"text": "signed without its JSON body"}
    created = http.post(fake.url + "/2/tweets", json=body, headers=auth.headers("POST", fake.url + "/2/tweets",
                                                                                json_body=body))
    assert created.status_code == 201
    tampered = auth.headers("GET", fake.url + "/2/users/me")
    assert http.get(fake.url + "/2/users/me?user.fields=id", headers=tampered).status_code == 401
    wrong = XUserAuth(oauth1_settings(fake, SOCIALDESK_X_API_SECRET="not-the-secret"), http=http, credentials=brand(engine))
    with pytest.raises(XTokenRefused, match="401"):
        wrong.account()


# --- FakeX's gateway ----------------------------------------------------------------------

def test_fakex_refuses_the_app_token_and_expired_user_tokens_like_x(fake: FakeX, http: httpx.Client) -> None:
    app = {"Authorization": f"Bearer {fake.bearer_token}"}
    for response in (http.get(fake.url + "/2/users/me", headers=app),
                     http.post(fake.url + "/2/tweets", json={"text": "hi"}, headers=app)):
        assert (response.status_code, response.json()) == (403, d.UNSUPPORTED_AUTH)
    assert http.get(fake.url + "/2/tweets/search/recent", params={"query": "x"}, headers=app).status_code == 200
    tokens = approve_and_exchange(fake, x_settings(fake), http)
    assert me(fake, tokens.access_token).status_code == 200
    fake.clock = lambda: utcnow().timestamp() + 7201
    assert (me(fake, tokens.access_token).status_code, me(fake, tokens.access_token).json()) == (401, d.UNAUTHORIZED)
    assert me(fake, "made-up").status_code == 401
