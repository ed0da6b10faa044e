"""FakeX's filtered stream and its rules answer in the shapes X's recordings and spec show.

Rules: refs/x/python-twitter-testdata/streams/ (get_rules, post_rules, delete_rules,
delete_error). The stream: the spec's FilteredStreamingTweetResponse and the documented
bodies in refs/x/derived/error_samples.json.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from socialdesk.config import Settings
from socialdesk.networks.x import auth
from socialdesk.networks.x.fake.server import FakeX
from tests.support.refs import REFS, ref_json

RULES = "/2/tweets/search/stream/rules"
STREAM = "/2/tweets/search/stream"
AUTH = {"Authorization": "Bearer sandbox-bearer"}
ERRORS = "x/derived/error_samples.json"

pytestmark = pytest.mark.skipif(not REFS.is_dir(), reason=f"{REFS} is missing")


def recorded(name: str) -> dict:
    return ref_json(f"x/python-twitter-testdata/streams/{name}.json")


@pytest.fixture
def fake() -> Iterator[FakeX]:
    with FakeX() as server:
        server.stream_keepalive_seconds = 0.05
        yield server


@pytest.fixture
def x(fake: FakeX) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=fake.url, headers=AUTH, timeout=5) as client:
        yield client


def add(x: httpx.Client, *rules: dict, **params: str) -> httpx.Response:
    return x.post(RULES, json={"add": list(rules)}, params=params)


def test_adding_answers_like_the_recording(x: httpx.Client) -> None:
    want = recorded("post_rules")
    answer = add(x, {"value": "meme", "tag": "funny things"}, {"value": "meme has:images"})
    assert answer.status_code == 201
    body = answer.json()
    assert body.keys() == want.keys()
    assert [r.keys() for r in body["data"]] == [want["data"][0].keys(), want["data"][3].keys()]
    assert all(r["id"].isdigit() and len(r["id"]) == 19 for r in body["data"])
    assert body["meta"].keys() == want["meta"].keys()
    assert want["meta"]["summary"].keys() <= body["meta"]["summary"].keys()  # the spec adds valid / invalid
    assert body["meta"]["summary"] == {"created": 2, "not_created": 0, "valid": 2, "invalid": 0}


def test_listing_answers_like_the_recording(x: httpx.Client) -> None:
    assert x.get(RULES).json()["meta"]["result_count"] == 0 and "data" not in x.get(RULES).json()
    add(x, {"value": "dog has:images", "tag": "dog pictures"}, {"value": "cat has:images -grumpy"})
    want, got = recorded("get_rules"), x.get(RULES).json()
    assert got.keys() == want.keys()
    assert [r.keys() for r in got["data"]] == [r.keys() for r in want["data"]]
    assert [r["value"] for r in got["data"]] == [r["value"] for r in want["data"]]
    assert want["meta"].keys() <= got["meta"].keys()


def test_listing_pages_and_picks_by_id(x: httpx.Client) -> None:
    made = add(x, *({"value": f"word{i}"} for i in range(5))).json()["data"]
    first = x.get(RULES, params={"max_results": 2}).json()
    rest = x.get(RULES, params={"max_results": 10, "pagination_token": first["meta"]["next_token"]}).json()
    assert [r["id"] for r in first["data"] + rest["data"]] == [r["id"] for r in made]
    assert len(first["meta"]["next_token"]) == 16 and "next_token" not in rest["meta"]
    picked = x.get(RULES, params={"ids": made[3]["id"]}).json()["data"]
    assert picked == [made[3]]


def test_deleting_answers_like_the_recording(x: httpx.Client, fake: FakeX) -> None:
    made = add(x, {"value": "meme"}).json()["data"]
    answer = x.post(RULES, json={"delete": {"ids": [made[0]["id"]]}})
    assert answer.status_code == 200
    assert answer.json().keys() == recorded("delete_rules").keys()
    assert answer.json()["meta"]["summary"] == {"deleted": 1, "not_deleted": 0}
    assert fake.stream_rules == []
    again = x.post(RULES, json={"delete": {"ids": [made[0]["id"]]}}).json()
    assert again["meta"]["summary"] == {"deleted": 0, "not_deleted": 1} and again["errors"][0]["value"] == made[0]["id"]


def test_a_body_of_the_wrong_shape_is_refused_like_the_recording(x: httpx.Client) -> None:
    answer = x.post(RULES, json={"delete": []})
    assert answer.status_code == 400
    assert answer.json() == recorded("delete_error")


def test_dry_run_validates_and_keeps_nothing(x: httpx.Client, fake: FakeX) -> None:
    body = add(x, {"value": "meme"}, {"value": "(broken"}, dry_run="true").json()
    assert body["meta"]["summary"] == {"created": 1, "not_created": 1, "valid": 1, "invalid": 1}
    assert fake.stream_rules == []
    made = add(x, {"value": "meme"}).json()["data"]
    x.post(RULES, json={"delete": {"ids": [made[0]["id"]]}}, params={"dry_run": "true"})
    assert len(fake.stream_rules) == 1


def test_refused_rules_are_named_beside_the_created_ones(x: httpx.Client, fake: FakeX) -> None:
    kept = add(x, {"value": "cat"}).json()["data"][0]
    body = add(x, {"value": "cat", "tag": "again"}, {"value": "-(x)"}, {"value": "dog"}).json()
    assert [r["value"] for r in body["data"]] == ["dog"]
    duplicate, invalid = body["errors"]
    assert duplicate == {"value": "cat", "id": kept["id"], "title": "DuplicateRule",
                         "type": "https://api.twitter.com/2/problems/duplicate-rules"}
    assert invalid["title"] == "UnprocessableEntity"
    assert invalid["details"][0] == "Rules must contain a non-negation term (at position 1)"
    assert invalid["type"] == "https://api.twitter.com/2/problems/invalid-rules"


def test_the_rule_cap_refuses_the_whole_request(x: httpx.Client, fake: FakeX) -> None:
    fake.stream_rules_max = 2
    answer = add(x, {"value": "a1"}, {"value": "a2"}, {"value": "a3"})
    assert answer.status_code == 400 and answer.json()["title"] == "RulesCapExceeded"
    assert fake.stream_rules == []


def lines(response: httpx.Response) -> Iterator[bytes]:
    buffer = b""
    for chunk in response.iter_bytes():
        buffer += chunk
        while b"\r\n" in buffer:
            line, buffer = buffer.split(b"\r\n", 1)
            yield line


def test_the_stream_sends_matching_posts_with_their_rules_and_keep_alives(x: httpx.Client, fake: FakeX) -> None:
    [rule] = add(x, {"value": "acme", "tag": "socialdesk:1"}).json()["data"]
    add(x, {"value": "phone"})
    params = {"expansions": "author_id", "tweet.fields": "author_id,created_at", "user.fields": "username"}
    with x.stream("GET", STREAM, params=params) as response:
        assert response.status_code == 200 and response.headers["transfer-encoding"] == "chunked"
        read = lines(response)
        assert next(read) == b""  # a keep-alive first: nothing was posted
        fake.post(username="dana", text="nothing here")
        made = fake.post(username="dana", text="acme phone")
        line = next(line for line in read if line)
    body = json.loads(line)
    assert list(body) == ["data", "includes", "matching_rules"]
    assert body["data"].keys() == {"id", "text", "edit_history_tweet_ids", "author_id", "created_at"}
    assert body["data"]["id"] == made["id"]
    assert body["includes"]["users"][0]["username"] == "dana"
    assert body["matching_rules"][0] == {"id": rule["id"], "tag": "socialdesk:1"}
    assert [m.keys() for m in body["matching_rules"]] == [{"id", "tag"}, {"id"}]  # a rule with no tag has none


def test_a_second_connection_gets_xs_too_many_connections(x: httpx.Client, fake: FakeX) -> None:
    with x.stream("GET", STREAM) as first:
        assert first.status_code == 200
        second = x.get(STREAM)
    assert second.status_code == 429
    assert second.json() == ref_json(ERRORS)["stream_too_many_connections_documented"]["body"]


def test_an_operational_disconnect_is_sent_then_the_connection_ends(x: httpx.Client, fake: FakeX) -> None:
    with x.stream("GET", STREAM) as response:
        read = lines(response)
        next(read)
        fake.drop_stream(operational=True)
        sent = next(line for line in read if line)
        with pytest.raises(httpx.RemoteProtocolError):  # no last chunk: the connection is cut
            next(line for line in read if line)
    assert json.loads(sent) == ref_json(ERRORS)["stream_operational_disconnect_documented"]["body"]


def test_a_connection_refused_on_purpose_only_refuses_the_stream(x: httpx.Client, fake: FakeX) -> None:
    fake.refuse_stream_next(503)
    assert x.get(RULES).status_code == 200
    assert x.get(STREAM).status_code == 503
    assert x.get(STREAM, params={"nope": "1"}).status_code == 400


def test_the_stream_and_its_rules_take_the_app_token_only(fake: FakeX) -> None:
    settings = Settings(_env_file=None, SOCIALDESK_X_API_URL=fake.url, SOCIALDESK_X_CLIENT_ID=fake.client_id,
                        SOCIALDESK_X_CLIENT_SECRET=fake.client_secret,
                        SOCIALDESK_X_AUTHORIZE_URL=fake.url + "/i/oauth2/authorize")
    verifier, challenge = auth.new_pkce()
    landed = fake.approve(auth.authorize_url(settings, state=auth.new_state(), challenge=challenge))
    with httpx.Client(timeout=5) as http:
        user = auth.exchange_code(http, settings, code=parse_qs(urlsplit(landed).query)["code"][0],
                                  verifier=verifier).access_token
    with httpx.Client(base_url=fake.url, headers={"Authorization": f"Bearer {user}"}, timeout=5) as as_user:
        assert as_user.get("/2/users/me").status_code == 200  # the token is good
        for answer in (as_user.get(RULES), as_user.post(RULES, json={"add": [{"value": "x"}]}), as_user.get(STREAM)):
            assert answer.status_code == 403 and answer.json()["title"] == "Unsupported Authentication"
