"""X's documented reconnect policy (refs/x/docs/handling-disconnections.mdx), as `reconnect_delay` gives it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from socialdesk.networks.base import CursorExpired, RateLimited, SourceRejected, SourceUnavailable
from socialdesk.networks.x.stream import StreamRefused, StreamServerError, reconnect_delay

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def delays(error: Exception, count: int) -> list[float | None]:
    return [reconnect_delay(error, n, now=NOW) for n in range(1, count + 1)]


def test_network_errors_back_off_linearly_by_250_ms_to_16_s() -> None:
    got = delays(SourceUnavailable("X's stream was silent for 30 s (no keep-alive)"), 70)
    assert got[:4] == [0.25, 0.5, 0.75, 1.0]
    assert got[63] == 16.0 and got[69] == 16.0 and max(got) == 16.0  # type: ignore[type-var]


@pytest.mark.parametrize("error", [StreamServerError("503", status=503), StreamRefused("401", status=401),
                                   SourceRejected("X refused the stream connection (400)")])
def test_http_errors_back_off_exponentially_from_5_s_to_320_s(error: Exception) -> None:
    assert delays(error, 9) == [5, 10, 20, 40, 80, 160, 320, 320, 320]


def test_429_backs_off_exponentially_from_a_minute() -> None:
    soon = RateLimited("429", reset_at=NOW + timedelta(seconds=10))
    assert delays(soon, 7) == [60, 120, 240, 480, 960, 960, 960]


def test_429_waits_for_a_later_reset() -> None:
    later = RateLimited("429", reset_at=NOW + timedelta(minutes=14))
    assert delays(later, 5) == [840, 840, 840, 840, 960]
    far = RateLimited("429", reset_at=NOW + timedelta(days=3))  # a monthly cap: looked at again within the hour
    assert reconnect_delay(far, 1, now=NOW) == 3600


def test_what_the_policy_does_not_cover_is_left_to_the_worker() -> None:
    assert reconnect_delay(CursorExpired("gap too long"), 1, now=NOW) is None
    assert reconnect_delay(ValueError("a bug"), 3, now=NOW) is None
    assert reconnect_delay(SourceUnavailable("drop"), 0, now=NOW) == 0.25  # counted from one
