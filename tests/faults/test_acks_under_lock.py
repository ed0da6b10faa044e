"""The ack deadline with the database write-locked by another process (#11).

Before: with the SQLite file locked for 5 s, 36 of 100 Claim clicks were acknowledged
after 3 s and 32 got Slack's "didn't call ack()". Now every click (50 at once) is acknowledged
while the lock is held, and every one is applied once it is released.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import httpx
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlmodel import select

from socialdesk.domain import EventKind
from socialdesk.slack import ids
from socialdesk.store.db import make_engine, read_scope, session_scope, upgrade
from socialdesk.store.ingest import store_posts
from socialdesk.store.models import CaseEventRow, CaseRow
from tests.e2e.helpers import case_id_of, cards
from tests.support.factories import x_post
from tests.support.slack_signing import FORM, block_actions_body, new_trigger_id, sign
from tests.support.waiting import wait_for

CLICKS = 50  # DESIGN.md's load: "50 concurrent clicks, and never past 3 s whatever the database is doing"
SLACK_ACK_DEADLINE = 3.0  # seconds: later than this, Slack shows the clicker an error (a correctness rule)
AGENTS = [f"agent{i:02d}" for i in range(1, 21)]

# Another process takes SQLite's write lock and keeps it until told to let go (or 60 s).
LOCK_HOLDER = textwrap.dedent("""
    import sqlite3, sys
    db = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
    db.execute("BEGIN IMMEDIATE")
    print("locked", flush=True)
    sys.stdin.readline()
    db.execute("ROLLBACK")
""")


def seed_cases(engine: Engine, channel: str) -> list[int]:
    with session_scope(engine) as session:
        return store_posts(session=session, posts=[x_post(f"acme phone #{n} will not charge", handle=f"c{n}")
                                                   for n in range(CLICKS)],
                           rule_id=None, channel_id=channel, now=datetime.now(UTC))


def claims(engine: Engine) -> dict[int, list[str]]:
    with read_scope(engine) as session:  # a reader: it does not wait for the lock
        rows = session.exec(select(CaseEventRow).where(CaseEventRow.kind == EventKind.CLAIMED.value)).all()
        found: dict[int, list[str]] = {}
        for row in rows:
            found.setdefault(row.case_id, []).append(row.actor)
        return found


def test_every_click_is_acked_while_another_process_holds_the_write_lock(app, slack_emulator, db_url):
    engine = make_engine(db_url)
    upgrade(engine)
    channel = slack_emulator.new_channel("locked")
    case_ids = seed_cases(engine, channel)
    app.env["SOCIALDESK_SLACK_POST_INTERVAL"] = "0"
    app.start()
    posted = wait_for(lambda: (found := cards(slack_emulator, channel)) and len(found) == CLICKS and found,
                      timeout=120, what=f"{CLICKS} cards")
    card_of = {case_id_of(card): card for card in posted}
    assert sorted(card_of) == sorted(case_ids)

    def click(n: int) -> tuple[httpx.Response, float]:
        agent, card = AGENTS[n % len(AGENTS)], card_of[case_ids[n]]
        body = block_actions_body(user_id=slack_emulator.users[agent], user_name=agent, team_id=slack_emulator.team_id,
                                  channel_id=channel, message_ts=card["ts"], action_id=ids.CLAIM,
                                  value=str(case_ids[n]), trigger_id=new_trigger_id(), message=card)
        headers = {"Content-Type": FORM, **sign(body, app.signing_secret)}
        started = time.monotonic()
        answer = slack.post(app.events_url, content=body, headers=headers)
        return answer, time.monotonic() - started

    # One client, as Slack is: building an HTTP client per click costs the test, not the app, ~25 ms each.
    slack = httpx.Client(limits=httpx.Limits(max_connections=CLICKS), timeout=SLACK_ACK_DEADLINE)
    with ThreadPoolExecutor(max_workers=CLICKS) as pool:  # open the connections first, as Slack keeps them
        assert set(pool.map(lambda _: slack.get(app.url + "/healthz").status_code, range(CLICKS))) == {200}
    holder = subprocess.Popen([sys.executable, "-c", LOCK_HOLDER, str(make_url(db_url).database)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with ThreadPoolExecutor(max_workers=CLICKS) as pool:
            answers = list(pool.map(click, range(CLICKS)))
        assert holder.poll() is None  # every answer came while the lock was held
        assert [a.status_code for a, _ in answers] == [200] * CLICKS
        # The ack deadline is a correctness rule, not a speed figure: a later answer is Slack's error.
        late = sorted(took for _, took in answers if took > SLACK_ACK_DEADLINE)
        assert not late, f"{len(late)} clicks acked after {SLACK_ACK_DEADLINE} s (worst {late[-1]:.2f} s)"
        print(f"{CLICKS} clicks during the lock: worst ack {max(t for _, t in answers) * 1000:.0f} ms")
        assert claims(engine) == {}  # nothing could be written yet
    finally:
        holder.communicate("release\n", timeout=30)
        slack.close()

    # None lost: once the lock is gone, every click is applied, once, by its clicker.
    wanted = {case_ids[n]: [slack_emulator.users[AGENTS[n % len(AGENTS)]]] for n in range(CLICKS)}
    wait_for(lambda: claims(engine) == wanted, timeout=60, what="every click applied after the lock")
    with read_scope(engine) as session:
        owners = {c.id: c.assignee for c in session.exec(select(CaseRow)).all()}
    assert owners == {case_id: actors[0] for case_id, actors in wanted.items()}
    assert "didn't call ack()" not in app.log() and "Traceback" not in app.log()
    engine.dispose()
