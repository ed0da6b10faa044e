"""kill -9 while a poll is in flight: after a restart the rule is polled again within about one
poll interval, not minutes later, and nothing is lost or doubled.

The issue: a worker killed during a poll left the rule's lease five minutes ahead, so posts
arrived 4 min 50 s late. A lease now lasts as long as the rule's interval (at most 30 s,
jobs.poll.lease_seconds), renewed while the walk runs (jobs.poll.LeaseKeeper).
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine, text

from socialdesk.networks.x.search import SEARCH_PATH
from tests.e2e.helpers import block_text, cards, case_id_of
from tests.support.waiting import wait_for

EVERY = 5  # the shortest poll interval `rules add --every` accepts
LEASE = EVERY  # seconds a dead worker may hold a rule polled every EVERY s (jobs.poll.lease_seconds; pinned here)
QUERY = "acme"
SETTLE = 10  # a restart (~2 s), the publisher's tick (1 s) and Slack's posting pace, with room to spare


def as_utc(value) -> datetime | None:  # type: ignore[no-untyped-def]
    """A timestamp read with plain SQL: SQLite gives naive UTC (a string with some drivers)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class Db:
    """What the app wrote, read the way an operator would (plain SQL, its own engine)."""

    def __init__(self, url: str) -> None:
        self.engine = create_engine(url)

    def rows(self, sql: str, **params) -> list:  # type: ignore[no-untyped-def]
        with self.engine.connect() as conn:
            return list(conn.execute(text(sql), params))

    def rule(self, rule_id: int):  # type: ignore[no-untyped-def]
        [row] = self.rows("SELECT lease_until, last_polled_at, last_success_at, last_error, consecutive_failures"
                          " FROM rules WHERE id = :id", id=rule_id)
        return row

    def close(self) -> None:
        self.engine.dispose()


@pytest.fixture
def db(db_url):  # type: ignore[no-untyped-def]
    database = Db(db_url)
    yield database
    database.close()


def card_texts(slack_emulator, channel: str) -> list[str]:  # type: ignore[no-untyped-def]
    return [block_text(c, "post") for c in cards(slack_emulator, channel)]


@pytest.mark.both_databases
def test_kill_9_during_a_poll_holds_the_rule_one_lease_at_most_and_loses_nothing(app, fake_x, slack_emulator, db):
    channel = slack_emulator.new_channel("pollkill")
    added = app.cli("rules", "add", "--network", "x", "--query", QUERY, "--channel", channel,
                    "--every", str(EVERY)).stdout
    rule_id = int(re.search(r"rule (\d+) added", added).group(1))
    before = fake_x.post(username="early_bird", text="acme screen cracked on day one")  # in the first poll's page
    app.start()
    wait_for(lambda: as_utc(db.rule(rule_id).last_success_at), timeout=20, what="the rule's first poll, stored")
    # The rule's next search hangs (not its follow-up searches): that poll holds the lease when the process dies.
    fake_x.fail_next(SEARCH_PATH, status=200, delay=120, query={"query": QUERY})
    during = fake_x.post(username="mid_poll", text="acme battery swelling, help")
    wait_for(lambda: card_texts(slack_emulator, channel) == [before["text"]], timeout=SETTLE,
             what="the card of a post made before the kill")
    in_flight = wait_for(
        lambda: fake_x.faults_pending(SEARCH_PATH) == 0 and (r := db.rule(rule_id)).lease_until is not None and r,
        timeout=EVERY + SETTLE, what="a poll in flight, holding the rule's lease")
    # Renewed while the walk runs, but never more than LEASE ahead of now.
    assert as_utc(in_flight.lease_until) - datetime.now(UTC) <= timedelta(seconds=LEASE), f"a lease over {LEASE} s"
    app.kill9()
    killed_at = time.monotonic()
    left = as_utc(db.rule(rule_id).lease_until)
    assert left is not None and left > datetime.now(UTC) - timedelta(seconds=1)  # the dead worker gave nothing back

    app.start()
    after = fake_x.post(username="after_restart", text="acme charger sparks when plugged in")
    # Within what is left of the dead worker's lease plus one interval (plus the publisher's
    # pace): a lease five minutes ahead fails here. Counted from the kill, restart included.
    bound = LEASE + EVERY + SETTLE
    wanted = sorted(p["text"] for p in (before, during, after))
    wait_for(lambda: sorted(card_texts(slack_emulator, channel)) == wanted or len(cards(slack_emulator, channel)) > 3,
             timeout=bound - (time.monotonic() - killed_at),
             what=f"the cards of the posts made during the killed poll and after the restart, within {bound} s")

    # Settled: every case's card recorded, and a later poll done after that (any second
    # reading of a post, and its card, would have happened by then).
    wait_for(lambda: db.rows("SELECT count(*) FROM cases WHERE message_ts IS NULL")[0][0] == 0,
             timeout=SETTLE, what="every case's card recorded")
    settled_at = datetime.now(UTC)
    wait_for(lambda: as_utc(db.rule(rule_id).last_success_at) > settled_at, timeout=EVERY + SETTLE,
             what="a poll after every card was recorded")
    final = cards(slack_emulator, channel)
    assert sorted(card_texts(slack_emulator, channel)) == wanted  # one card per post
    assert len({case_id_of(c) for c in final}) == 3
    posts = db.rows("SELECT external_id, case_id FROM posts ORDER BY external_id")
    assert sorted(p for p, _ in posts) == sorted(p["id"] for p in (before, during, after))
    assert len({c for _, c in posts}) == 3  # each post its own case
    assert db.rows("SELECT count(*) FROM cases")[0][0] == 3
    state = db.rule(rule_id)
    assert state.last_error is None and state.consecutive_failures == 0
