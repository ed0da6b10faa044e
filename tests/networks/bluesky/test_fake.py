"""FakeBluesky's own contract: its answers fit the lexicons and the recordings it imitates."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest

from socialdesk.networks.bluesky.fake.world import World, tid
from tests.networks.bluesky.pds_fixtures import *
from tests.networks.bluesky.pds_fixtures import BRAND, PASSWORD
from tests.support.refs import REFS, ref_json

LEXICONS = {doc["id"]: doc for doc in (json.loads(p.read_text()) for p in (REFS / "bluesky/lexicons").rglob("*.json"))}
_FORMATS = {
    "at-uri": re.compile(r"^at://[^/]+(/[a-zA-Z0-9.-]+(/[A-Za-z0-9._~:-]+)?)?$"),
    "cid": re.compile(r"^b[a-z2-7]{50,}$"),
    "did": re.compile(r"^did:[a-z]+:[a-zA-Z0-9._:%-]+$"),
    "datetime": re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$"),
    "handle": re.compile(r"^([a-z0-9-]+\.)+[a-z]+$"),
}
TID = re.compile(r"^[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}$")


def violations(value: Any, schema: dict, doc_id: str, path: str = "$") -> list[str]:
    """Where `value` breaks the lexicon `schema` (required fields, types, formats): a small checker."""
    kind = schema.get("type")
    if kind == "ref":
        target_id, _, name = schema["ref"].partition("#")
        target = LEXICONS.get(target_id or doc_id)
        if target is None:
            return []  # a lexicon we do not have (app.bsky.actor.defs…)
        return violations(value, target["defs"][name or "main"], target["id"], path)
    if kind in ("record",):
        return violations(value, schema["record"], doc_id, path)
    if kind == "object":
        if not isinstance(value, dict):
            return [f"{path} is not an object"]
        found = [f"{path}.{name} is missing" for name in schema.get("required", []) if name not in value]
        for name, sub in (schema.get("properties") or {}).items():
            if name in value:
                found += violations(value[name], sub, doc_id, f"{path}.{name}")
        return found
    if kind == "array":
        if not isinstance(value, list):
            return [f"{path} is not an array"]
        return [v for i, item in enumerate(value) for v in violations(item, schema["items"], doc_id, f"{path}[{i}]")]
    if kind == "string":
        if not isinstance(value, str):
            return [f"{path} is not a string"]
        pattern = _FORMATS.get(schema.get("format", ""))
        return [f"{path}={value!r} is not a {schema['format']}"] if pattern and not pattern.match(value) else []
    if kind == "integer":
        return [] if isinstance(value, int) and value >= schema.get("minimum", 0) else [f"{path} is not an integer"]
    if kind == "boolean":
        return [] if isinstance(value, bool) else [f"{path} is not a boolean"]
    return []  # unknown, union, blob…: not checked here


def output_violations(nsid: str, body: dict) -> list[str]:
    return violations(body, LEXICONS[nsid]["defs"]["main"]["output"]["schema"], nsid)


def get(http: httpx.Client, fake, nsid: str, token: str | None = None, **params: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return http.get(f"{fake.url}/xrpc/{nsid}", params=params, headers=headers)


def post(http: httpx.Client, fake, nsid: str, body: dict, token: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return http.post(f"{fake.url}/xrpc/{nsid}", json=body, headers=headers)


@pytest.fixture
def token(fake, http) -> str:
    answer = post(http, fake, "com.atproto.server.createSession", {"identifier": BRAND, "password": PASSWORD})
    assert answer.status_code == 200
    assert output_violations("com.atproto.server.createSession", answer.json()) == []
    return answer.json()["accessJwt"]


@pytest.fixture
def thread(fake, clock) -> dict:
    ann = fake.world.add_account("ann.bsky.social", "Ann", followers=3)
    first = fake.world.add_post(ann, "Where is my parcel @brand.bsky.social 📦 #help")
    clock.advance(seconds=1)
    second = fake.world.add_post(ann, "still waiting", reply_to=first["uri"])
    return {"ann": ann, "first": first, "second": second}


def test_search_answers_fit_the_lexicon_and_carry_rate_limit_headers(fake, http, token, thread) -> None:
    answer = get(http, fake, "app.bsky.feed.searchPosts", token, q="parcel")
    assert answer.status_code == 200
    assert output_violations("app.bsky.feed.searchPosts", answer.json()) == []
    [view] = answer.json()["posts"]
    assert violations(view["record"], LEXICONS["app.bsky.feed.post"]["defs"]["main"], "app.bsky.feed.post") == []
    assert set(view) >= set(ref_json("bluesky/bskyr-vcr-cassettes/decoded/f_search.json")[0]["response_body"]["posts"][0]) - {"embed"}
    for name in ("RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset", "RateLimit-Policy"):
        assert answer.headers[name]


def test_search_pages_with_an_offset_cursor(fake, http, token, clock) -> None:
    ann = fake.world.add_account("ann.bsky.social")
    for i in range(5):
        clock.advance(seconds=1)
        fake.world.add_post(ann, f"parcel {i}")
    page1 = get(http, fake, "app.bsky.feed.searchPosts", token, q="PARCEL", limit=2).json()
    page2 = get(http, fake, "app.bsky.feed.searchPosts", token, q="parcel", limit=2, cursor=page1["cursor"]).json()
    page3 = get(http, fake, "app.bsky.feed.searchPosts", token, q="parcel", limit=2, cursor=page2["cursor"]).json()
    texts = [p["record"]["text"] for page in (page1, page2, page3) for p in page["posts"]]
    assert texts == [f"parcel {i}" for i in (4, 3, 2, 1, 0)]
    assert "cursor" not in page3
    assert get(http, fake, "app.bsky.feed.searchPosts", token, q="parcel", cursor="bogus").status_code == 400


def test_reply_strong_refs_and_facets_fit_the_lexicons(fake, thread) -> None:
    record = fake.world.posts[thread["second"]["uri"]].record
    assert violations(record, LEXICONS["app.bsky.feed.post"]["defs"]["main"], "app.bsky.feed.post") == []
    assert record["reply"]["root"] == {"uri": thread["first"]["uri"], "cid": thread["first"]["cid"]}
    facets = fake.world.posts[thread["first"]["uri"]].record["facets"]
    assert [f["features"][0]["did"] for f in facets] == [fake.world.brand_did]


def test_create_record_validates_and_answers_as_recorded(fake, http, token, thread) -> None:
    brand = fake.world.brand_did
    ref = {"uri": thread["first"]["uri"], "cid": thread["first"]["cid"]}
    record = {"$type": "app.bsky.feed.post", "text": "on it", "createdAt": "2025-05-19T17:10:09.000Z",
              "reply": {"root": ref, "parent": ref}}
    ok = post(http, fake, "com.atproto.repo.createRecord",
              {"repo": brand, "collection": "app.bsky.feed.post", "record": record}, token)
    assert ok.status_code == 200 and output_violations("com.atproto.repo.createRecord", ok.json()) == []
    recorded = ref_json("bluesky/bskyr-vcr-cassettes/decoded/r_post_reply.json")[-1]["response_body"]
    assert set(ok.json()) == set(recorded)
    fetched = get(http, fake, "com.atproto.repo.getRecord", repo=brand, collection="app.bsky.feed.post",
                  rkey=ok.json()["uri"].rsplit("/", 1)[1])
    assert output_violations("com.atproto.repo.getRecord", fetched.json()) == [] and fetched.json()["value"] == record

    too_long = post(http, fake, "com.atproto.repo.createRecord",
                    {"repo": brand, "collection": "app.bsky.feed.post", "record": {**record, "text": "x" * 301}}, token)
    [recorded_error] = ref_json("bluesky/bskyr-vcr-cassettes/decoded/r_post_errors.json")
    assert (too_long.status_code, too_long.json()) == (recorded_error["status"], recorded_error["response_body"])
    bad_ref = {"uri": ref["uri"], "cid": "bafyreiwrongwrongwrongwrongwrongwrongwrongwrongwrongwron"}
    dangling = post(http, fake, "com.atproto.repo.createRecord",
                    {"repo": brand, "collection": "app.bsky.feed.post",
                     "record": {**record, "reply": {"root": ref, "parent": bad_ref}}}, token)
    assert dangling.status_code == 400 and dangling.json()["error"] == "InvalidRequest"


def test_resolve_handle_and_profiles(fake, http, token, thread) -> None:
    resolved = get(http, fake, "com.atproto.identity.resolveHandle", handle="ann.bsky.social")
    assert output_violations("com.atproto.identity.resolveHandle", resolved.json()) == []
    assert resolved.json()["did"] == thread["ann"]
    assert get(http, fake, "com.atproto.identity.resolveHandle", handle="nobody.bsky.social").status_code == 400
    [profile] = get(http, fake, "app.bsky.actor.getProfiles", token, actors=[thread["ann"]]).json()["profiles"]
    assert profile["followersCount"] == 3 and profile["handle"] == "ann.bsky.social"


def test_sessions_expire_and_refresh_tokens_are_single_use(fake, http, token, clock) -> None:
    assert get(http, fake, "app.bsky.feed.searchPosts", token, q="x").status_code == 200
    clock.advance(seconds=fake.access_ttl.total_seconds() + 1)
    expired = get(http, fake, "app.bsky.feed.searchPosts", token, q="x")
    assert (expired.status_code, expired.json()["error"]) == (400, "ExpiredToken")
    assert get(http, fake, "app.bsky.feed.searchPosts", "nonsense", q="x").status_code == 401
    login = post(http, fake, "com.atproto.server.createSession", {"identifier": BRAND, "password": PASSWORD}).json()
    refreshed = http.post(f"{fake.url}/xrpc/com.atproto.server.refreshSession",
                          headers={"Authorization": f"Bearer {login['refreshJwt']}"})
    assert refreshed.status_code == 200 and refreshed.json()["accessJwt"] != login["accessJwt"]
    again = http.post(f"{fake.url}/xrpc/com.atproto.server.refreshSession",
                      headers={"Authorization": f"Bearer {login['refreshJwt']}"})
    assert again.status_code == 400
    wrong = post(http, fake, "com.atproto.server.createSession", {"identifier": BRAND, "password": "nope"})
    assert (wrong.status_code, wrong.json()["error"]) == (401, "AuthenticationRequired")


def test_logins_are_limited_like_bluesky(fake, http) -> None:
    statuses = [post(http, fake, "com.atproto.server.createSession", {"identifier": BRAND, "password": PASSWORD}).status_code
                for _ in range(31)]
    assert statuses == [200] * 30 + [429]


def test_notifications_of_the_brand(fake, http, token, thread) -> None:
    body = get(http, fake, "app.bsky.notification.listNotifications", token).json()
    assert [n["reason"] for n in body["notifications"]] == ["mention"]
    for notification in body["notifications"]:
        assert {"uri", "cid", "author", "reason", "record", "isRead", "indexedAt"} <= set(notification)


def test_posts_are_announced_as_jetstream_commits(clock) -> None:
    world = World(clock=clock)
    events: list[dict] = []
    world.subscribe(events.append)
    ann = world.add_account("ann.bsky.social")
    created = world.add_post(ann, "hello", langs=("en",))
    world.delete_post(created["uri"])
    golden = [json.loads(line) for line in
              (REFS / "bluesky/jetstream/internal_subscribe_testdata_golden_v1.jsonl").read_text().splitlines() if line]
    golden_post = next(e for e in golden if e["commit"]["collection"] == "app.bsky.feed.post" if "commit" in e)
    golden_delete = next(e for e in golden if e.get("commit", {}).get("operation") == "delete")
    create, delete = events
    assert set(create) == set(golden_post) and set(create["commit"]) == set(golden_post["commit"])
    assert set(delete) == set(golden_delete) and set(delete["commit"]) == set(golden_delete["commit"])
    assert create["commit"]["rkey"] == created["rkey"] and create["commit"]["record"]["text"] == "hello"
    assert delete["commit"]["rkey"] == created["rkey"] and delete["time_us"] > create["time_us"]
    assert TID.match(created["rkey"]) and _FORMATS["cid"].match(created["cid"]) and created["cid"].startswith("bafyrei")


def test_tids_sort_by_time() -> None:
    keys = [tid(micros, 5) for micros in (1_700_000_000_000_000, 1_700_000_000_000_001, 1_800_000_000_000_000)]
    assert keys == sorted(keys) and all(TID.match(k) for k in keys)
    assert tid(0, 0) == "2222222222222"


def test_faults_are_taken_in_order_and_logged(fake, http, token) -> None:
    fake.fail("app.bsky.feed.searchPosts", 503, times=2)
    codes = [get(http, fake, "app.bsky.feed.searchPosts", token, q="x").status_code for _ in range(3)]
    assert codes == [503, 503, 200]
    logged = fake.requests("app.bsky.feed.searchPosts")
    assert [r.query["q"] for r in logged] == [["x"]] * 3 and logged[0].method == "GET"


def test_the_lexicon_checker_itself_catches_a_broken_answer() -> None:
    broken = {"posts": [{"uri": "https://not-at", "cid": "bafyreiabc", "author": {}, "record": {}}]}
    found = output_violations("app.bsky.feed.searchPosts", broken)
    assert "$.posts[0].indexedAt is missing" in found
    assert any("is not a at-uri" in v for v in found) and any("is not a cid" in v for v in found)
