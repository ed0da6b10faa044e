"""MastodonMentions against a running FakeMastodon: mention notifications read forward, nothing twice."""

from __future__ import annotations

from datetime import timedelta

import pytest

from socialdesk.networks.base import RateLimited, SourceRejected
from socialdesk.networks.mastodon.mentions import MastodonMentions
from socialdesk.networks.mastodon.search import cursor_since

NOTIFICATIONS = "/api/v1/notifications"
BRAND = "@acmecare@mastodon.example"


@pytest.fixture
def mentions(api, threads, clock) -> MastodonMentions:
    return MastodonMentions(api, threads, limit=3, clock=clock)


@pytest.fixture
def brand_id(fake) -> str:
    return fake.world.brand.id


@pytest.fixture
def ann(fake):
    return fake.world.add_account("ann", "Ann", domain="social.example", followers=40)


def mention(fake, clock, account, text: str = "help please", **kwargs) -> str:
    clock.advance(seconds=1)
    return fake.world.add_status(account, f"{BRAND} {text}", **kwargs)["id"]


def walk(source: MastodonMentions, query: str, cursor: dict | None, max_pages: int = 20) -> tuple[list[str], dict]:
    ids: list[str] = []
    for _ in range(max_pages):
        page = source.fetch(query, cursor)
        ids += [p.external_id for p in page.posts]
        cursor = page.cursor
        if page.done:
            return ids, cursor
    raise AssertionError("the walk never finished")


def test_a_new_rule_takes_the_newest_mentions_only(fake, clock, ann, mentions, brand_id) -> None:
    ids = [mention(fake, clock, ann, f"order {i} is late") for i in range(5)]
    fake.world.favourite(ann, fake.world.add_status(fake.world.brand, "we are here")["id"])
    fake.world.follow(ann)
    page = mentions.fetch(brand_id, None)
    assert [p.external_id for p in page.posts] == ids[2:] and page.done
    assert page.cursor == {"min_id": fake.world.notifications[4]["id"]}
    post = page.posts[-1]
    assert post.author.handle == "ann@social.example" and post.author.followers == 40
    assert post.text == "@acmecare@mastodon.example order 4 is late"
    [request] = fake.requests(NOTIFICATIONS)
    assert request.query["types[]"] == ["mention"] and "min_id" not in request.query


def test_later_walks_read_every_mention_once(fake, clock, ann, mentions, brand_id) -> None:
    first = mentions.fetch(brand_id, None)
    assert first.posts == [] and first.done
    new = [mention(fake, clock, ann, f"number {i}") for i in range(7)]
    # No mention yet: the rule starts at its time, and reads down to it (newest pages first).
    ids, cursor = walk(mentions, brand_id, first.cursor)
    assert sorted(ids) == new and len(ids) == len(new)
    more = [mention(fake, clock, ann, f"later {i}") for i in range(4)]
    ids, cursor = walk(mentions, brand_id, cursor)  # from the newest notification id on: forward
    assert ids == more
    assert all("min_id" in r.query for r in fake.requests(NOTIFICATIONS)[-2:])
    assert walk(mentions, brand_id, cursor)[0] == []


def test_answers_to_the_brand_join_its_thread(fake, clock, ann, mentions, brand_id) -> None:
    root = mention(fake, clock, ann, "my phone died")
    ours = fake.world.add_status(fake.world.brand, "@ann@social.example sorry! which model?", reply_to=root)["id"]
    clock.advance(seconds=1)
    answer = fake.world.add_status(ann, "the X3", reply_to=ours)["id"]
    again = mention(fake, clock, ann, "the X3, still dead", reply_to=ours)
    page = mentions.fetch(brand_id, {"min_id": "0"})
    posts = {p.external_id: p for p in page.posts}
    assert answer not in posts  # a reply that does not mention the brand is no mention on Mastodon
    assert posts[again].conversation_id == root and posts[root].conversation_id == root
    assert posts[again].in_reply_to_account == "acmecare@mastodon.example"


def test_a_rule_for_another_account_is_refused(fake, mentions) -> None:
    with pytest.raises(SourceRejected) as refused:
        mentions.fetch("123456", None)
    message = str(refused.value)
    assert "acmecare@mastodon.example" in message and "SOCIALDESK_MASTODON_TOKEN" in message
    assert fake.requests(NOTIFICATIONS) == []


def test_a_stream_gap_reads_every_mention_since_its_time(fake, clock, ann, mentions, brand_id) -> None:
    mention(fake, clock, ann, "before the gap")
    clock.advance(seconds=10)
    gap = clock()
    inside = [mention(fake, clock, ann, f"in the gap {i}") for i in range(5)]
    ids, cursor = walk(mentions, brand_id, cursor_since(gap - timedelta(seconds=1)))
    assert sorted(ids) == sorted(inside) and len(ids) == 5
    assert cursor == {"min_id": fake.world.notifications[-1]["id"]}
    after = mention(fake, clock, ann, "after the gap")
    assert walk(mentions, brand_id, cursor)[0] == [after]


def test_rate_limits_and_outages_come_through(fake, clock, ann, mentions, brand_id) -> None:
    mentions.fetch(brand_id, None)
    reset = clock() + timedelta(minutes=2)
    fake.limit(NOTIFICATIONS, 0, reset_at=reset)
    with pytest.raises(RateLimited) as limited:
        mentions.fetch(brand_id, {"min_id": "0"})
    assert abs(limited.value.reset_at - reset) < timedelta(seconds=1)
