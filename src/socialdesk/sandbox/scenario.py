"""The scripted day at "Acme Phones" that `socialdesk sandbox` and `socialdesk demo` play.

Fictional customers only; every customer post says "acme" so the rule's query finds it.
Each network's local stand-in (networks/<name>/fake/local.py) plays beats on its fake.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

CHANNEL = "social-care"
OWN_HANDLE = "acmephones"
QUERY = "acme"
POLL_SECONDS = 5
SCENARIO_SECONDS = 120
# The story's rules make these posts high priority (a keyword, or an author this followed), so
# the cards show both priorities; triage also raises verified authors and strongly negative posts.
PRIORITY_KEYWORDS = ("refund", "charged twice", "cancel my order", "data breach")
PRIORITY_FOLLOWERS = 10_000
REPLY_CHECK_SECONDS = 0.25  # how often a customer who waits for the brand's reply looks for it


@dataclass(frozen=True)
class Beat:
    """One post in the scenario: `at` seconds in (at speed 1); 0 means seeded before start."""

    at: float
    handle: str
    text: str
    name: str = ""
    reply_to: str | None = None  # handle whose first post this answers
    repost_of: str | None = None  # handle whose first post this reposts
    followers: int = 120
    account_days: int | None = None  # how old the account is; None: years (a spam signal when new and small)
    verified: bool = False
    # Posted only once the brand has replied to this customer (through the app), `at` seconds after
    # that reply, and in answer to it: a customer writes back to what she was told, not on a timer.
    after_reply: bool = False

    @property
    def opens_case(self) -> bool:
        return self.handle != OWN_HANDLE and self.repost_of is None and self.reply_to is None


_BURST = [
    ("jo_tanaka", "Since the Acme X3 update 4.2 my wifi drops every few minutes. Anyone else?"),
    ("ravi_codes", "Acme X3 on 4.2: wifi keeps disconnecting. Was fine yesterday."),
    ("bea_outdoors", "Wifi on my Acme phone is useless since last night's update"),
    ("kofi_m", "@acmephones the 4.2 update broke wifi on my Acme X3, please fix"),
    ("ellie_reads", "Is the Acme X3 wifi bug from update 4.2 known? It drops every 5 minutes"),
    ("tomas_v", "Acme X3 update 4.2 = no wifi. Rolling back if I can"),
]
# Fictional customers only; every customer post says "acme" so the rule's query finds it.
SCENARIO: list[Beat] = [
    Beat(0, "dana_k", "Dropped my Acme X3 from waist height and the screen cracked like a spiderweb. "
         "Is that covered by the warranty?", "Dana K."),
    Beat(0, "mo_rivera", "My Acme X3 battery goes from 100% to 20% by lunch. Three weeks old. Not impressed.",
         "Mo Rivera"),
    Beat(0, "lena_ontario", "Ordered an Acme X3 on Monday and it still says 'preparing'. "
         "How long does shipping to Canada take?", "Lena"),
    Beat(10, "sam_writes", "Shout-out to Acme support: fixed my charging port in one visit. Best phone I've owned.",
         "Sam"),
    Beat(20, "gadget_gossip", "", "Gadget Gossip", repost_of="dana_k"),
    Beat(30, OWN_HANDLE, "@dana_k Sorry to hear that! Acme Care covers one screen repair a year. "
         "DM us your order number.", reply_to="dana_k"),
    Beat(40, "free_phones_4u", "Acme fans!! Get a FREE phone today https://free-phones.example/claim 100% legit",
         "FREE PHONES", followers=3, account_days=2),
    Beat(50, "angry_andy", "<!channel> refund now & <@U0ADMIN> my Acme X3 died after 2 days", "Andy"),
    *[Beat(60 + 2 * i, handle, text) for i, (handle, text) in enumerate(_BURST)],
    Beat(100, "nina_b", "Does the Acme X3 support eSIM? Thinking of switching from my old phone.", "Nina B."),
]


def _demo_day() -> list[Beat]:
    """The sandbox's day for people to work: no scripted brand reply (the agents reply), a brand post
    of its own instead (no card), authors who vary (followers, a verified one) so priorities differ,
    and a customer who writes back once an agent has replied to her: it joins her case."""
    varied = {"mo_rivera": {"followers": 2_300}, "lena_ontario": {"followers": 310},
              "sam_writes": {"followers": 18_400}, "nina_b": {"followers": 52_000, "verified": True,
                                                           "name": "Nina B. (tech reviewer)"},
              "jo_tanaka": {"followers": 12_900}}
    day = []
    for beat in SCENARIO:
        if beat.handle == OWN_HANDLE:
            beat = Beat(beat.at, OWN_HANDLE, "Acme Phones' spring sale starts Friday: 20% off cases and chargers "
                        "for the Acme X3.")
        day.append(dataclasses.replace(beat, **varied.get(beat.handle, {})))
    day.append(Beat(5, "dana_k", "@acmephones Thanks for getting back to me! Can I drop my Acme X3 off at a "
                    "store instead of mailing it?", "Dana K.", after_reply=True))
    return day


DEMO_SCENARIO: list[Beat] = _demo_day()


class Player:
    """Plays a network's beats on its fake: those at 0 s now (`seed`), the rest from a thread.

    `post(beat)` makes one beat's post; beats need only an `at` (seconds at speed 1). A beat
    with a true `after_reply` waits until `replied(beat)` says the brand has answered that
    customer, then comes `at` seconds (at speed 1) later; without `replied` it never comes.
    """

    def __init__(self, beats: Sequence[Any], speed: float, post: Callable[[Any], None], name: str,
                 replied: Callable[[Any], bool] | None = None) -> None:
        self._beats, self._speed, self._post, self._replied = list(beats), speed, post, replied
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._play, name=f"{name}-story", daemon=True),
                         threading.Thread(target=self._answer, name=f"{name}-writes-back", daemon=True)]

    def seed(self) -> None:
        for beat in self._timed():
            if beat.at == 0:
                self._post(beat)

    def start(self) -> None:
        self._started = time.monotonic()
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            if thread.is_alive():
                thread.join(5)

    @property
    def counts(self) -> tuple[int, int]:
        """(posts made before the start, posts made on the clock while it plays); write-backs count in neither."""
        timed = self._timed()
        later = len([b for b in timed if b.at > 0])
        return len(timed) - later, later

    def _timed(self) -> list[Any]:
        return [b for b in self._beats if not getattr(b, "after_reply", False)]

    def _play(self) -> None:
        for beat in sorted((b for b in self._timed() if b.at > 0), key=lambda b: b.at):
            if self._stop.wait(max(0.0, self._started + beat.at / self._speed - time.monotonic())):
                return
            self._post(beat)

    def _answer(self) -> None:
        waiting = [b for b in self._beats if getattr(b, "after_reply", False)]
        due: list[tuple[float, Any]] = []  # (monotonic time, beat): replied to, posting soon
        while (waiting or due) and self._replied is not None:
            now = time.monotonic()
            for beat in [b for b in waiting if self._replied(b)]:
                waiting.remove(beat)
                due.append((now + beat.at / self._speed, beat))
            for when, beat in [d for d in due if d[0] <= now]:
                due.remove((when, beat))
                self._post(beat)
            if self._stop.wait(REPLY_CHECK_SECONDS):
                return
