"""Claiming from the card: signed clicks POSTed to the running app, Slack served by the emulator."""

from __future__ import annotations

import statistics
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import create_engine, text

from socialdesk.slack import ids
from tests.e2e.helpers import block_text, button_ids, case_id_of, cards
from tests.support.slack_signing import FORM, block_actions_body, new_trigger_id, post_signed
from tests.support.waiting import wait_for


def click(app, slack_emulator, *, user: str, card: dict, channel: str, action_id: str, value: str | None = None,
          action_type: str = "button"):
    body = block_actions_body(
        user_id=slack_emulator.users[user], user_name=user, team_id=slack_emulator.team_id,
        channel_id=channel, message_ts=card["ts"], action_id=action_id, value=value or str(case_id_of(card)),
        trigger_id=new_trigger_id(), message=card, action_type=action_type,
    )
    started = time.monotonic()
    response = post_signed(app.events_url, body, app.signing_secret, FORM)
    return response, time.monotonic() - started


@pytest.fixture
def one_card(app, fake_x, slack_emulator):
    channel = slack_emulator.new_channel("claim")
    app.cli("rules", "add", "--network", "x", "--query", "acme", "--channel", channel, "--every", "5")
    fake_x.post(username="dana_k", text="acme support? my phone will not charge")
    app.start()
    [card] = wait_for(lambda: cards(slack_emulator, channel), timeout=20, what="the card")
    return channel, card


def claim_events(db_url: str, case_id: int) -> list[tuple[str, str]]:
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT kind, actor FROM case_events WHERE case_id = :c ORDER BY id"), {"c": case_id})
            return [(r[0], r[1]) for r in rows]
    finally:
        engine.dispose()


@pytest.mark.both_databases
def test_twenty_concurrent_claims_give_exactly_one_owner(app, one_card, slack_emulator, db_url):
    channel, card = one_card
    agents = [f"agent{i:02d}" for i in range(1, 21)]
    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(lambda a: click(app, slack_emulator, user=a, card=card, channel=channel, action_id=ids.CLAIM), agents))
    assert all(r.status_code == 200 for r, _ in results), [r.text for r, _ in results]
    acks = sorted(t for _, t in results)
    print(f"20 concurrent claims: ack median {statistics.median(acks) * 1000:.0f} ms, max {acks[-1] * 1000:.0f} ms")

    # Each loser's listener ends by telling them "already claimed": once all 19 have been told, every
    # click has been through the database, and one claim event is all there is.
    refusals = wait_for(lambda: (t := [x for x in slack_emulator.ephemeral_texts(channel) if "already claimed" in x])
                        and len(t) >= 19 and t, timeout=15, what="19 refusals")
    assert len(refusals) == 19
    claims = [e for e in claim_events(db_url, case_id_of(card)) if e[0] == "claimed"]
    assert len(claims) == 1
    winner_id = claims[0][1]
    winner = next(name for name, uid in slack_emulator.users.items() if uid == winner_id)
    assert winner in agents

    updated = wait_for(lambda: [c for c in cards(slack_emulator, channel) if "🙋" in block_text(c, "status")],
                       timeout=10, what="the card updated in place")
    assert len(cards(slack_emulator, channel)) == 1 and updated[0]["ts"] == card["ts"]
    assert block_text(updated[0], "status").startswith(f"🙋 <@{winner_id}> · claimed ")
    assert button_ids(updated[0]) == [ids.REPLY, ids.NOTE, ids.RESOLVE, ids.MENU]

    thread = wait_for(lambda: slack_emulator.replies(channel, card["ts"])[1:], timeout=10, what="the thread line")
    assert [m["text"] for m in thread] == [f"🙋 <@{winner_id}> claimed this case."]

    assert all(r == f"Case #{case_id_of(card)} is already claimed by <@{winner_id}>." for r in refusals)


def test_unclaim_is_for_the_owner_only(app, one_card, slack_emulator, db_url):
    channel, card = one_card
    response, _ = click(app, slack_emulator, user="alice", card=card, channel=channel, action_id=ids.CLAIM)
    assert response.status_code == 200
    wait_for(lambda: "🙋" in block_text(cards(slack_emulator, channel)[0], "status"), timeout=10, what="claim")

    unclaim = {"action_id": ids.MENU, "value": f"unclaim:{case_id_of(card)}", "action_type": "overflow"}
    click(app, slack_emulator, user="bob", card=card, channel=channel, **unclaim)
    wait_for(lambda: any("Only <@" in t for t in slack_emulator.ephemeral_texts(channel)), timeout=10, what="refusal")
    assert "🙋" in block_text(cards(slack_emulator, channel)[0], "status")

    click(app, slack_emulator, user="alice", card=card, channel=channel, **unclaim)
    back = wait_for(lambda: (c := cards(slack_emulator, channel)[0]) and "New" in block_text(c, "status") and c,
                    timeout=10, what="the card back in the queue")
    assert button_ids(back) == [ids.CLAIM, ids.REPLY, ids.NOTE, ids.RESOLVE, ids.MENU]
    kinds = [k for k, _ in claim_events(db_url, case_id_of(card))]
    assert kinds == ["opened", "card_posted", "claimed", "unclaimed"]


def test_a_click_for_a_case_that_does_not_exist_gets_a_clear_answer(app, one_card, slack_emulator):
    channel, card = one_card
    ghost = dict(card, metadata={"event_type": ids.CASE_METADATA_TYPE, "event_payload": {"case_id": 999999}})
    response, _ = click(app, slack_emulator, user="carol", card=ghost, channel=channel, action_id=ids.CLAIM)
    assert response.status_code == 200
    wait_for(lambda: any("Case 999999 is not in socialdesk" in t for t in slack_emulator.ephemeral_texts(channel)),
             timeout=10, what="the explanation")
