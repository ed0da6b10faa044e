"""X on 127.0.0.1 for the sandbox and the demo: FakeX playing the scripted day.

FakeX serves the filtered stream at the same address, so `SOCIALDESK_X_STREAM=1` (or a
rule marked `--stream`) streams the day's posts instead of polling them.
"""

from __future__ import annotations

import html
import logging
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from socialdesk.networks.base import LocalPlay
from socialdesk.networks.x.fake.server import FakeX
from socialdesk.sandbox.brand_page import BrandPage, BrandPost, PagePost
from socialdesk.sandbox.scenario import DEMO_SCENARIO, OWN_HANDLE, POLL_SECONDS, QUERY, SCENARIO, Beat, Player

log = logging.getLogger(__name__)


class Scenario:
    """The day's beats on FakeX (the sandbox's Player does the timing)."""

    def __init__(self, fake: FakeX, speed: float, beats: Sequence[Beat] | None = None) -> None:
        self._fake = fake
        self._first: dict[str, str] = {}  # handle -> id of its first post
        beats = list(SCENARIO if beats is None else beats)
        for beat in beats:
            if beat.handle != OWN_HANDLE:  # FakeX made the brand account (verified) already
                made = datetime.now(UTC) - timedelta(days=beat.account_days) if beat.account_days is not None else None
                self._fake.add_user(username=beat.handle, name=beat.name or None, followers=beat.followers,
                                    verified=beat.verified, created_at=made)
        self.player = Player(beats, speed, self._post, "x", replied=lambda beat: bool(self._brand_reply_to(beat)))
        self.seed, self.start, self.stop = self.player.seed, self.player.start, self.player.stop

    def _brand_reply_to(self, beat: Beat) -> str | None:
        """The id of the brand's latest reply to one of `beat.handle`'s posts, if it has replied."""
        posts = self._fake.posts()
        theirs = {p["id"] for p in posts if p["username"].casefold() == beat.handle.casefold()}
        replies = [p["id"] for p in posts if p["username"].casefold() == OWN_HANDLE.casefold()
                   and any(r["type"] == "replied_to" and r["id"] in theirs for r in p.get("referenced_tweets", []))]
        return replies[-1] if replies else None

    def _post(self, beat: Beat) -> None:
        in_reply_to = self._brand_reply_to(beat) if beat.after_reply else self._first.get(beat.reply_to or "")
        post = self._fake.post(username=beat.handle, text=beat.text, in_reply_to=in_reply_to,
                               retweet_of=self._first.get(beat.repost_of or ""))
        self._first.setdefault(beat.handle, post["id"])
        if beat.after_reply:
            kind = "writes back to the brand's reply: joins the case"
        elif beat.opens_case:
            kind = "card expected"
        elif beat.repost_of or beat.handle == OWN_HANDLE:
            kind = "no card: " + ("repost" if beat.repost_of else "own account")
        else:
            kind = "joins the case it answers"
        log.info("X: @%s posted %s (%s)", beat.handle, post["id"], kind)


def brand_posts(fake: FakeX) -> list[BrandPost]:
    """What the brand posted on FakeX, newest first, with the post each answers and the replies to it."""
    posts = fake.posts()
    by_id = {p["id"]: p for p in posts}

    def view(p: dict) -> PagePost:
        text = (p.get("note_tweet") or {}).get("text") or p["text"]
        return PagePost(handle=p["username"], name=p["name"], text=html.unescape(text), at=p["created_at"])

    def answered(p: dict) -> str | None:
        return next((r["id"] for r in p.get("referenced_tweets", []) if r["type"] == "replied_to"), None)

    own = [p for p in posts if p["username"].casefold() == OWN_HANDLE.casefold()
           and not any(r["type"] == "retweeted" for r in p.get("referenced_tweets", []))]
    out = []
    for p in reversed(own):
        parent = by_id.get(answered(p) or "")
        replies = [view(r) for r in posts if answered(r) == p["id"]]
        out.append(BrandPost(view(p), view(parent) if parent else None, tuple(replies)))
    return out


def start(*, speed: float, demo: bool) -> LocalPlay:
    """FakeX with the day's first posts made; replies are signed as the fake brand, no sign-in."""
    beats = DEMO_SCENARIO if demo else SCENARIO
    fake = FakeX(bearer_token="local-" + secrets.token_hex(8), port=0, own_username=OWN_HANDLE)
    scenario = Scenario(fake, speed, beats)
    scenario.seed()
    fake.start()
    keys = fake.oauth1_keys
    page = BrandPage(title="Local X", account=OWN_HANDLE, posts=lambda: brand_posts(fake)).start()

    def stop() -> None:
        scenario.stop()
        page.stop()
        fake.stop()

    waiting, later = scenario.player.counts
    return LocalPlay(
        name="x",
        settings={
            "SOCIALDESK_X_API_URL": fake.url, "SOCIALDESK_X_BEARER_TOKEN": fake.bearer_token,
            "SOCIALDESK_X_API_KEY": keys.consumer_key, "SOCIALDESK_X_API_SECRET": keys.consumer_secret,
            "SOCIALDESK_X_ACCESS_TOKEN": keys.token, "SOCIALDESK_X_ACCESS_SECRET": keys.token_secret,
        },
        rules=[("search", QUERY, POLL_SECONDS)],
        endpoints=[("Fake X API", f"{fake.url}  (rule: \"{QUERY}\" every {POLL_SECONDS} s)"),
                   ("Local X page", f"{page.url}  (what @{OWN_HANDLE} posted)")],
        waiting=waiting, later=later, play=scenario.start, stop=stop, page=("Local X", page.url),
    )
