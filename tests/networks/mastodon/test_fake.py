"""FakeMastodon's own contract, over real HTTP: its answers have the recorded shapes, and it pages,
limits, fails, counts and keeps visibility as Mastodon does (docs/*.md)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from socialdesk.networks.mastodon.fake.markup import status_length
from socialdesk.networks.mastodon.fake.rest import FakeMastodon
from socialdesk.networks.mastodon.fake.world import MastodonWorld
from tests.support.refs import ref_json
from tests.support.clock import Clock

CASSETTES = "mastodon/mastodonpy-cassettes/decoded"
BRAND = {"Authorization": "Bearer brand-token"}


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 8, 1, 13, 53, 15, 714000, tzinfo=UTC))


@pytest.fixture
def fake(clock: Clock) -> Iterator[FakeMastodon]:
    with FakeMastodon(MastodonWorld(clock=clock)) as server:
        yield server


def links(response: httpx.Response) -> dict[str, dict[str, list[str]]]:
    return {rel: parse_qs(urlsplit(link["url"]).query) for rel, link in response.links.items()}


def recorded(name: str, index: int) -> dict:
    return ref_json(f"{CASSETTES}/{name}.json")[index]


def test_statuses_accounts_and_the_instance_have_the_recorded_fields(fake, http, clock) -> None:
    ann = fake.world.add_account("ann", "Ann", domain="other.example", followers=7)
    fake.world.add_status(ann, "my #acmephones is dead")
    [status] = http.get(f"{fake.url}/api/v1/timelines/tag/acmephones").json()
    reply = recorded("test_status_reply", 2)["response_body"]
    assert list(status) == [k for k in reply if k not in ("application", "pinned")]  # others' statuses lack both
    assert list(status["account"]) == list(reply["account"])
    assert status["account"]["acct"] == "ann@other.example" and status["account"]["followers_count"] == 7
    mine = http.post(f"{fake.url}/api/v1/statuses", data={"status": "hello"}, headers=BRAND).json()
    assert list(mine) == list(reply) and mine["application"]["name"] == "socialdesk"
    assert mine["account"]["acct"] == "acmecare" and mine["url"] == f"https://mastodon.example/@acmecare/{mine['id']}"

    instance = http.get(f"{fake.url}/api/v2/instance/").json()
    recorded_instance = recorded("test_hashtag_tl", 1)["response_body"]
    assert list(instance) == list(recorded_instance)
    assert instance["domain"] == "mastodon.example"
    assert instance["configuration"]["urls"]["streaming"] == fake.streaming.url
    assert instance["configuration"]["statuses"] == recorded_instance["configuration"]["statuses"]
    me = http.get(f"{fake.url}/api/v1/accounts/verify_credentials", headers=BRAND).json()
    assert list(me) == list(recorded("test_status_reply", 1)["response_body"])
    assert me["id"] == fake.world.brand.id and me["source"]["privacy"] == "public"
    assert http.get(f"{fake.url}/api/v1/streaming/health").text == "OK"


def test_content_is_rendered_as_mastodon_renders_it() -> None:
    world = MastodonWorld(domain="localhost:3000")
    world.add_account("mastodonpy_test_2")
    admin = world.add_account("admin")
    hoot = world.add_status(admin, "#hoot (hashtag toot)")
    same = world.add_status(admin, "@mastodonpy_test_2 same!")
    for mine, (name, index) in ((hoot, ("test_hashtag_tl", 0)), (same, ("test_status_reply", 2))):
        real = recorded(name, index)["response_body"]
        assert mine["content"].replace("https://", "http://") == real["content"]
        assert [t["name"] for t in mine["tags"]] == [t["name"] for t in real["tags"]]
        assert [m["acct"] for m in mine["mentions"]] == [m["acct"] for m in real["mentions"]]
    url = "https://www.theguardian.com/money/2019/dec/07/i-lost-my-193000-inheritance"
    status = world.add_status(admin, f'"I lost it" <b>&</b>\n\nsee {url}\nbye @nobody')
    assert status["content"] == (
        "<p>&quot;I lost it&quot; &lt;b&gt;&amp;&lt;/b&gt;</p>"
        f'<p>see <a href="{url}" target="_blank" rel="nofollow noopener" translate="no">'
        '<span class="invisible">https://www.</span><span class="ellipsis">theguardian.com/money/2019/dec</span>'
        '<span class="invisible">/07/i-lost-my-193000-inheritance</span></a><br />bye @nobody</p>')
    assert status["mentions"] == []  # an unknown account stays text


def test_ids_are_increasing_snowflakes_of_the_creation_time(fake, clock) -> None:
    ann = fake.world.add_account("ann")
    first = fake.world.add_status(ann, "a")
    second = fake.world.add_status(ann, "b")  # the same millisecond
    clock.advance(seconds=2)
    third = fake.world.add_status(ann, "c")
    ids = [int(s["id"]) for s in (first, second, third)]
    assert ids == sorted(set(ids))
    assert ids[2] >> 16 == int(clock.now.timestamp() * 1000)
    assert third["created_at"] == clock.now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{clock.now.microsecond // 1000:03d}Z"


def test_pages_back_with_max_id_and_forward_with_min_id(fake, http) -> None:
    ann = fake.world.add_account("ann")
    old = [fake.world.add_status(ann, f"#acme old {i}")["id"] for i in range(5)]
    url = f"{fake.url}/api/v1/timelines/tag/acme"
    seen, params = [], {"limit": "2"}
    while True:
        answer = http.get(url, params=params)
        if not answer.json():
            assert "link" not in answer.headers  # no Link on an empty page
            break
        seen += [s["id"] for s in answer.json()]
        params = {k: v[0] for k, v in links(answer)["next"].items()}
        assert params["limit"] == "2"  # the other parameters are kept
    assert seen == old[::-1]

    new = [fake.world.add_status(ann, f"#acme new {i}")["id"] for i in range(5)]
    forward, params = [], {"limit": "2", "min_id": old[-1]}
    while True:
        answer = http.get(url, params=params)
        if not answer.json():
            break
        page = [s["id"] for s in answer.json()]
        assert page == sorted(page, key=int, reverse=True)  # each page newest first
        forward += page[::-1]
        params = {k: v[0] for k, v in links(answer)["prev"].items()}
    assert forward == new  # nothing skipped, nothing twice
    newest_two = http.get(url, params={"limit": "2", "since_id": old[-1]}).json()
    assert [s["id"] for s in newest_two] == new[:2:-1][:2]  # since_id gives the newest, not the next
    assert len(http.get(url, params={"limit": "100"}).json()) == 10  # at most 40


def test_rate_limit_headers_429_and_the_reset(fake, http, clock) -> None:
    answer = http.get(f"{fake.url}/api/v1/timelines/public", headers=BRAND)
    assert answer.headers["X-RateLimit-Limit"] == "300" and answer.headers["X-RateLimit-Remaining"] == "299"
    reset = datetime.fromisoformat(answer.headers["X-RateLimit-Reset"])
    assert reset == datetime(2026, 8, 1, 13, 55, 0, 714000, tzinfo=UTC)  # as recorded: the 5 minutes' end
    fake.limit("*", 1)
    assert http.get(f"{fake.url}/api/v1/notifications", headers=BRAND).headers["X-RateLimit-Remaining"] == "0"
    spent = http.get(f"{fake.url}/api/v1/timelines/public", headers=BRAND)
    assert (spent.status_code, spent.json()) == (429, {"error": "Too many requests"})
    assert spent.headers["X-RateLimit-Remaining"] == "0" and spent.headers["X-RateLimit-Reset"]
    clock.advance(minutes=2)
    assert http.get(f"{fake.url}/api/v1/timelines/public", headers=BRAND).status_code == 200

    fake.limit("/api/v1/notifications", 1, reset_at=clock.now + timedelta(seconds=30))
    codes = [http.get(f"{fake.url}/api/v1/notifications", headers=BRAND).status_code for _ in range(2)]
    assert codes == [200, 429]
    assert http.get(f"{fake.url}/api/v1/timelines/public").status_code == 200  # other routes go on
    clock.advance(seconds=31)
    assert http.get(f"{fake.url}/api/v1/notifications", headers=BRAND).status_code == 200
    http.post(f"{fake.url}/api/v1/statuses", data={"status": "x"}, headers=BRAND)
    clock.advance(minutes=5)  # a new 5-minute window; posting's 3-hour one goes on, and is now the closer
    posted = http.post(f"{fake.url}/api/v1/statuses", data={"status": "y"}, headers=BRAND)
    assert posted.headers["X-RateLimit-Remaining"] == "298"
    assert posted.headers["X-RateLimit-Reset"].startswith("2026-08-01T15:00:00")


def test_faults_status_drop_and_delay(fake, http) -> None:
    fake.fail("/api/v1/timelines/tag/:hashtag", 503, times=2)
    fake.world.add_status(fake.world.add_account("ann"), "#acme")
    codes = [http.get(f"{fake.url}/api/v1/timelines/tag/acme").status_code for _ in range(3)]
    assert codes == [503, 503, 200]
    assert [r.path for r in fake.requests("/api/v1/timelines/tag/:hashtag")] == ["/api/v1/timelines/tag/acme"] * 3
    fake.fail("/api/v1/timelines/public", 0)
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        http.get(f"{fake.url}/api/v1/timelines/public")
    fake.fail("/api/v1/timelines/public", None, delay=0.2)
    with pytest.raises(httpx.ReadTimeout):
        http.get(f"{fake.url}/api/v1/timelines/public", timeout=0.05)
    fake.fail("/api/v1/statuses", 0, method="POST", after_handling=True)  # posted, but the answer is lost
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        http.post(f"{fake.url}/api/v1/statuses", data={"status": "lost answer"}, headers=BRAND)
    assert [fake.world.text_of(i) for i in fake.world.statuses][-1] == "lost answer"
    fake.fail("/api/v2/instance", 502, body="<html>Bad Gateway</html>")
    bad = http.get(f"{fake.url}/api/v2/instance")
    assert bad.status_code == 502 and bad.headers["content-type"].startswith("text/html")


def test_idempotency_key_gives_the_same_status(fake, http, clock) -> None:
    def post(key: str, text: str = "on it") -> httpx.Response:
        return http.post(f"{fake.url}/api/v1/statuses", data={"status": text},
                         headers={**BRAND, "Idempotency-Key": key})
    first, again, other = post("k1"), post("k1", "a retry"), post("k2")
    assert first.json()["id"] == again.json()["id"] != other.json()["id"]
    assert len(fake.world.statuses) == 2
    assert fake.requests("/api/v1/statuses")[0].form == {"status": "on it"}
    clock.advance(hours=1, seconds=1)  # keys are kept for an hour
    assert post("k1").json()["id"] not in (first.json()["id"], other.json()["id"])
    as_json = http.post(f"{fake.url}/api/v1/statuses", json={"status": "json", "visibility": "unlisted"}, headers=BRAND)
    assert as_json.status_code == 200 and as_json.json()["visibility"] == "unlisted"


def test_the_length_check_counts_as_mastodon(fake, http) -> None:
    fake.world.add_account("ann", domain="other.example")

    def post(text: str, **extra: str) -> httpx.Response:
        return http.post(f"{fake.url}/api/v1/statuses", data={"status": text, **extra}, headers=BRAND)
    assert post("x" * 500).status_code == 200
    too_long = post("x" * 501)
    assert (too_long.status_code, too_long.json()) == (
        422, {"error": "Validation failed: Text character limit of 500 exceeded"})
    url = "https://example.com/" + "p" * 100
    assert status_length(f"{'x' * 476} {url}") == 500 and post(f"{'x' * 476} {url}").status_code == 200
    assert post(f"{'x' * 477} {url}").status_code == 422
    mention = "@ann@other.example"  # counts as "@ann"
    assert status_length(f"{mention} {'x' * 495}") == 500 and post(f"{mention} {'x' * 495}").status_code == 200
    assert status_length("👍🏽" * 3 + "👨‍👩‍👧") == 4  # grapheme clusters
    assert post("x" * 490, spoiler_text="y" * 11).status_code == 422  # the content warning counts too
    blank = post("  ")
    assert (blank.status_code, blank.json()) == (422, {"error": "Validation failed: Text can't be blank"})
    small = FakeMastodon(max_characters=20).start()
    try:
        assert http.post(f"{small.url}/api/v1/statuses", data={"status": "x" * 21}, headers=BRAND).json() == {
            "error": "Validation failed: Text character limit of 20 exceeded"}
        assert http.get(f"{small.url}/api/v2/instance").json()["configuration"]["statuses"]["max_characters"] == 20
    finally:
        small.stop()


def test_visibility_is_kept_and_respected(fake, http) -> None:
    ann = fake.world.add_account("ann", domain="other.example")
    public = fake.world.add_status(ann, "#acme public")
    unlisted = fake.world.add_status(ann, "#acme unlisted", visibility="unlisted")
    direct = fake.world.add_status(ann, "@acmecare #acme a secret", visibility="direct")
    private = fake.world.add_status(ann, "#acme followers only", visibility="private")
    listed = http.get(f"{fake.url}/api/v1/timelines/tag/acme").json()
    assert [s["id"] for s in listed] == [public["id"]]  # only public statuses on tag timelines
    assert http.get(f"{fake.url}/api/v1/statuses/{unlisted['id']}").json()["visibility"] == "unlisted"
    assert http.get(f"{fake.url}/api/v1/statuses/{direct['id']}").status_code == 404
    assert http.get(f"{fake.url}/api/v1/statuses/{direct['id']}", headers=BRAND).json()["visibility"] == "direct"
    assert http.get(f"{fake.url}/api/v1/statuses/{private['id']}", headers=BRAND).status_code == 404
    reply = http.post(f"{fake.url}/api/v1/statuses", headers=BRAND, data={
        "status": "@ann@other.example on it", "in_reply_to_id": direct["id"], "visibility": "direct"}).json()
    assert reply["visibility"] == "direct" and reply["in_reply_to_account_id"] == ann.id
    assert fake.world.statuses[reply["id"]]["visibility"] == "direct"
    missing = http.post(f"{fake.url}/api/v1/statuses", headers=BRAND, data={"status": "x", "in_reply_to_id": "1"})
    assert (missing.status_code, missing.json()) == (404, {"error": "Record not found"})
    unknown_tag = http.get(f"{fake.url}/api/v1/timelines/tag/neverused")
    assert (unknown_tag.status_code, unknown_tag.json()) == (404, {"error": "Record not found"})


def test_context_gives_the_thread(fake, http, clock) -> None:
    ann = fake.world.add_account("ann")
    root = fake.world.add_status(ann, "root")
    middle = fake.world.add_status(fake.world.brand, "@ann middle", reply_to=root["id"])
    leaf = fake.world.add_status(ann, "@acmecare leaf", reply_to=middle["id"])
    context = http.get(f"{fake.url}/api/v1/statuses/{leaf['id']}/context").json()
    assert [s["id"] for s in context["ancestors"]] == [root["id"], middle["id"]] and context["descendants"] == []
    below = http.get(f"{fake.url}/api/v1/statuses/{root['id']}/context").json()
    assert [s["id"] for s in below["descendants"]] == [middle["id"], leaf["id"]]
    assert leaf["in_reply_to_id"] == middle["id"] and leaf["in_reply_to_account_id"] == fake.world.brand.id
    assert http.get(f"{fake.url}/api/v1/statuses/{root['id']}").json()["replies_count"] == 1
    assert http.get(f"{fake.url}/api/v1/statuses/999/context").status_code == 404


def test_notifications_for_mentions(fake, http) -> None:
    ann = fake.world.add_account("ann", domain="other.example")
    bob = fake.world.add_account("bob")
    mention = fake.world.add_status(ann, "@acmecare@mastodon.example help")
    fake.world.add_status(bob, "no mention here")
    mine = fake.world.add_status(fake.world.brand, "we are here")
    fake.world.favourite(bob, mine["id"])
    fake.world.add_status(bob, "@acmecare thanks")
    url = f"{fake.url}/api/v1/notifications"
    unauthorized = http.get(url)
    assert (unauthorized.status_code, unauthorized.json()) == (401, {"error": "The access token is invalid"})
    everything = http.get(url, headers=BRAND).json()
    assert [n["type"] for n in everything] == ["mention", "favourite", "mention"]
    assert list(everything[0]) == ["id", "type", "created_at", "group_key", "account", "status"]
    mentions = http.get(url, params={"types[]": "mention", "limit": "1"}, headers=BRAND)
    [newest] = mentions.json()
    assert newest["account"]["acct"] == "bob" and newest["group_key"] == f"ungrouped-{newest['id']}"
    assert links(mentions)["next"]["types[]"] == ["mention"]
    older = http.get(url, params=links(mentions)["next"], headers=BRAND).json()
    assert [n["status"]["id"] for n in older] == [mention["id"]]
    forward = http.get(url, params={"types[]": "mention", "min_id": older[0]["id"]}, headers=BRAND).json()
    assert [n["id"] for n in forward] == [newest["id"]]
    assert [n["type"] for n in http.get(url, params={"exclude_types[]": "mention"}, headers=BRAND).json()] == [
        "favourite"]
    fake.world.delete_status(mention["id"])
    assert len(http.get(url, params={"types[]": "mention"}, headers=BRAND).json()) == 1


def test_search_covers_indexable_accounts_only(fake, http) -> None:
    open_ = fake.world.add_account("ann", domain="other.example")
    hidden = fake.world.add_account("quiet", indexable=False)
    found = fake.world.add_status(open_, "The Acme X3 battery is bad")
    fake.world.add_status(hidden, "Acme X3 battery? fine")
    mentioned = fake.world.add_status(hidden, "@acmecare Acme battery again")  # the brand may find its mentions
    url = f"{fake.url}/api/v2/search"
    answer = http.get(url, params={"q": "acme battery", "type": "statuses"}, headers=BRAND).json()
    assert list(answer) == list(recorded("test_search", 2)["response_body"])
    assert [s["id"] for s in answer["statuses"]] == [mentioned["id"], found["id"]]
    anonymous = http.get(url, params={"q": "acme battery", "type": "statuses"}).json()
    assert anonymous["statuses"] == []  # full text needs a signed-in user
    newer = http.get(url, params={"q": "acme", "type": "statuses", "min_id": found["id"]}, headers=BRAND).json()
    assert [s["id"] for s in newer["statuses"]] == [mentioned["id"]]
    assert http.get(url, params={"q": "battery -bad", "type": "statuses"}, headers=BRAND).json()["statuses"][0][
        "id"] == mentioned["id"]
    accounts = http.get(url, params={"q": "ann", "type": "accounts"}).json()["accounts"]
    assert [a["acct"] for a in accounts] == ["ann@other.example"]


def test_edits_and_deletes(fake, http, clock) -> None:
    ann = fake.world.add_account("ann")
    status = fake.world.add_status(ann, "#acme first")
    clock.advance(seconds=5)
    edited = fake.world.edit_status(status["id"], "#acme second @acmecare")
    assert edited["edited_at"] and edited["id"] == status["id"] and "second" in edited["content"]
    assert [n["type"] for n in fake.world.notifications] == ["mention"]  # a mention added by an edit notifies
    assert http.get(f"{fake.url}/api/v1/statuses/{status['id']}").json()["edited_at"] == edited["edited_at"]
    fake.world.delete_status(status["id"])
    assert http.get(f"{fake.url}/api/v1/statuses/{status['id']}").status_code == 404
    assert fake.world.notifications == []


def test_the_local_play_for_the_sandbox_and_the_demo(http) -> None:
    from socialdesk.networks.mastodon.fake import local

    play = local.start(speed=2000, demo=True)
    try:
        settings = play.settings
        assert set(settings) == {"SOCIALDESK_MASTODON_URL", "SOCIALDESK_MASTODON_TOKEN"}
        headers = {"Authorization": f"Bearer {settings['SOCIALDESK_MASTODON_TOKEN']}"}
        me = http.get(f"{settings['SOCIALDESK_MASTODON_URL']}/api/v1/accounts/verify_credentials", headers=headers)
        assert me.json()["acct"] == "acmecare" and me.json()["id"] == local.BRAND_ID
        assert play.rules == [("search", "#acmephones", 60), ("mentions", local.BRAND_ID, 60)]
        assert (play.waiting, play.later) == (2, 4)
        play.play()
        deadline = time.monotonic() + 5
        while len(http.get(f"{settings['SOCIALDESK_MASTODON_URL']}/api/v1/timelines/public").json()) < 6:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        tagged = http.get(f"{settings['SOCIALDESK_MASTODON_URL']}/api/v1/timelines/tag/acmephones").json()
        assert len(tagged) == 5 and any(s["in_reply_to_id"] for s in tagged)
        [mention] = http.get(f"{settings['SOCIALDESK_MASTODON_URL']}/api/v1/notifications",
                             params={"types[]": "mention"}, headers=headers).json()
        assert mention["account"]["acct"] == "aiko" and "#" not in mention["status"]["content"]
    finally:
        play.stop()
