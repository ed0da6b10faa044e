"""The rows of `python bench/faults.py`, in the order the table prints them.

Each row is a function (bench, tries) -> RowResult, in the module of its group:
guard (the request guard and Slack's retries), forged (forged and oversized input), clicks
(concurrent claims), publishing (cards under Slack faults and kills), polling (X faults and
kills), network (webhook targets, slow sockets).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from faults.common import Bench, RowResult  # first: it puts the repository (tests.support) on sys.path
from faults import clicks, forged, guard, network, polling, publishing  # noqa: I001


@dataclass(frozen=True)
class Row:
    number: int
    name: str  # for --only
    title: str  # the table's "fault" column
    run: Callable[[Bench, int], RowResult]


ROWS = [
    Row(1, "stale-signature", "stale signature (timestamp > 5 min)", guard.stale_signature),
    Row(2, "replay", "replayed signed /social rules add (3x)", guard.replayed_command),
    Row(3, "junk", "unsigned junk / non-form / payload not an object", guard.junk),
    Row(4, "forged", "forged modal metadata and button values", forged.forged_input),
    Row(5, "limits", "made-up tags, 200,000-char note", forged.limits),
    Row(6, "event-retry", "Events API retry (same event_id)", guard.event_retry),
    Row(7, "claim-race", "50 concurrent Claims on one card", clicks.claim_race),
    Row(8, "slack-429", "Slack 429 + Retry-After during a burst", publishing.slack_429),
    Row(9, "x-faults", "X 429 / 503 / connection resets", polling.polling_faults),
    Row(10, "kill-publish", "kill -9 and SIGTERM mid-publish", publishing.kill_publish),
    Row(11, "hostile-text", "hostile text in posts", publishing.hostile_text),
    Row(12, "db-locked", "SQLite write-locked 5 s, 100 Claims", clicks.db_locked),
    Row(13, "kill-poll", "kill -9 mid-poll, then the next post", polling.kill_poll),
    Row(14, "webhook-ssrf", "webhook URLs to internal addresses", network.webhook_ssrf),
    Row(15, "slowloris", "200 slow sockets (slowloris)", network.slowloris),
]


def select(only: list[str] | None) -> list[Row]:
    """Rows named (or numbered) in `only`, all when None; ValueError for a name no row has."""
    if not only:
        return list(ROWS)
    wanted = {w.strip() for item in only for w in item.split(",") if w.strip()}
    unknown = wanted - {r.name for r in ROWS} - {str(r.number) for r in ROWS}
    if unknown:
        raise ValueError(f"no row named {', '.join(sorted(unknown))}; rows: {', '.join(r.name for r in ROWS)}")
    return [r for r in ROWS if r.name in wanted or str(r.number) in wanted]
