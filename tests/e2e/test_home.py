"""App Home through the running app: the published tab, and admins pausing and editing rules from it."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlencode

from socialdesk.store import digests as digest_store
from socialdesk.store import ingest
from socialdesk.store import rules as rule_store
from socialdesk.store.db import make_engine, session_scope, upgrade
from socialdesk.store.models import CaseRow
from tests.e2e.helpers import block_text, case_id_of, cards, ids
from tests.support.slack_signing import (
    FORM,
    JSON,
    app_home_opened_event,
    block_actions_body,
    event_callback_body,
    post_signed,
    view_submission_body,
)
from tests.support.factories import x_post
from tests.support.waiting import wait_for
from tests.support.home_view import listed, texts


def open_home(app, emu, proxy, user: str) -> dict:
    """Open the Home tab as `user` (a signed app_home_opened event); the view the app then published."""
    before = len(published(proxy, emu.users[user]))
    body = event_callback_body(event=app_home_opened_event(user_id=emu.users[user]),
                               event_id=f"Ev{uuid.uuid4().hex[:12].upper()}", team_id=emu.team_id)
    response = post_signed(app.events_url, body, app.signing_secret, JSON)
    assert response.status_code == 200, response.text
    return next_home(proxy, emu.users[user], before)


def published(proxy, user_id: str) -> list[dict]:
    """The Home views the app published for `user_id` (as Slack answered them), oldest first."""
    return [c.response["view"] for c in proxy.calls_to("views.publish")
            if c.params.get("user_id") == user_id and c.response.get("ok")]


def next_home(proxy, user_id: str, before: int) -> dict:
    return wait_for(lambda: published(proxy, user_id)[before:], timeout=15, what="the Home tab published")[-1]


def click_in_home(app, emu, user: str, home: dict, action_id: str, value: str):
    """A button in the Home tab: Slack sends the view as container, no channel or message."""
    body = block_actions_body(user_id=emu.users[user], user_name=user, team_id=emu.team_id, channel_id="",
                              message_ts="", action_id=action_id, value=value, trigger_id=emu.trigger_id(user))
    payload = json.loads(dict(parse_qsl(body.decode()))["payload"])
    for key in ("channel", "response_url"):
        payload.pop(key, None)
    payload["container"] = {"type": "view", "view_id": home["id"]}
    payload["view"] = home
    response = post_signed(app.events_url, urlencode({"payload": json.dumps(payload)}).encode(),
                           app.signing_secret, FORM)
    assert response.status_code == 200, response.text
    return response


def rule_row(db_url: str, rule_id: int):
    engine = make_engine(db_url)
    try:
        with session_scope(engine) as session:
            return rule_store.get_rule(session=session, rule_id=rule_id)
    finally:
        engine.dispose()


def test_home_shows_my_cases_and_the_same_backlog_as_the_channel(app, fake_x, slack_emulator, slack_proxy):
    emu, channel = slack_emulator, slack_emulator.new_channel("home")
    app.cli("rules", "add", "--network", "x", "--query", "acme", "--channel", channel, "--every", "5")
    app.env["SOCIALDESK_SLA_TARGETS"] = "high=6s,normal=6s,low=6s"  # every case is soon at risk, then late
    for handle, text in (("dana_k", "acme battery <!channel> dies"), ("lee", "acme screen cracked"),
                         ("sam", "acme support & returns?")):
        fake_x.post(username=handle, text=text)
    app.start()  # the rule's first poll opens the cases
    posted = wait_for(lambda: len(c := cards(emu, channel)) == 3 and c, timeout=45, what="three cards")
    claimed = posted[1]
    claim = block_actions_body(user_id=emu.users["alice"], user_name="alice", team_id=emu.team_id, channel_id=channel,
                               message_ts=claimed["ts"], action_id=ids.CLAIM, value=str(case_id_of(claimed)),
                               trigger_id=emu.trigger_id("alice"), message=claimed)
    assert post_signed(app.events_url, claim, app.signing_secret, FORM).status_code == 200
    wait_for(lambda: "🙋" in block_text(cards(emu, channel)[1], "status"), timeout=10, what="the claim")

    home = open_home(app, emu, slack_proxy, "alice")
    unclaimed_in_channel = [case_id_of(c) for c in cards(emu, channel) if "New" in block_text(c, "status")]
    assert listed(home, "queue_") == unclaimed_in_channel  # oldest first, like the cards
    assert listed(home, "mine_") == [case_id_of(claimed)]
    text = texts(home)
    assert "Waiting for a claim (2)" in text and "Your cases (1)" in text
    assert f"|Case #{case_id_of(claimed)}>" in text  # linked to its card
    assert "&lt;!channel&gt;" in text and "<!channel>" not in text
    assert "*Opened*\n3" in text and "*Claimed*\n1" in text
    assert "Rules (" not in text and "Settings" not in text  # alice is no admin

    before = len(published(slack_proxy, emu.users["alice"]))
    click_in_home(app, emu, "alice", home, ids.HOME_REFRESH, "refresh")
    assert listed(next_home(slack_proxy, emu.users["alice"], before), "queue_") == unclaimed_in_channel

    # Nobody has answered: past their 6 s target, all three (claimed or not) are listed, soonest due first.
    late = wait_for(lambda: (v := open_home(app, emu, slack_proxy, "alice")) and "SLA at risk (3)" in texts(v) and v,
                    timeout=20, what="three cases at risk")
    assert listed(late, "sla_") == [case_id_of(c) for c in cards(emu, channel)]
    at_risk = texts({"blocks": [b for b in late["blocks"] if b.get("block_id", "").startswith("sla_")]})
    assert at_risk.count("overdue by") + at_risk.count("first reply due in") == 3


def test_admin_pauses_and_edits_a_rule_from_home_and_others_are_refused(app, slack_emulator, slack_proxy, db_url):
    emu, channel = slack_emulator, slack_emulator.new_channel("homerules")
    app.cli("rules", "add", "--network", "x", "--query", "acme <!here> phone", "--channel", channel, "--every", "300")
    app.start()
    mia, alice = emu.users["mia"], emu.users["alice"]

    home = open_home(app, emu, slack_proxy, "mia")
    text = texts(home)
    assert "Rules (1)" in text and "`acme &lt;!here&gt; phone`" in text and "✅ active" in text
    assert "Settings" in text and "xoxb" not in json.dumps(home) and app.signing_secret not in json.dumps(home)

    # A non-admin's click (an old Home, a forged payload) changes nothing and says why.
    before = len(published(slack_proxy, alice))
    click_in_home(app, emu, "alice", home, ids.HOME_RULE_PAUSE, "1")
    refused = next_home(slack_proxy, alice, before)
    assert "Only socialdesk admins can pause or resume rules" in texts(refused)
    assert rule_row(db_url, 1).paused is False

    before = len(published(slack_proxy, mia))
    click_in_home(app, emu, "mia", home, ids.HOME_RULE_PAUSE, "1")
    home = wait_for(lambda: [v for v in published(slack_proxy, mia)[before:] if "⏸ *paused*" in texts(v)],
                    timeout=15, what="the Home showing the rule paused")[-1]
    assert rule_row(db_url, 1).paused is True
    assert (ids.HOME_RULE_RESUME, "1") in [(e["action_id"], e["value"]) for b in home["blocks"]
                                           for e in b.get("elements") or [] if "action_id" in e]

    # Edit…: the modal, an inline error for a bad interval, then a good save.
    opens = len(slack_proxy.calls_to("views.open"))
    click_in_home(app, emu, "mia", home, ids.HOME_RULE_EDIT, "1")
    modal = wait_for(lambda: [c.response["view"] for c in slack_proxy.calls_to("views.open")[opens:]
                              if c.response.get("ok")], timeout=10, what="the rule modal")[-1]
    assert modal["callback_id"] == ids.RULE_MODAL

    def values(every: str, query: str = "acme phone -is:retweet", sla: str = "high=15m") -> dict:
        return {
            ids.RULE_SLA_INPUT: {ids.RULE_SLA_INPUT: {"type": "plain_text_input", "value": sla}},
            ids.RULE_QUERY_INPUT: {ids.RULE_QUERY_INPUT: {"type": "plain_text_input", "value": query}},
            ids.RULE_CHANNEL_INPUT: {ids.RULE_CHANNEL_INPUT: {"type": "conversations_select",
                                                              "selected_conversation": channel}},
            ids.RULE_EVERY_INPUT: {ids.RULE_EVERY_INPUT: {"type": "plain_text_input", "value": every}},
            ids.RULE_KEYWORDS_INPUT: {ids.RULE_KEYWORDS_INPUT: {"type": "plain_text_input", "value": "refund, lawsuit"}},
            ids.RULE_FOLLOWERS_INPUT: {ids.RULE_FOLLOWERS_INPUT: {"type": "plain_text_input", "value": ""}},
        }

    def submit(user: str, vals: dict):
        body = view_submission_body(user_id=emu.users[user], user_name=user, team_id=emu.team_id, view=modal,
                                    values=vals)
        response = post_signed(app.events_url, body, app.signing_secret, FORM)
        assert response.status_code == 200, response.text
        return response.json() if response.content else {}

    bad = submit("mia", values("3"))
    assert bad["response_action"] == "errors" and "minimum is 5 seconds" in bad["errors"][ids.RULE_EVERY_INPUT]
    too_long = submit("mia", values("60", "a" * 513))
    assert "513 characters" in too_long["errors"][ids.RULE_QUERY_INPUT]
    bad_sla = submit("mia", values("60", sla="vip=5m"))
    assert "unknown priority 'vip'" in bad_sla["errors"][ids.RULE_SLA_INPUT]
    assert submit("alice", values("60"))["response_action"] == "errors"  # not an admin
    assert rule_row(db_url, 1).every_seconds == 300

    before = len(published(slack_proxy, mia))
    assert submit("mia", values("120")).get("response_action") is None
    saved = wait_for(lambda: rule_row(db_url, 1).every_seconds == 120 and rule_row(db_url, 1), timeout=10,
                     what="the rule saved")
    assert saved.query == "acme phone -is:retweet" and saved.priority_keywords == ["refund", "lawsuit"]
    assert saved.sla_targets == "high=15m"
    home_text = texts(next_home(slack_proxy, mia, before))
    assert "every 120 s" in home_text and "First-response targets: high=15m" in home_text


def test_admin_adds_and_removes_a_digest_from_home(app, slack_emulator, slack_proxy, db_url):
    emu, channel = slack_emulator, slack_emulator.new_channel("homedigest")
    app.start()
    mia = emu.users["mia"]
    home = open_home(app, emu, slack_proxy, "mia")
    assert "No digests are scheduled." in texts(home)

    opens = len(slack_proxy.calls_to("views.open"))
    click_in_home(app, emu, "mia", home, ids.HOME_DIGEST_ADD, "add")
    modal = wait_for(lambda: [c.response["view"] for c in slack_proxy.calls_to("views.open")[opens:]
                              if c.response.get("ok")], timeout=10, what="the digest modal")[-1]
    assert modal["callback_id"] == ids.DIGEST_MODAL

    def submit(spec: str, channels: list[str], users: list[str]) -> dict:
        vals = {ids.DIGEST_SPEC_INPUT: {ids.DIGEST_SPEC_INPUT: {"type": "plain_text_input", "value": spec}},
                ids.DIGEST_CHANNELS_INPUT: {ids.DIGEST_CHANNELS_INPUT: {
                    "type": "multi_conversations_select", "selected_conversations": channels}},
                ids.DIGEST_USERS_INPUT: {ids.DIGEST_USERS_INPUT: {"type": "multi_users_select",
                                                                  "selected_users": users}}}
        body = view_submission_body(user_id=mia, user_name="mia", team_id=emu.team_id, view=modal, values=vals)
        response = post_signed(app.events_url, body, app.signing_secret, FORM)
        assert response.status_code == 200, response.text
        return response.json() if response.content else {}

    bad = submit("hourly", [], [])
    assert set(bad["errors"]) == {ids.DIGEST_SPEC_INPUT, ids.DIGEST_CHANNELS_INPUT}
    before = len(published(slack_proxy, mia))
    assert submit("Daily 9:00", [channel], [mia]).get("response_action") is None
    home = wait_for(lambda: [v for v in published(slack_proxy, mia)[before:] if "Digests (1)" in texts(v)],
                    timeout=15, what="the Home listing the digest")[-1]
    assert f"*daily 09:00* → <#{channel}>, <@{mia}>" in texts(home)
    engine = make_engine(db_url)
    try:
        with session_scope(engine) as session:
            [row] = digest_store.list_schedules(session=session)
        assert (row.spec, row.targets, row.created_by) == ("daily 09:00", [channel, mia], mia)

        before = len(published(slack_proxy, mia))
        click_in_home(app, emu, "mia", home, ids.HOME_DIGEST_REMOVE, str(row.id))
        wait_for(lambda: [v for v in published(slack_proxy, mia)[before:] if "Digests (0)" in texts(v)],
                 timeout=15, what="the Home without the digest")
        with session_scope(engine) as session:
            assert digest_store.list_schedules(session=session) == []
    finally:
        engine.dispose()


def seed_waiting(db_url: str, channel: str) -> dict[str, int]:
    """Three waiting cases straight in the database: the oldest is low priority, the newest high (targets
    high 30m, normal 2h, low 8h: the high one is due first, the low one last)."""
    now = datetime.now(UTC)
    engine = make_engine(db_url)
    upgrade(engine)
    found = {}
    try:
        for name, minutes, priority in (("low", 60, "low"), ("normal", 30, "normal"), ("high", 5, "high")):
            with session_scope(engine) as session:
                [case_id] = ingest.store_posts(session=session, posts=[x_post(f"acme {name}", handle=name)],
                                               rule_id=None, channel_id=channel, now=now - timedelta(minutes=minutes))
                session.get(CaseRow, case_id).priority = priority
                found[name] = case_id
    finally:
        engine.dispose()
    return found


def test_the_home_queue_is_most_urgent_first_claim_works_and_the_saved_view_survives_a_restart(
        app, slack_emulator, slack_proxy, db_url):
    emu, channel = slack_emulator, slack_emulator.new_channel("homequeue")
    case = seed_waiting(db_url, channel)
    app.env["SOCIALDESK_TAGS"] = "billing,refund"
    app.start()
    wait_for(lambda: len(cards(emu, channel)) == 3, timeout=45, what="three cards")

    home = open_home(app, emu, slack_proxy, "alice")
    assert listed(home, "queue_") == [case["high"], case["normal"], case["low"]]  # not oldest first
    assert "Every waiting case · most urgent first" in texts(home)

    before = len(published(slack_proxy, emu.users["alice"]))
    click_in_home(app, emu, "alice", home, ids.QUEUE_CLAIM, json.dumps({"c": case["high"]}))
    claimed = next_home(slack_proxy, emu.users["alice"], before)
    assert listed(claimed, "mine_") == [case["high"]] and listed(claimed, "queue_") == [case["normal"], case["low"]]
    wait_for(lambda: f"<@{emu.users['alice']}> · claimed" in block_text(
        next(c for c in cards(emu, channel) if case_id_of(c) == case["high"]), "status"), timeout=10,
        what="the card shows the claim")

    # Filter… → the modal → a saved view; a restarted app still shows it.
    opened_before = len(slack_proxy.calls_to("views.open"))
    click_in_home(app, emu, "alice", claimed, ids.HOME_QUEUE_FILTER, "filter")
    modal = wait_for(lambda: [c.response["view"] for c in slack_proxy.calls_to("views.open")[opened_before:]
                              if c.response.get("ok")], timeout=10, what="the filter modal")[-1]
    before = len(published(slack_proxy, emu.users["alice"]))
    submit = view_submission_body(user_id=emu.users["alice"], user_name="alice", team_id=emu.team_id, view=modal,
                                  values={ids.QUEUE_FILTER_INPUT: {ids.QUEUE_FILTER_INPUT: {
                                      "type": "plain_text_input", "value": "priority:low"}}})
    response = post_signed(app.events_url, submit, app.signing_secret, FORM)
    assert response.status_code == 200 and response.text in ("", "{}"), response.text
    filtered = next_home(slack_proxy, emu.users["alice"], before)
    assert listed(filtered, "queue_") == [case["low"]] and "Your view: `priority:low`" in texts(filtered)

    assert app.stop() == 0
    app.start()
    again = open_home(app, emu, slack_proxy, "alice")
    assert listed(again, "queue_") == [case["low"]] and "Your view: `priority:low`" in texts(again)
