"""X on 127.0.0.1 for the sandbox and the demo: FakeX playing the scripted day.

FakeX serves the filtered stream at the same address, so `SOCIALDESK_X_STREAM=1` (or a
rule marked `--stream`) streams the day's posts instead of polling them.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from socialdesk.networks.base import LocalPlay
from socialdesk.networks.x.fake.server import FakeX
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
                                    created_at=made)
        self.player = Player(beats, speed, self._post, "x")
        self.seed, self.start, self.stop = self.player.seed, self.player.start, self.player.stop

    def _post(self, beat: Beat) -> None:
        post = self._fake.post(username=beat.handle, text=beat.text,
                               in_reply_to=self._first.get(beat.reply_to or ""),
                               retweet_of=self._first.get(beat.repost_of or ""))
        self._first.setdefault(beat.handle, post["id"])
        if beat.opens_case:
            kind = "card expected"
        elif beat.repost_of or beat.handle == OWN_HANDLE:
            kind = "no card: " + ("repost" if beat.repost_of else "own account")
        else:
            kind = "joins the case it answers"
        log.info("X: @%s posted %s (%s)", beat.handle, post["id"], kind)


def start(*, speed: float, demo: bool) -> LocalPlay:
    """FakeX with the day's first posts made; replies are signed as the fake brand, no sign-in."""
    beats = DEMO_SCENARIO if demo else SCENARIO
    fake = FakeX(bearer_token="local-" + secrets.token_hex(8), port=0, own_username=OWN_HANDLE)
    scenario = Scenario(fake, speed, beats)
    scenario.seed()
    fake.start()
    keys = fake.oauth1_keys

    def stop() -> None:
        scenario.stop()
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
        endpoints=[("Fake X API", f"{fake.url}  (rule: \"{QUERY}\" every {POLL_SECONDS} s)")],
        waiting=waiting, later=later, play=scenario.start, stop=stop,
    )
