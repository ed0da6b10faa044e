"""FakeX answers in the shapes X really sends.

Each recorded search/mentions/users/create response in ../shared/refs/x is
mirrored into a fresh FakeX (same ids, authors, texts, kinds of post), the
equivalent request is made over HTTP, and the answer's keys are compared with
the recording's: top level, meta, every post, entities, includes, headers.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from socialdesk.networks.x.fake import data as d
from socialdesk.networks.x.fake.server import FakeX
from tests.support.refs import REFS, ref_json

SEARCH = "/2/tweets/search/recent"
AUTH = {"Authorization": "Bearer sandbox-bearer"}
DEFAULT_TWEET_KEYS = {"id", "text", "edit_history_tweet_ids"}
UNMODELLED = {"attachments", "geo"}  # media and places: FakeX posts have neither
# X adds these to a URL entity only when it fetched the linked page; FakeX never does.
URL_PREVIEW = {"images", "status", "title", "description", "unwound_url"}
ERRORS = "x/derived/error_samples.json"

pytestmark = pytest.mark.skipif(not REFS.is_dir(), reason=f"{REFS} is missing")


@pytest.fixture
def fake() -> Iterator[FakeX]:
    with FakeX() as server:
        yield server


def client(fake: FakeX, **kw) -> httpx.Client:
    return httpx.Client(base_url=fake.url, headers=AUTH, timeout=kw.pop("timeout", 5), **kw)


def recorded(name: str) -> dict:
    """The one interaction of a decoded tweepy cassette."""
    return ref_json(f"x/tweepy-cassettes/decoded/{name}.json")[0]


def mirror(fake: FakeX, posts: list[dict], usernames: dict[str, str]) -> None:
    """Put recorded posts into `fake` with their ids, authors, texts and kinds.

    Parents and retweeted originals that the recording only names by id are
    made up (older ids, so they sort after the recorded page).
    """
    known = {p["id"]: p for p in posts}
    made: set[str] = set()

    def user(uid: str, name: str | None = None) -> str:
        username = usernames.setdefault(uid, name or f"u{uid[-8:]}")
        fake.add_user(username=username, user_id=uid)
        return username

    for rec in sorted(known.values(), key=lambda p: int(p["id"])):
        refs = {r["type"]: r["id"] for r in rec.get("referenced_tweets", [])}
        if "retweeted" in refs and refs["retweeted"] not in known.keys() | made:
            made.add(refs["retweeted"])
            author = re.match(r"RT @(\w+): ", rec["text"])
            body = rec["text"][author.end():]
            # Longer than what fits, so FakeX's 140-point cut reproduces the recorded text.
            text = body[:-1] + " and the rest of the original" if body.endswith("…") else body
            fake.post(username=author.group(1), text=text, tweet_id=refs["retweeted"], lang=rec.get("lang", "en"))
        if "replied_to" in refs and refs["replied_to"] not in known:
            fake.post(username=user(rec["in_reply_to_user_id"]), text="the post replied to",
                      tweet_id=refs["replied_to"])
        created = datetime.fromisoformat(rec["created_at"].replace("Z", "+00:00")) if "created_at" in rec else None
        fake.post(username=user(rec.get("author_id", "1"), usernames.get(rec.get("author_id", ""))),
                  text=rec["text"], lang=rec.get("lang", "en"), in_reply_to=refs.get("replied_to"),
                  retweet_of=refs.get("retweeted"), quote_of=refs.get("quoted"), tweet_id=rec["id"],
                  created_at=created)


def assert_post_shape(got: dict, want: dict) -> None:
    assert set(got) == (set(want) - UNMODELLED) | {"edit_history_tweet_ids"}, want["id"]
    if "entities" in want:
        assert set(got["entities"]) == set(want["entities"]), want["id"]
        for kind, items in want["entities"].items():
            assert len(got["entities"][kind]) == len(items), (want["id"], kind)
            for g, w in zip(got["entities"][kind], items):
                assert set(g) >= set(w) - URL_PREVIEW and (g["start"], g["end"]) == (w["start"], w["end"])


def assert_headers_like(response: httpx.Response, recorded_headers: dict) -> None:
    assert {h.lower() for h in recorded_headers} <= set(response.headers)


# --- search: the recordings -------------------------------------------------------

@pytest.mark.parametrize("cassette", ["test_client_search_recent_tweets", "test_asyncclient_search_recent_tweets"])
def test_search_matches_the_tweepy_recording(fake: FakeX, cassette: str) -> None:
    rec = recorded(cassette)
    want = rec["response_body"]
    mirror(fake, want["data"], {})
    fake.post(username="filler", text="an older tweepy post", tweet_id=str(int(want["meta"]["oldest_id"]) - 10**9))
    with client(fake) as http:
        response = http.get(SEARCH, params={"query": "Tweepy"})  # the recorded request, as sent
    got = response.json()
    assert response.status_code == rec["status"]
    assert set(got) == set(want)
    assert set(got["meta"]) == set(want["meta"])
    assert [p["id"] for p in got["data"]] == [p["id"] for p in want["data"]]  # the same posts, newest first
    assert [p["text"] for p in got["data"]] == [p["text"] for p in want["data"]]  # RTs cut at 140 like X
    assert all(set(p) == set(w) for p, w in zip(got["data"], want["data"]))
    for key in ("newest_id", "oldest_id", "result_count"):
        assert got["meta"][key] == want["meta"][key]
    assert re.fullmatch(r"[0-9a-z]{45}", got["meta"]["next_token"])
    assert_headers_like(response, rec["response_headers"])
    assert response.headers["x-rate-limit-limit"] == rec["response_headers"]["x-rate-limit-limit"][0]
    assert response.headers["content-type"] == "application/json; charset=utf-8"


@pytest.mark.parametrize("name", ["search_tweets_for_nyc", "search_tweets_query"])
def test_search_matches_the_python_twitter_samples(fake: FakeX, name: str) -> None:
    want = ref_json(f"x/python-twitter-testdata/apis/searches/{name}.json")
    fake.recent_search_reach = None  # the recordings are years old: their ids are since_ids X would refuse now
    users = want.get("includes", {}).get("users", [])
    usernames = {u["id"]: u["username"] for u in users}
    for u in users:
        fake.add_user(username=u["username"], name=u["name"], user_id=u["id"])
    mirror(fake, want["data"] + want.get("includes", {}).get("tweets", []), usernames)
    oldest = min(int(p["id"]) for p in want["data"])
    authors = sorted({p["author_id"] for p in want["data"]})
    if "next_token" in want["meta"]:  # one more match past the page, so X would offer a next page
        fake.post(username=usernames[authors[0]], text="one more", tweet_id=str(oldest - 1))
    tweet_fields = set().union(*want["data"]) - DEFAULT_TWEET_KEYS
    params = {
        "query": " OR ".join(f"from:{usernames[a]}" for a in authors),
        "since_id": str(oldest - 2),  # leaves out the made-up parents and originals
        "tweet.fields": ",".join(sorted(tweet_fields)),
    }
    if users:
        params |= {"expansions": "author_id,referenced_tweets.id",
                   "user.fields": ",".join(sorted(set().union(*users) - {"id", "name", "username"}))}
    with client(fake) as http:
        got = http.get(SEARCH, params=params).json()
    assert set(got) == set(want)
    assert set(got["meta"]) == set(want["meta"])
    assert got["meta"]["result_count"] == want["meta"]["result_count"]
    assert [p["id"] for p in got["data"]] == [p["id"] for p in want["data"]]
    for g, w in zip(got["data"], want["data"]):
        assert_post_shape(g, w)
    if users:
        assert set(got["includes"]) == set(want["includes"])
        assert {u["id"] for u in got["includes"]["users"]} == {u["id"] for u in users}
        assert all(set(g) == set(w) for g, w in zip(got["includes"]["users"], users))
        by_id = {p["id"]: p for p in got["includes"]["tweets"]}
        for w in want["includes"]["tweets"]:
            if w["id"] in by_id:  # X expands only what the page refers to; so does FakeX
                assert_post_shape(by_id[w["id"]], w)


def test_mentions_match_the_tweepy_recording() -> None:
    rec = recorded("test_client_get_users_mentions")
    want = rec["response_body"]
    with FakeX(own_username="Twitter") as fake:
        mirror(fake, want["data"], {})
        fake.post(username="filler", text="older @Twitter post", tweet_id=str(int(want["meta"]["oldest_id"]) - 1))
        with client(fake) as http:
            response = http.get(f"/2/users/{fake.own_user['id']}/mentions")
    got = response.json()
    assert set(got) == set(want) and set(got["meta"]) == set(want["meta"])
    assert [p["id"] for p in got["data"]] == [p["id"] for p in want["data"]]
    assert all(set(p) == set(w) for p, w in zip(got["data"], want["data"]))
    assert_headers_like(response, rec["response_headers"])


def test_users_match_the_recordings(fake: FakeX) -> None:
    me, by_name = recorded("test_client_get_me"), recorded("test_client_get_user")
    full = ref_json("x/python-twitter-testdata/apis/user/user_resp.json")["data"]
    fake.add_user(username="Twitter", user_id="783214")
    with client(fake) as http:
        got_me = http.get("/2/users/me")
        got_user = http.get("/2/users/by/username/twitter")
        fields = ",".join(sorted(set(full) - {"id", "name", "username"}))
        got_full = http.get("/2/users/by/username/Twitter", params={"user.fields": fields}).json()
        missing = http.get("/2/users/by/username/nobody_here").json()
    assert set(got_me.json()["data"]) == set(me["response_body"]["data"])
    assert got_user.json()["data"] == by_name["response_body"]["data"]  # same id, name, username
    assert set(got_full["data"]) == set(full)
    assert set(got_full["data"]["public_metrics"]) == set(full["public_metrics"])
    assert_headers_like(got_me, me["response_headers"])
    assert set(missing) == {"errors"} and missing["errors"][0]["resource_type"] == "user"


@pytest.mark.parametrize("cassette", ["test_client_create_and_delete_tweet", "test_asyncclient_create_and_delete_tweet"])
def test_create_matches_the_tweepy_recording(fake: FakeX, cassette: str) -> None:
    rec = recorded(cassette)
    with client(fake) as http:
        response = http.post("/2/tweets", json=rec["request_body"])
        found = http.get(SEARCH, params={"query": rec["request_body"]["text"], "tweet.fields": "author_id"}).json()
    body = response.json()
    assert response.status_code == rec["status"] == 201
    assert set(body) == set(rec["response_body"])
    assert set(body["data"]) == set(rec["response_body"]["data"]) | {"edit_history_tweet_ids"}
    assert body["data"]["text"] == rec["response_body"]["data"]["text"]
    assert_headers_like(response, rec["response_headers"])
    assert response.headers["x-rate-limit-limit"] == rec["response_headers"]["x-rate-limit-limit"][0]
    assert response.headers["location"].endswith(f"/2/tweets/{body['data']['id']}")
    assert found["data"] == [{**body["data"], "author_id": fake.own_user["id"]}]


# --- search: behaviour ------------------------------------------------------------

def walk(http: httpx.Client, **params: str) -> list[list[str]]:
    pages, token = [], None
    while True:
        answer = http.get(SEARCH, params={**params, **({"next_token": token} if token else {})}).json()
        pages.append([p["id"] for p in answer.get("data", [])])
        token = answer["meta"].get("next_token")
        if token is None:
            return pages


def test_pagination_and_since_id_return_each_post_once_newest_first(fake: FakeX) -> None:
    made = []
    for i in range(35):
        made.append(fake.post(username=f"user{i % 4}", text=f"my phone broke #{i}")["id"])
        fake.post(username="other", text=f"unrelated {i}")
    with client(fake) as http:
        pages = walk(http, query="phone", max_results="10")
        assert [len(p) for p in pages] == [10, 10, 10, 5]
        seen = [i for page in pages for i in page]
        assert seen == sorted(made, key=int, reverse=True)
        newer = [fake.post(username="late", text=f"phone again {i}")["id"] for i in range(23)]
        again = walk(http, query="phone", since_id=seen[0], max_results="10")  # a poller's walk
        assert [i for page in again for i in page] == sorted(newer, key=int, reverse=True)
        assert http.get(SEARCH, params={"query": "phone", "since_id": newer[-1]}).json() == {"meta": {"result_count": 0}}
        older = http.get(SEARCH, params={"query": "phone", "until_id": made[1], "max_results": "10"}).json()
        assert [p["id"] for p in older["data"]] == [made[0]]


def test_nothing_found_is_x_empty_shape(fake: FakeX) -> None:
    spec = ref_json("x/openapi/xdk-latest-openapi.v2.159.json")
    schema = spec["components"]["schemas"]["Get2TweetsSearchRecentResponse"]
    assert schema["properties"]["data"]["minItems"] == 1  # so X leaves `data` out
    with client(fake) as http:
        assert http.get(SEARCH, params={"query": "nothing"}).json() == {"meta": {"result_count": 0}}


def test_fields_are_only_the_requested_ones(fake: FakeX) -> None:
    carol = fake.add_user(username="carol", followers=1234, verified=True)
    fake.post(username="carol", text="short phone", long_text="phone " + "detail " * 60)
    with client(fake) as http:
        bare = http.get(SEARCH, params={"query": "phone"}).json()
        asked = http.get(SEARCH, params={"query": "phone", "expansions": "author_id",
                                         "tweet.fields": "created_at,note_tweet,public_metrics",
                                         "user.fields": "public_metrics,verified"}).json()
    assert set(bare["data"][0]) == DEFAULT_TWEET_KEYS and "includes" not in bare
    post = asked["data"][0]
    assert set(post) == DEFAULT_TWEET_KEYS | {"created_at", "note_tweet", "public_metrics"}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z", post["created_at"])
    assert set(post["public_metrics"]) == {"retweet_count", "reply_count", "like_count", "quote_count",
                                           "bookmark_count", "impression_count"}
    assert asked["includes"]["users"] == [{"id": carol["id"], "name": "carol", "username": "carol",
                                           "public_metrics": {"followers_count": 1234, "following_count": 0,
                                                              "tweet_count": 1, "listed_count": 0},
                                           "verified": True}]


def test_an_accounts_creation_time_is_served_when_asked_and_read_by_the_source(fake: FakeX) -> None:
    from datetime import UTC, datetime

    from socialdesk.networks.x.parse import parse_search_body
    from socialdesk.networks.x.search import field_params

    fake.add_user(username="newbie", followers=3, created_at=datetime(2026, 5, 20, 8, 0, tzinfo=UTC))
    fake.post(username="newbie", text="free phone")
    fake.post(username="oldtimer", text="phone broke")
    with client(fake) as http:
        body = http.get(SEARCH, params={"query": "phone", **field_params(10)}).json()
    assert {u["username"]: u["created_at"] for u in body["includes"]["users"]} == {
        "newbie": "2026-05-20T08:00:00.000Z", "oldtimer": "2019-03-14T09:26:53.000Z"}
    posts, _, _ = parse_search_body(body)
    assert {p.author.handle: p.author.created_at.year for p in posts} == {"newbie": 2026, "oldtimer": 2019}


def test_query_operators(fake: FakeX) -> None:
    base = fake.post(username="bob", text="My Acme phone is broken", lang="en")
    fake.post(username="carol", text="x", retweet_of=base["id"])
    fake.post(username="acmephones", text="@bob sorry, DM us", in_reply_to=base["id"])
    fake.post(username="dora", text="Mi teléfono está roto, phone", lang="es")
    fake.post(username="erin", text="acmephones rocks")
    fake.post(username="finn", text="short", long_text="A long story. " * 30 + "Battery died.")

    def ids(query: str) -> list[str]:
        """Who wrote the posts `query` finds."""
        with client(fake) as http:
            answer = http.get(SEARCH, params={"query": query, "expansions": "author_id",
                                              "tweet.fields": "author_id"}).json()
        names = {u["id"]: u["username"] for u in answer.get("includes", {}).get("users", [])}
        return sorted(names[p["author_id"]] for p in answer.get("data", []))

    assert ids("PHONE") == ["bob", "carol", "dora"]  # case-insensitive; a retweet matches on the original
    assert ids("phone -is:retweet") == ["bob", "dora"]
    assert ids("phone -is:retweet lang:es") == ["dora"]
    assert ids('"acme phone"') == ["bob", "carol"]
    assert ids("acme") == ["bob", "carol"]  # whole words, like X: not "acmephones"
    assert ids("#nosuchtag") == [] and ids("@bob") == ["acmephones", "carol"]  # "RT @bob: …" mentions bob
    assert ids("from:acmephones") == ["acmephones"] and ids("-from:acmephones sorry") == []
    assert ids("sorry OR rocks") == ["acmephones", "erin"]
    assert ids("phone -is:reply -is:retweet -from:dora") == ["bob"]
    assert ids('"battery died"') == ["finn"]  # the note's text counts
    with client(fake) as http:
        bad = http.get(SEARCH, params={"query": "phone nosuch:thing"})
    assert bad.status_code == 400 and "nosuch" in bad.json()["errors"][0]["message"]


# --- errors and faults ------------------------------------------------------------

def test_no_or_wrong_token_gets_x_401(fake: FakeX) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        response = httpx.get(fake.url + SEARCH, params={"query": "x"}, headers=headers)
        assert response.status_code == 401
        assert response.json() == {"title": "Unauthorized", "type": "about:blank", "status": 401,
                                   "detail": "Unauthorized"}
        assert response.headers["content-type"] == "application/problem+json"
        assert "x-rate-limit-remaining" not in response.headers


@pytest.mark.parametrize("value", ["5", "101", "ten"])
def test_bad_max_results_is_400(fake: FakeX, value: str) -> None:
    with client(fake) as http:
        response = http.get(SEARCH, params={"query": "x", "max_results": value})
    body = response.json()
    assert response.status_code == 400
    assert body["title"] == "Invalid Request" and body["type"].endswith("/2/problems/invalid-request")
    assert body["errors"] == [{"parameters": {"max_results": [value]},
                               "message": f"The `max_results` query parameter value [{value}] is not between 10 and 100"}]


def test_missing_query_and_unknown_token_are_400(fake: FakeX) -> None:
    with client(fake) as http:
        missing = http.get(SEARCH)
        bad_token = http.get(SEARCH, params={"query": "x", "next_token": "b26v89c19zqg8o3fpzbn1e0ffhxjiofzw6po136rvbnul"})
        bad_field = http.get(SEARCH, params={"query": "x", "tweet.fields": "public_metircs"})
    assert missing.status_code == 400
    assert missing.json() == ref_json(ERRORS)["invalid_request_documented"]["body"]
    assert bad_token.status_code == 400 and "next_token" in bad_token.json()["errors"][0]["message"]
    assert bad_field.status_code == 400 and "public_metircs" in bad_field.json()["errors"][0]["message"]


def test_injected_429_carries_reset_and_the_recorded_body(fake: FakeX) -> None:
    reset = fake.rate_limit_next(SEARCH, 60)
    with client(fake) as http:
        limited = http.get(SEARCH, params={"query": "x"})
        after = http.get(SEARCH, params={"query": "x"})
    assert limited.status_code == 429
    assert limited.json() == ref_json(ERRORS)["rate_limited_429_observed"]["body"]
    assert limited.headers["x-rate-limit-reset"] == str(reset) and reset >= time.time() + 59
    assert limited.headers["x-rate-limit-remaining"] == "0"
    assert after.status_code == 200


def test_rate_limit_window_counts_down_then_429_until_reset(fake: FakeX) -> None:
    fake.set_rate_limit(SEARCH, 3, window_seconds=1.0)
    with client(fake) as http:
        answers = [http.get(SEARCH, params={"query": "x"}) for _ in range(4)]
        assert [a.status_code for a in answers] == [200, 200, 200, 429]
        assert [a.headers["x-rate-limit-remaining"] for a in answers] == ["2", "1", "0", "0"]
        assert answers[3].headers["x-rate-limit-reset"] == answers[0].headers["x-rate-limit-reset"]
        time.sleep(max(0.0, int(answers[3].headers["x-rate-limit-reset"]) - time.time()) + 0.05)
        assert http.get(SEARCH, params={"query": "x"}).status_code == 200


def test_unavailable_partial_error_and_delay(fake: FakeX) -> None:
    fake.post(username="bob", text="phone")
    fake.unavailable_next(SEARCH)
    fake.partial_error_next(SEARCH)
    fake.fail_next(SEARCH, status=200, delay=2.0)
    with client(fake) as http:
        assert http.get(SEARCH, params={"query": "phone"}).status_code == 503
        partial = http.get(SEARCH, params={"query": "phone"}).json()
        with pytest.raises(httpx.ReadTimeout):
            http.get(SEARCH, params={"query": "phone"}, timeout=0.3)
        assert http.get(SEARCH, params={"query": "phone"}).status_code == 200
    assert partial["errors"] == ref_json(ERRORS)["partial_error_in_200_documented"]["body"]["errors"]
    assert len(partial["data"]) == 1 and partial["meta"]["result_count"] == 1
    assert len(fake.requests_to(SEARCH)) == 4


def test_a_fault_narrowed_to_one_query_and_expired_page_tokens(fake: FakeX) -> None:
    for i in range(12):
        fake.post(username=f"u{i}", text=f"phone {i}")
    fake.fail_next(SEARCH, status=200, delay=2.0, query={"query": "phone"})  # one rule's search hangs
    with client(fake) as http:
        other = http.get(SEARCH, params={"query": "conversation_id:1"})  # a follow-up search beside it
        assert fake.faults_pending(SEARCH) == 1
        with pytest.raises(httpx.ReadTimeout):
            http.get(SEARCH, params={"query": "phone"}, timeout=0.3)
        assert fake.faults_pending(SEARCH) == 0
        token = http.get(SEARCH, params={"query": "phone"}).json()["meta"]["next_token"]
        fake.expire_page_tokens()
        stale = http.get(SEARCH, params={"query": "phone", "next_token": token})
    assert other.status_code == 200
    assert stale.status_code == 400 and stale.json()["title"] == "Invalid Request"
    assert stale.json()["errors"] == [{"parameters": {"next_token": [token]},
                                       "message": f"The `next_token` query parameter value [{token}] is not valid"}]


# --- posting and mentions --------------------------------------------------------------

def test_replies_mentions_and_refusals(fake: FakeX) -> None:
    question = fake.post(username="bob", text="@acmephones my phone won't charge https://example.com/pic")
    fake.post(username="carol", text="nothing to do with the brand")
    with client(fake) as http:
        mentions = http.get(f"/2/users/{fake.own_user['id']}/mentions", params={"tweet.fields": "entities"}).json()
        sent = http.post("/2/tweets", json={"text": "@bob sorry! DM us", "reply": {"in_reply_to_tweet_id": question["id"]}})
        again = http.post("/2/tweets", json={"text": "@bob sorry! DM us"})
        gone = http.post("/2/tweets", json={"text": "hi", "reply": {"in_reply_to_tweet_id": "1"}})
        too_long = http.post("/2/tweets", json={"text": "x" * 281})
        form = http.post("/2/tweets", data={"text": "hi"})
        reply = http.get(f"/2/tweets/{sent.json()['data']['id']}",
                         params={"tweet.fields": "conversation_id,in_reply_to_user_id,referenced_tweets"}).json()["data"]
    assert [p["id"] for p in mentions["data"]] == [question["id"]]
    url = mentions["data"][0]["entities"]["urls"][0]
    assert url["expanded_url"] == "https://example.com/pic" and url["url"].startswith("https://t.co/")
    assert sent.status_code == 201
    assert reply["conversation_id"] == question["conversation_id"] == question["id"]
    assert reply["in_reply_to_user_id"] == question["author_id"]
    assert reply["referenced_tweets"] == [{"type": "replied_to", "id": question["id"]}]
    assert (again.status_code, again.headers["content-type"]) == (403, "application/problem+json")
    assert "duplicate content" in again.json()["detail"]
    assert gone.status_code == 403 and "deleted or not visible" in gone.json()["detail"]
    assert too_long.status_code == 400 and "too long" in too_long.json()["errors"][0]["message"]
    assert form.status_code == 400 and "content-type of application/json" in form.json()["errors"][0]["message"]
    posted = fake.requests_to("/2/tweets", method="POST")[0]
    assert posted.json()["reply"] == {"in_reply_to_tweet_id": question["id"]}
    assert posted.headers["authorization"] == AUTH["Authorization"]


def test_post_builds_x_shaped_objects(fake: FakeX) -> None:
    original = fake.post(username="bob", text="Loving the new #AcmeX3 from @acmephones " + "so much " * 20)
    rt = fake.post(username="carol", text="", retweet_of=original["id"])
    long = fake.post(username="dan", text="", long_text="word " * 100 + "#Long @bob")
    assert int(original["id"]) < int(rt["id"]) < int(long["id"])
    assert rt["text"].startswith("RT @bob: Loving") and len(rt["text"]) == 140 and rt["text"].endswith("…")
    assert rt["referenced_tweets"] == [{"type": "retweeted", "id": original["id"]}]
    assert rt["entities"]["mentions"][0] == {"start": 3, "end": 7, "username": "bob", "id": original["author_id"]}
    assert original["entities"]["hashtags"] == [{"start": 15, "end": 22, "tag": "AcmeX3"}]
    assert len(long["text"]) <= 280 and long["text"].endswith("…")
    assert long["note_tweet"]["text"].endswith("#Long @bob")
    assert {"hashtags", "mentions"} <= set(long["note_tweet"]["entities"])
    assert original["edit_history_tweet_ids"] == [original["id"]] == [original["conversation_id"]]


def test_text_is_html_escaped_like_x_v2_and_matches_on_what_was_written():
    import httpx

    from socialdesk.networks.x.fake.server import FakeX

    with FakeX(bearer_token="t") as fx:
        original = fx.post(username="a", text="acme <b> & co")
        fx.post(username="b", text="", retweet_of=original["id"])
        body = httpx.get(fx.url + "/2/tweets/search/recent", params={"query": "acme"},
                         headers={"Authorization": "Bearer t"}).json()
    texts = sorted(t["text"] for t in body["data"])
    assert texts == ["RT @a: acme &lt;b&gt; &amp; co", "acme &lt;b&gt; &amp; co"]


def test_search_refuses_a_since_id_older_than_its_7_days_as_x_does(fake: FakeX) -> None:
    fake.post(username="dana", text="acme phone")
    old = str(d.snowflake(datetime.now(UTC) - timedelta(days=8)))
    recent = str(d.snowflake(datetime.now(UTC) - timedelta(days=6)))
    with client(fake) as http:
        refused = http.get(SEARCH, params={"query": "acme", "since_id": old})
        assert http.get(SEARCH, params={"query": "acme", "since_id": recent}).status_code == 200
    assert refused.status_code == 400
    body = refused.json()
    assert body["title"] == "Invalid Request"
    [error] = body["errors"]
    assert error["parameters"] == {"since_id": [old]}
    assert re.fullmatch(r"'since_id' must be a tweet id created after \d{4}-\d\d-\d\dT\d\d:\d\dZ\. "
                        r"Please use a 'since_id' that is larger than \d+", error["message"])
