"""`/social` lookups through the running app: answers come back in the slash command's HTTP response."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from socialdesk.listeners import commands
from socialdesk.listeners.deps import Deps
from socialdesk.slack.blocks.lookup import parse_nav_value

from socialdesk.slack import ids
from socialdesk.store import ingest
from socialdesk.store.db import make_engine, session_scope, upgrade
from socialdesk.store.models import CaseRow
from tests.e2e.helpers import block_text, case_id_of, cards
from tests.support.factories import x_post
from tests.support.slack_signing import FORM, block_actions_body, new_trigger_id, post_signed, slash_command_body
from tests.support.waiting import wait_for


def social(app, slack_emulator, text: str, *, channel: str, user: str = "alice") -> dict:
    body = slash_command_body(command="/social", text=text, user_id=slack_emulator.users[user], user_name=user,
                              channel_id=channel, team_id=slack_emulator.team_id, trigger_id=new_trigger_id())
    response = post_signed(app.events_url, body, app.signing_secret, FORM)
    assert response.status_code == 200, response.text
    reply = response.json()
    assert reply["response_type"] == "ephemeral"
    return reply


def shown(reply: dict) -> str:
    parts = [reply.get("text", "")]
    for block in reply.get("blocks") or []:
        if "text" in block:
            parts.append(block["text"]["text"])
        parts.extend(e.get("text", "") for e in block.get("elements", []) if isinstance(e.get("text"), str))
    return "\n".join(parts)


@pytest.fixture
def seeded(app, slack_emulator, db_url):
    """Three cases written straight to the database (two by Dana_K), their cards posted by the app."""
    channel = slack_emulator.new_channel("lookup")
    now = datetime.now(UTC)
    engine = make_engine(db_url)
    upgrade(engine)
    case_ids = []
    try:
        for minutes, (handle, text) in zip((30, 20, 10), [("Dana_K", "first <!channel> problem"),
                                                           ("someone", "unrelated"),
                                                           ("Dana_K", "second problem & more")]):
            with session_scope(engine) as session:
                case_ids += ingest.store_posts(session=session, posts=[x_post(text, handle=handle)], rule_id=None,
                                               channel_id=channel, now=now - timedelta(minutes=minutes))
    finally:
        engine.dispose()
    app.start()
    posted = wait_for(lambda: len(c := cards(slack_emulator, channel)) == 3 and c, timeout=45, what="three cards")
    by_case = {case_id_of(c): c for c in posted}
    assert sorted(by_case) == sorted(case_ids)
    return channel, case_ids, by_case


def test_case_shows_status_post_card_link_and_history(app, slack_emulator, seeded):
    channel, (first, _, _), _ = seeded
    reply = social(app, slack_emulator, f"case {first}", channel=channel)
    text = shown(reply)
    assert f"|Case #{first}>" in text  # linked to the card through chat.getPermalink
    assert "New" in text and "no owner" in text
    assert "first &lt;!channel&gt; problem" in text and "<!channel>" not in text
    assert "opened by system" in text and "card posted by system" in text

    assert "Usage: `/social case <id>`" in social(app, slack_emulator, "case abc", channel=channel)["text"]
    assert "Usage" in social(app, slack_emulator, "case 99999999999999999999", channel=channel)["text"]
    assert "Usage" in social(app, slack_emulator, "case", channel=channel)["text"]
    assert social(app, slack_emulator, "case 424242", channel=channel)["text"] == "There is no case #424242."


def test_mine_after_a_claim_queue_and_author(app, slack_emulator, seeded):
    channel, (first, second, third), by_case = seeded
    assert "You hold no open cases." in shown(social(app, slack_emulator, "mine", channel=channel))
    claim = block_actions_body(
        user_id=slack_emulator.users["alice"], user_name="alice", team_id=slack_emulator.team_id,
        channel_id=channel, message_ts=by_case[second]["ts"], action_id=ids.CLAIM, value=str(second),
        trigger_id=new_trigger_id(), message=by_case[second],
    )
    assert post_signed(app.events_url, claim, app.signing_secret, FORM).status_code == 200

    mine = wait_for(lambda: f"Case #{second}>" in (t := shown(social(app, slack_emulator, "mine", channel=channel)))
                    and t, timeout=10, what="the claimed case in mine")
    assert "1–1 of 1" in mine and "@someone" in mine

    queue = shown(social(app, slack_emulator, "queue", channel=channel))
    assert queue.index(f"Case #{first}>") < queue.index(f"Case #{third}>")
    assert f"Case #{second}>" not in queue and "waiting 3" in queue and "1–2 of 2" in queue

    author = shown(social(app, slack_emulator, "author @DANA_k", channel=channel))
    assert "*@Dana_K*" in author and "2 posts stored" in author
    assert author.index(f"Case #{third}>") < author.index(f"Case #{first}>")
    assert f"Case #{second}>" not in author
    assert "Usage" in social(app, slack_emulator, "author", channel=channel)["text"]
    assert "No posts from @nobody" in social(app, slack_emulator, "author nobody", channel=channel)["text"]


def test_stats(app, slack_emulator, seeded):
    channel, _, _ = seeded
    week = shown(social(app, slack_emulator, "stats 7d", channel=channel))
    assert "*Opened* 3" in week and "*Claimed* 0" in week and "last 7 days" in week
    forever = social(app, slack_emulator, "stats forever", channel=channel)
    assert forever["text"].startswith("`forever` is not a period") and "Usage: `/social stats" in forever["text"]


def test_search(app, slack_emulator, seeded):
    channel, (first, second, third), _ = seeded
    found = shown(social(app, slack_emulator, "search problem", channel=channel))
    assert f"Case #{first}>" in found and f"Case #{third}>" in found and f"Case #{second}>" not in found
    assert "&lt;!channel&gt;" in found and "<!channel>" not in found
    assert "Usage" in social(app, slack_emulator, "search", channel=channel)["text"]
    bad = social(app, slack_emulator, "search status:<!here>", channel=channel)["text"]
    assert "usage" in bad.lower() and "<!here>" not in bad


def test_prev_next_pages_through_the_queue(db_url):
    """The Prev/Next listener answers through response_url (unreachable in tests): its page builder, in-process."""
    engine = make_engine(db_url)
    upgrade(engine)
    now = datetime.now(UTC)
    try:
        with session_scope(engine) as session:
            case_ids = ingest.store_posts(session=session, posts=[x_post(f"q{i}", handle=f"q{i}") for i in range(23)],
                                          rule_id=None, channel_id="C1", now=now)
        deps = Deps(engine=engine, clock=lambda: now)
        seen, reply = [], commands.answer(deps, None, user_id="UALICE", text="queue")
        while True:
            blocks = [b.to_dict() for b in reply.blocks]
            seen += [int(b["block_id"].split("_")[1]) for b in blocks if b.get("block_id", "").startswith("case_")]
            nav = [e for b in blocks if b.get("block_id") == "lookup_nav" for e in b["elements"]]
            nxt = [e for e in nav if e["action_id"] == ids.LOOKUP_NEXT]
            if not nxt:
                break
            assert len([b for b in blocks if b.get("block_id", "").startswith("case_")]) == 10
            view, arg, offset = parse_nav_value(nxt[0]["value"])
            reply = commands.list_page(deps, None, view=view, arg=arg, user_id="UALICE", offset=offset)
        assert seen == case_ids
        assert [e["action_id"] for e in nav] == [ids.LOOKUP_PREV]
        assert parse_nav_value(nav[0]["value"]) == ("queue", "", 10)
    finally:
        engine.dispose()


def test_next_button_is_acked(app, slack_emulator, seeded):
    channel, _, by_case = seeded
    card = next(iter(by_case.values()))
    body = block_actions_body(
        user_id=slack_emulator.users["alice"], user_name="alice", team_id=slack_emulator.team_id,
        channel_id=channel, message_ts=card["ts"], action_id=ids.LOOKUP_NEXT, value='{"v":"queue","a":"","o":10}',
        trigger_id=new_trigger_id(), message=card,
    )
    assert post_signed(app.events_url, body, app.signing_secret, FORM).status_code == 200


def test_queue_puts_the_most_urgent_first_and_its_claim_button_claims(app, slack_emulator, seeded, db_url):
    channel, (first, second, third), _ = seeded
    engine = make_engine(db_url)
    try:
        with session_scope(engine) as session:  # the newest case is high priority: due in 20 min, the others later
            session.get(CaseRow, third).priority = "high"
    finally:
        engine.dispose()
    reply = social(app, slack_emulator, "queue", channel=channel)
    listed = [int(b["block_id"].removeprefix("case_")) for b in reply["blocks"]
              if b.get("block_id", "").startswith("case_")]
    assert listed == [third, first, second]
    assert "⏳ due in 19m" in shown(reply) or "⏳ due in 20m" in shown(reply)
    claim = next(e for b in reply["blocks"] if b.get("block_id") == f"qrow_{third}" for e in b["elements"]
                 if e["action_id"] == ids.QUEUE_CLAIM)
    body = block_actions_body(
        user_id=slack_emulator.users["bob"], user_name="bob", team_id=slack_emulator.team_id, channel_id=channel,
        message_ts="1700000000.000300", action_id=ids.QUEUE_CLAIM, value=claim["value"], trigger_id=new_trigger_id(),
        message={"ts": "1700000000.000300", "type": "message", "blocks": reply["blocks"]})
    assert post_signed(app.events_url, body, app.signing_secret, FORM).status_code == 200
    wait_for(lambda: f"<@{slack_emulator.users['bob']}> · claimed" in block_text(
        next(c for c in cards(slack_emulator, channel) if case_id_of(c) == third), "status"), timeout=10,
        what="the card shows bob's claim")
    # The list's response_url does not reach the emulator: the clicker is told in the channel instead.
    wait_for(lambda: any(f"Case #{third}" in t and "You claimed" in t for t in slack_emulator.ephemeral_texts(channel)),
             timeout=10, what="bob told of his claim")
    after = social(app, slack_emulator, "queue", channel=channel)
    assert f"case_{third}" not in {b.get("block_id") for b in after["blocks"]}
