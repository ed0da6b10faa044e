"""Bluesky played locally: the local page shows what the brand posted, under the post it answers."""

from __future__ import annotations

import httpx

from socialdesk.networks.bluesky.fake import local
from socialdesk.networks.bluesky.fake.pds import FakeBluesky


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
