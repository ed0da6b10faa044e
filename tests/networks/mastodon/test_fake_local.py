"""Mastodon played locally: the local page shows what the brand posted, under the status it answers."""

from __future__ import annotations

import httpx

from socialdesk.networks.mastodon.fake import local
from socialdesk.networks.mastodon.fake.world import MastodonWorld


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
