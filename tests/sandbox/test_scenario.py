"""The scripted day's player: timed beats, and customers who write back only after the brand replied."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from socialdesk.sandbox.scenario import DEMO_SCENARIO, OWN_HANDLE, SCENARIO, Player
from tests.support.waiting import wait_for


@dataclass(frozen=True)
class Beat:
    at: float
    name: str
    after_reply: bool = False


def test_a_write_back_waits_for_the_brands_reply_and_timed_beats_do_not() -> None:
    posted: list[str] = []
    replied = threading.Event()
    player = Player([Beat(0, "seeded"), Beat(1, "timed"), Beat(1, "thanks", after_reply=True)], speed=100,
                    post=lambda b: posted.append(b.name), name="t", replied=lambda b: replied.is_set())
    assert player.counts == (1, 1)  # the write-back is in neither: it may never come
    player.seed()
    player.start()
    try:
        wait_for(lambda: "timed" in posted, timeout=5, what="the timed beat")
        assert "thanks" not in posted  # nobody replied yet
        replied.set()
        wait_for(lambda: "thanks" in posted, timeout=5, what="the write-back")
        assert posted == ["seeded", "timed", "thanks"]
    finally:
        player.stop()


def test_the_demos_day_has_no_scripted_brand_reply_and_varied_authors() -> None:
    assert any(b.handle == OWN_HANDLE and b.reply_to for b in SCENARIO)  # the sandbox keeps its own
    assert not any(b.handle == OWN_HANDLE and b.reply_to for b in DEMO_SCENARIO)
    [back] = [b for b in DEMO_SCENARIO if b.after_reply]
    assert back.handle == "dana_k"
    assert any(b.verified for b in DEMO_SCENARIO) and max(b.followers for b in DEMO_SCENARIO) >= 10_000
