"""Bluesky played locally: the local page shows what the brand posted, under the post it answers."""

from __future__ import annotations

import httpx

from socialdesk.networks.bluesky.fake import local
from socialdesk.networks.bluesky.fake.pds import FakeBluesky
from tests.support.waiting import wait_for


def test_the_page_shows_the_brands_reply_under_the_customers_post() -> None:
    with FakeBluesky(brand_handle=local.BRAND, brand_password="pw") as pds:
        world = pds.world
        priya = world.add_post(world.add_account("priya.bsky.social", "Priya"), "My Acme X3 won't pair <3")
        assert local.brand_posts(world) == []
        world.add_post(world.brand_did, "Sorry Priya! Try the 4.2.1 update.", reply_to=priya["uri"])
        [shown] = local.brand_posts(world)
        assert shown.post.handle == local.BRAND and shown.post.text == "Sorry Priya! Try the 4.2.1 update."
        assert shown.answers is not None and shown.answers.text == "My Acme X3 won't pair <3"


def test_the_local_play_serves_the_page() -> None:
    play = local.start(speed=1, demo=True)
    try:
        assert play.page is not None and play.page[0] == "Local Bluesky"
        assert f"What @{local.BRAND} posted" in httpx.get(play.page[1]).text
    finally:
        play.stop()


def test_marcus_writes_back_only_once_the_brand_answered_him() -> None:
    with FakeBluesky(brand_handle=local.BRAND, brand_password="pw") as pds:
        world = pds.world
        story = local.Story(pds, 1000, demo=True)
        story.player.seed()
        story.player.start()
        try:
            texts = lambda: [p.record["text"] for p in list(world.posts.values())]  # noqa: E731
            wait_for(lambda: any("camera is stunning" in t for t in texts()), timeout=10, what="the day's last post")
            assert not any("AC-20931" in t for t in texts())
            marcus = next(p for p in list(world.posts.values()) if "stuck in 'processing'" in p.record["text"])
            answer = world.add_post(world.brand_did, "Sorry Marcus! Which order?", reply_to=marcus.uri)
            back = wait_for(lambda: next((p for p in list(world.posts.values()) if "AC-20931" in p.record["text"]),
                                         None), timeout=10, what="Marcus's answer")
            assert back.record["reply"]["parent"]["uri"] == answer["uri"]
            assert back.record["reply"]["root"]["uri"] == marcus.uri  # it joins his case
        finally:
            story.player.stop()
