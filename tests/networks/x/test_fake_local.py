"""X played locally for the demo: the customer writes back to the brand's reply, and the local page shows it."""

from __future__ import annotations

import httpx

from socialdesk.networks.x.fake import local
from socialdesk.networks.x.fake.server import FakeX
from socialdesk.sandbox.scenario import DEMO_SCENARIO, OWN_HANDLE
from tests.support.waiting import wait_for


def _texts(fake: FakeX) -> list[str]:
    return [p["text"] for p in fake.posts()]


def test_dana_writes_back_only_to_the_brands_reply_and_the_page_shows_the_conversation() -> None:
    with FakeX(bearer_token="t", own_username=OWN_HANDLE) as fake:
        scenario = local.Scenario(fake, 1000, DEMO_SCENARIO)
        scenario.seed()
        scenario.start()
        try:
            # The whole timed day plays at this speed; nobody replied, so Dana has not written back.
            wait_for(lambda: any("eSIM" in t for t in _texts(fake)), timeout=10, what="the day's last post")
            assert not any("getting back to me" in t for t in _texts(fake))
            assert [b.post.text for b in local.brand_posts(fake)] == [
                "Acme Phones' spring sale starts Friday: 20% off cases and chargers for the Acme X3."]

            # The brand replies to Dana (as the app does, through POST /2/tweets, which posts as the brand).
            dana = next(p for p in fake.posts() if "spiderweb" in p["text"])
            reply = fake.post(username=OWN_HANDLE, text="@dana_k Sorry & thanks! Acme Care covers it.",
                              in_reply_to=dana["id"])
            back = wait_for(lambda: next((p for p in fake.posts() if "getting back" in p["text"]), None),
                            timeout=10, what="Dana's write-back")
            assert {"type": "replied_to", "id": reply["id"]} in back["referenced_tweets"]
            assert back["conversation_id"] == dana["conversation_id"]  # it joins her case
            assert sum("getting back" in t for t in _texts(fake)) == 1

            [latest, _sale] = local.brand_posts(fake)
            assert latest.post.text == "@dana_k Sorry & thanks! Acme Care covers it."  # unescaped for people
            assert latest.answers is not None and "spiderweb" in latest.answers.text
            assert [r.handle for r in latest.replies] == ["dana_k"]
        finally:
            scenario.stop()


def test_the_local_play_serves_the_page_and_names_it() -> None:
    play = local.start(speed=1, demo=True)
    try:
        assert play.page is not None and play.page[0] == "Local X"
        page = httpx.get(play.page[1]).text
        assert f"What @{OWN_HANDLE} posted" in page and "Nothing yet" in page  # its first post comes later
        assert ("Local X page", f"{play.page[1]}  (what @{OWN_HANDLE} posted)") in play.endpoints
    finally:
        play.stop()
