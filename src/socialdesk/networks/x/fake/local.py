"""X on 127.0.0.1 for the sandbox and the demo: FakeX playing the scripted day."""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Sequence

from socialdesk.networks.base import LocalPlay
from socialdesk.networks.x.fake.server import FakeX
from socialdesk.sandbox.scenario import DEMO_SCENARIO, OWN_HANDLE, POLL_SECONDS, QUERY, SCENARIO, Beat

log = logging.getLogger(__name__)


class Scenario:
    """Posts the seeded beats now and the rest from a background thread."""

    def __init__(self, fake: FakeX, speed: float, beats: Sequence[Beat] | None = None) -> None:
        self._fake, self._speed = fake, speed
        self._beats = list(SCENARIO if beats is None else beats)
        self._first: dict[str, str] = {}  # handle -> id of its first post
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._play, name="sandbox-scenario", daemon=True)
        for beat in self._beats:
            if beat.handle != OWN_HANDLE:  # FakeX made the brand account (verified) already
                self._fake.add_user(username=beat.handle, name=beat.name or None, followers=120)

    def seed(self) -> None:
        for beat in self._beats:
            if beat.at == 0:
                self._post(beat)

    def start(self) -> None:
        self._started = time.monotonic()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)

    def _play(self) -> None:
        for beat in sorted((b for b in self._beats if b.at > 0), key=lambda b: b.at):
            if self._stop.wait(max(0.0, self._started + beat.at / self._speed - time.monotonic())):
                return
            self._post(beat)

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

    later = len([b for b in beats if b.at > 0])
    return LocalPlay(
        name="x",
        settings={
            "SOCIALDESK_X_API_URL": fake.url, "SOCIALDESK_X_BEARER_TOKEN": fake.bearer_token,
            "SOCIALDESK_X_API_KEY": keys.consumer_key, "SOCIALDESK_X_API_SECRET": keys.consumer_secret,
            "SOCIALDESK_X_ACCESS_TOKEN": keys.token, "SOCIALDESK_X_ACCESS_SECRET": keys.token_secret,
        },
        rules=[("search", QUERY, POLL_SECONDS)],
        endpoints=[("Fake X API", f"{fake.url}  (rule: \"{QUERY}\" every {POLL_SECONDS} s)")],
        waiting=len(beats) - later, later=later, play=scenario.start, stop=stop,
    )
