"""Mastodon played locally: the local page shows what the brand posted, under the status it answers."""

from __future__ import annotations

import httpx

from socialdesk.networks.mastodon.fake import local
from socialdesk.networks.mastodon.fake.world import MastodonWorld
from tests.support.waiting import wait_for


def test_the_page_shows_the_brands_reply_under_the_customers_status() -> None:
    world = MastodonWorld(brand_username=local.BRAND)
    aiko = world.add_status(world.add_account("aiko", "Aiko"), f"@{local.BRAND} I was charged twice")
    assert local.brand_posts(world) == []
    world.add_status(world.brand, "@aiko Sorry! We refunded the second charge.", reply_to=aiko["id"])
    [shown] = local.brand_posts(world)
    assert shown.post.text == "@aiko Sorry! We refunded the second charge."
    assert shown.answers is not None and shown.answers.handle == "aiko" and "charged twice" in shown.answers.text


def test_the_local_play_serves_the_page() -> None:
    play = local.start(speed=1, demo=True)
    try:
        assert play.page is not None and play.page[0] == "Local Mastodon"
        assert "What @acmecare@" in httpx.get(play.page[1]).text
    finally:
        play.stop()


def test_aiko_writes_back_only_once_the_brand_answered_her() -> None:
    world = MastodonWorld(brand_username=local.BRAND)
    story = local.Story(world, 1000, demo=True)
    story.player.seed()
    story.player.start()
    try:
        wait_for(lambda: any("blog.fedi.example" in world.text_of(i) for i in world.statuses), timeout=10,
                 what="the day's last status")
        assert not any("order 4471, the second" in world.text_of(i) for i in world.statuses)
        aiko = next(s for s in world.statuses.values() if "charged twice" in world.text_of(s["id"]))
        answer = world.add_status(world.brand, "@aiko Sorry! Which order?", reply_to=aiko["id"])
        back = wait_for(lambda: next((s for s in world.statuses.values()
                                      if "the second charge" in world.text_of(s["id"])), None),
                        timeout=10, what="Aiko's answer")
        assert back["in_reply_to_id"] == answer["id"]
    finally:
        story.player.stop()
