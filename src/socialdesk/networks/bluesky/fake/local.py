"""Bluesky on 127.0.0.1 for the sandbox and the demo: a fake PDS and a fake Jetstream.

Every post made in the fake world is relayed live by the fake Jetstream (replaying
the recorded golden events first, so the stream carries real traffic the rules must
not match), and the brand's replies land in the fake PDS.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass

from socialdesk.networks.base import LocalPlay
from socialdesk.networks.bluesky.fake.jetstream import FakeJetstream
from socialdesk.networks.bluesky.fake.pds import FakeBluesky
from socialdesk.networks.bluesky.fake.world import StoredPost, World
from socialdesk.sandbox.brand_page import BrandPage, BrandPost, PagePost
from socialdesk.sandbox.scenario import QUERY, Player

log = logging.getLogger(__name__)

BRAND = "acmephones.bsky.social"
EVERY = 60  # search only fills gaps while the stream is live


@dataclass(frozen=True)
class Beat:
    at: float  # seconds in (at speed 1); 0: before the app starts
    handle: str
    name: str
    text: str
    reply_to: str | None = None  # handle whose first post this answers
    followers: int = 85
    after_reply: bool = False  # demo: posted `at` s after the brand answered this customer, in reply to that


# Fictional customers only; every customer post says "acme" so the rule matches it.
STORY = [
    Beat(0, "priya.bsky.social", "Priya", "My Acme X3 won't pair with my car since the update. Bluetooth shows "
         "it for a second, then it's gone. Any fix?"),
    Beat(15, "marcus.bsky.social", "Marcus", "Third Acme X3 order stuck in 'processing' for a week. #acme "
         "support, can someone look? 📦", followers=14_800),
    Beat(35, "wen.bsky.social", "Wen 文", "Acme X3 的相机很棒，但是电池续航太短了。有什么建议吗？ acme"),
    Beat(55, "priya.bsky.social", "Priya", "Tried forgetting the device, still drops. It's the car's screen "
         "that says 'unsupported'.", reply_to="priya.bsky.social"),
    Beat(70, "ola.bsky.social", "Ola", "Just got my Acme X3 and the camera is stunning. Worth the wait."),
    # The demo only: Marcus answers once an agent has answered him (it joins his case).
    Beat(5, "marcus.bsky.social", "Marcus", "Thanks! The Acme order number is AC-20931, placed on the 3rd.",
         after_reply=True),
]


class Story:
    """The Bluesky beats in the fake world (the sandbox's Player does the timing)."""

    def __init__(self, pds: FakeBluesky, speed: float, demo: bool) -> None:
        self._pds = pds
        beats = STORY if demo else STORY[:3]
        self._first: dict[str, str] = {}
        self._dids = {b.handle: pds.world.add_account(b.handle, b.name, followers=b.followers) for b in beats}
        self.player = Player(beats, speed, self._post, "bluesky", replied=lambda beat: bool(self._brand_reply(beat)))

    def _brand_reply(self, beat: Beat) -> str | None:
        """The uri of the brand's latest post answering one of this customer's, if any."""
        world = self._pds.world
        posts = sorted(list(world.posts.values()), key=lambda p: p.sort_at)  # one C-level copy: thread-safe
        theirs = {p.uri for p in posts if p.did == self._dids[beat.handle]}
        answers = [p.uri for p in posts if p.did == world.brand_did
                   and ((p.record.get("reply") or {}).get("parent") or {}).get("uri") in theirs]
        return answers[-1] if answers else None

    def _post(self, beat: Beat) -> None:
        reply_to = self._brand_reply(beat) if beat.after_reply else self._first.get(beat.reply_to or "")
        post = self._pds.world.add_post(self._dids[beat.handle], beat.text, reply_to=reply_to)
        self._first.setdefault(beat.handle, post["uri"])
        log.info("Bluesky: @%s posted %s", beat.handle, post["uri"])


def brand_posts(world: World) -> list[BrandPost]:
    """What the brand posted in the fake world, newest first, with the post each answers and the replies to it."""
    # One C-level copy of the dict's values: safe while the PDS's threads add posts.
    posts = sorted(list(world.posts.values()), key=lambda p: p.sort_at)
    by_uri = {p.uri: p for p in posts}

    def view(p: StoredPost) -> PagePost:
        account = world.accounts[p.did]
        return PagePost(handle=account.handle, name=account.display_name, text=p.record.get("text", ""),
                        at=p.record.get("createdAt", ""))

    def parent(p: StoredPost) -> str | None:
        return ((p.record.get("reply") or {}).get("parent") or {}).get("uri")

    out = []
    for p in reversed([p for p in posts if p.did == world.brand_did]):
        answered = by_uri.get(parent(p) or "")
        replies = tuple(view(r) for r in posts if parent(r) == p.uri)
        out.append(BrandPost(view(p), view(answered) if answered else None, replies))
    return out


def start(*, speed: float, demo: bool) -> LocalPlay:
    password = "local-" + secrets.token_hex(8)
    pds = FakeBluesky(brand_handle=BRAND, brand_password=password).start()
    jetstream = FakeJetstream(golden=True).start()
    unsubscribe = pds.world.subscribe(jetstream.publish)
    story = Story(pds, speed, demo).player
    story.seed()
    waiting, later = story.counts
    page = BrandPage(title="Local Bluesky", account=BRAND, posts=lambda: brand_posts(pds.world)).start()

    def stop() -> None:
        story.stop()
        unsubscribe()
        page.stop()
        jetstream.stop()
        pds.stop()

    return LocalPlay(
        name="bluesky",
        settings={"SOCIALDESK_BLUESKY_HANDLE": BRAND, "SOCIALDESK_BLUESKY_APP_PASSWORD": password,
                  "SOCIALDESK_BLUESKY_SERVICE_URL": pds.url, "SOCIALDESK_BLUESKY_JETSTREAM_URL": jetstream.url},
        rules=[("search", QUERY, EVERY)],
        endpoints=[("Fake Bluesky PDS", pds.url), ("Fake Jetstream", f"{jetstream.url}  (rule: \"{QUERY}\", live)"),
                   ("Local Bluesky page", f"{page.url}  (what @{BRAND} posted)")],
        waiting=waiting, later=later, play=story.start, stop=stop, page=("Local Bluesky", page.url),
    )
