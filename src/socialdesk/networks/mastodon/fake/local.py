"""Mastodon on 127.0.0.1 for the sandbox and the demo: a fake instance and its streaming server.

The brand is @acmecare on the fake instance (mastodon.example). Fictional customers, most of
them on other (made-up) servers, post on #acmephones and one mentions the brand without the
hashtag, so both saved searches have work: the hashtag rule and the mentions rule. Their
statuses go out live on the streaming server; the brand's replies land in the fake instance.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from socialdesk.networks.base import LocalPlay
from socialdesk.networks.mastodon.fake.rest import FakeMastodon
from socialdesk.networks.mastodon.fake.world import Account, MastodonWorld
from socialdesk.sandbox.brand_page import BrandPage, BrandPost, PagePost
from socialdesk.sandbox.scenario import Player

log = logging.getLogger(__name__)

BRAND = "acmecare"
BRAND_ID = "109312345678901234"  # fixed, so a kept database's mentions rule still names the brand
HASHTAG = "#acmephones"
EVERY = 60  # the timelines only fill gaps while the stream is live


@dataclass(frozen=True)
class Beat:
    at: float  # seconds in (at speed 1); 0: before the app starts
    username: str
    domain: str | None  # None: an account on the brand's instance
    name: str
    text: str
    reply_to: str | None = None  # username whose first status this answers
    visibility: str = "public"
    spoiler_text: str = ""
    media: Sequence[str] = ()
    language: str = "en"
    after_reply: bool = False  # demo: posted `at` s after the brand answered this customer, in reply to that


# Fictional people on made-up servers only.
STORY = [
    Beat(0, "tomasz", "social.example", "Tomasz", "My #AcmePhones X3 reboots every time I open the camera "
         "since yesterday's update. Anyone else?"),
    Beat(0, "aiko", None, "Aiko", f"@{BRAND} I was charged twice for order 4471. Who can I talk to?"),
    Beat(20, "noor", "toot.example", "Noor", "A thin green line runs down my X3 screen since this morning. "
         "Dropped it? Never. #acmephones", spoiler_text="hardware fault",
         media=("Phone screen with a thin green vertical line on the left",)),
    Beat(40, "ines", "fedi.example", "Inês", "O #AcmePhones X3 existe em azul em Portugal? 💙", language="pt"),
    Beat(60, "tomasz", "social.example", "Tomasz", "Tried safe mode, it still reboots. The camera app is the "
         "trigger. #acmephones", reply_to="tomasz"),
    Beat(80, "rafa", "fedi.example", "Rafa", "Two days on one charge with the Acme X3, impressed! "
         "Review here: https://blog.fedi.example/2026/acme-x3-battery-review #acmephones"),
    # The demo only: Aiko answers once an agent has answered her (it joins her case).
    Beat(5, "aiko", None, "Aiko", f"@{BRAND} Thanks! It's order 4471, the second charge is from Monday.",
         after_reply=True),
]


class Story:
    """The Mastodon beats in the fake world (the sandbox's Player does the timing)."""

    def __init__(self, world: MastodonWorld, speed: float, demo: bool) -> None:
        self._world = world
        beats = STORY if demo else STORY[:4]
        self._first: dict[str, str] = {}
        self._accounts: dict[str, Account] = {}
        for beat in beats:
            if beat.username not in self._accounts:
                self._accounts[beat.username] = world.add_account(beat.username, beat.name, domain=beat.domain,
                                                                  followers=40 + 7 * len(self._accounts))
        self.player = Player(beats, speed, self._post, "mastodon", replied=lambda beat: bool(self._brand_reply(beat)))

    def _brand_reply(self, beat: Beat) -> str | None:
        """The brand's latest status answering one of this customer's, if any."""
        customer = self._accounts[beat.username].id
        with self._world.lock:
            answers = [s["id"] for s in self._world.statuses.values()
                       if s["account"]["id"] == self._world.brand.id and s.get("in_reply_to_account_id") == customer]
        return max(answers, key=int) if answers else None

    def _post(self, beat: Beat) -> None:
        reply_to = self._brand_reply(beat) if beat.after_reply else self._first.get(beat.reply_to or "")
        status = self._world.add_status(self._accounts[beat.username], beat.text,
                                        reply_to=reply_to, visibility=beat.visibility,
                                        spoiler_text=beat.spoiler_text, media=beat.media, language=beat.language)
        self._first.setdefault(beat.username, status["id"])
        log.info("Mastodon: @%s posted %s", self._accounts[beat.username].acct, status["url"])


def brand_posts(world: MastodonWorld) -> list[BrandPost]:
    """What the brand posted on the fake instance, newest first, with the status each answers and the replies."""
    with world.lock:  # the world's public lock, for readers that look at several things at once
        statuses = sorted((dict(s) for s in world.statuses.values()), key=lambda s: int(s["id"]))

        def view(s: dict) -> PagePost:
            account = s["account"]
            text = world.text_of(s["id"]) or s.get("content", "")
            return PagePost(handle=account.get("acct", ""), name=account.get("display_name", ""), text=text,
                            at=s.get("created_at", ""))

        by_id = {s["id"]: s for s in statuses}
        out = []
        for s in reversed([s for s in statuses if s["account"]["id"] == world.brand.id]):
            answered = by_id.get(s.get("in_reply_to_id") or "")
            replies = tuple(view(r) for r in statuses if r.get("in_reply_to_id") == s["id"])
            out.append(BrandPost(view(s), view(answered) if answered else None, replies))
        return out


def start(*, speed: float, demo: bool) -> LocalPlay:
    token = "local-" + secrets.token_hex(8)
    fake = FakeMastodon(brand_username=BRAND, brand_token=token, brand_id=BRAND_ID, brand_name="Acme Care").start()
    story = Story(fake.world, speed, demo).player
    story.seed()
    waiting, later = story.counts
    page = BrandPage(title="Local Mastodon", account=f"{BRAND}@{fake.world.domain}",
                     posts=lambda: brand_posts(fake.world)).start()

    def stop() -> None:
        story.stop()
        page.stop()
        fake.stop()

    return LocalPlay(
        name="mastodon",
        settings={"SOCIALDESK_MASTODON_URL": fake.url, "SOCIALDESK_MASTODON_TOKEN": token},
        rules=[("search", HASHTAG, EVERY), ("mentions", fake.world.brand.id, EVERY)],
        endpoints=[("Fake Mastodon", f"{fake.url}  (@{BRAND}@{fake.world.domain})"),
                   ("Fake Mastodon streaming",
                    f"{fake.streaming.url}/api/v1/streaming  (rules: \"{HASHTAG}\" and mentions, live)"),
                   ("Local Mastodon page", f"{page.url}  (what @{BRAND} posted)")],
        waiting=waiting, later=later, play=story.start, stop=stop, page=("Local Mastodon", page.url),
    )
