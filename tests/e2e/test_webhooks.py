"""Webhooks through the running app: a local CRM-like receiver gets signed case events.

A webhook is added with the CLI before the app starts; cases come in from FakeX and are
claimed with a signed click. `/social webhooks` and App Home's Test button are driven as
an admin (mia) and as an agent (alice).
"""

from __future__ import annotations

import json
import time
from urllib.parse import parse_qsl, urlencode

import pytest

from socialdesk.slack import ids
from tests.e2e.helpers import case_id_of, cards
from tests.support.app_process import AppProcess
from tests.support.slack_signing import FORM, block_actions_body, new_trigger_id, post_signed, slash_command_body
from tests.support.waiting import wait_for
from tests.support.webhook_receiver import WebhookReceiver

SECRET = "whsec-e2e-0123456789abcdef"


@pytest.fixture(autouse=True)
def local_receivers_allowed(app) -> None:
    """The receivers here listen on 127.0.0.1: the opt-in for tests and the local demo."""
    app.env["SOCIALDESK_WEBHOOKS_ALLOW_LOOPBACK"] = "1"


def events_of(receiver: WebhookReceiver, kind: str) -> list[dict]:
    return [r.json for r in receiver.verified() if r.headers["x-socialdesk-event"] == kind]


def social(app, emu, user: str, channel: str, text: str) -> dict:
    body = slash_command_body(command="/social", text=text, user_id=emu.users[user], user_name=user,
                              channel_id=channel, team_id=emu.team_id, trigger_id=new_trigger_id())
    response = post_signed(app.events_url, body, app.signing_secret, FORM)
    assert response.status_code == 200, response.text
    return response.json()


def click_home_test(app, emu, user: str, webhook_id: str) -> None:
    """The Test button in App Home: Slack sends the view as container, no channel, no response_url."""
    body = block_actions_body(user_id=emu.users[user], user_name=user, team_id=emu.team_id, channel_id="",
                              message_ts="", action_id=ids.WEBHOOK_TEST, value=webhook_id,
                              trigger_id=emu.trigger_id(user))
    payload = json.loads(dict(parse_qsl(body.decode()))["payload"])
    for key in ("channel", "response_url"):
        payload.pop(key, None)
    payload["container"] = {"type": "view", "view_id": "V0HOME"}
    response = post_signed(app.events_url, urlencode({"payload": json.dumps(payload)}).encode(),
                           app.signing_secret, FORM)
    assert response.status_code == 200, response.text


def messages_to(proxy, method: str, **match: str) -> list[str]:
    return [c.params.get("text", "") for c in proxy.calls_to(method)
            if all(c.params.get(k) == v for k, v in match.items()) and c.response.get("ok")]


def test_a_crm_receives_signed_case_opened_and_case_claimed(app, fake_x, slack_emulator):
    channel = slack_emulator.new_channel("hooks")
    with WebhookReceiver(secret=SECRET) as receiver:
        app.cli("rules", "add", "--network", "x", "--query", "acme", "--channel", channel, "--every", "5")
        added = app.cli("webhooks", "add", receiver.url, "--secret", SECRET, "--events", "case.opened,case.claimed")
        assert "webhook 1 added" in added.stdout
        fake_x.post(username="dana_k", text="acme support? my phone will not charge")
        app.start()

        [card] = wait_for(lambda: cards(slack_emulator, channel), timeout=30, what="the card")
        [opened] = wait_for(lambda: events_of(receiver, "case.opened"), timeout=20, what="case.opened at the receiver")
        assert opened["case"]["id"] == case_id_of(card)
        assert opened["case"]["customer"]["handle"] == "dana_k"
        assert opened["case"]["post"]["text"] == "acme support? my phone will not charge"
        assert opened["case"]["rule"]["query"] == "acme"

        click = block_actions_body(user_id=slack_emulator.users["alice"], user_name="alice",
                                   team_id=slack_emulator.team_id, channel_id=channel, message_ts=card["ts"],
                                   action_id=ids.CLAIM, value=str(case_id_of(card)), trigger_id=new_trigger_id(),
                                   message=card)
        assert post_signed(app.events_url, click, app.signing_secret, FORM).status_code == 200
        [claimed] = wait_for(lambda: events_of(receiver, "case.claimed"), timeout=20, what="case.claimed")

    assert claimed["case"]["id"] == case_id_of(card)
    assert claimed["case"]["assignee"] == slack_emulator.users["alice"] == claimed["event"]["actor"]
    assert claimed["case"]["status"] == "claimed"
    assert all(r.verified for r in receiver.received)  # every request carried a good signature
    assert len(receiver.received) == 2  # card_posted and other history are not subscribed
    rows = [line.split() for line in app.cli("webhooks", "deliveries", "1").stdout.splitlines()[1:]]
    assert [(r[3], r[5], r[6], r[7]) for r in rows] == [("case.claimed", "delivered", "1", "200"),
                                                        ("case.opened", "delivered", "1", "200")]


def test_admins_list_and_test_webhooks_from_slack(app, slack_emulator, slack_proxy):
    emu = slack_emulator
    channel = emu.new_channel("hookadmin")
    with WebhookReceiver(secret=SECRET) as receiver:
        app.cli("webhooks", "add", receiver.url, "--secret", SECRET)
        app.start()

        refused = social(app, emu, "alice", channel, "webhooks")
        assert refused["text"].startswith("Only socialdesk admins can manage webhooks")
        listed = social(app, emu, "mia", channel, "webhooks")
        section = listed["blocks"][1]["text"]["text"]
        assert "*1* · `http://127.0.0.1:" in section and "all case events" in section and "no deliveries yet" in section

        ack = social(app, emu, "mia", channel, "webhooks test 1")
        assert ack["text"] == "Sending a test ping to webhook 1… I will tell you how it went."
        told = wait_for(lambda: messages_to(slack_proxy, "chat.postEphemeral", channel=channel, user=emu.users["mia"]),
                        timeout=20, what="the test outcome")
        assert told[0].startswith("✅ Test ping to webhook 1: delivered (HTTP 200 in ")

        click_home_test(app, emu, "mia", "1")
        dms = wait_for(lambda: [t for t in messages_to(slack_proxy, "chat.postMessage") if "Test ping" in t],
                       timeout=20, what="the DM after the Home Test button")
        assert dms[0].startswith("✅ Test ping to webhook 1: delivered")
        click_home_test(app, emu, "alice", "1")
        wait_for(lambda: [t for t in messages_to(slack_proxy, "chat.postMessage") if t.startswith("Only socialdesk admins")],
                 timeout=20, what="the refusal DM")

    assert [r.json["type"] for r in receiver.received] == ["ping", "ping"]  # alice's click sent nothing
    assert all(r.verified for r in receiver.received)
    log = social(app, emu, "mia", channel, "webhooks log 1")
    assert log["blocks"][1]["text"]["text"].count("`ping`") == 2

    # Managing from Slack: Slack sends a typed URL as <https://…>. A public address, written as one so that
    # nothing is looked up; nothing is sent to it (no case is resolved here).
    added = social(app, emu, "mia", channel, "webhooks add <https://93.184.215.14/hooks/socialdesk> case.resolved")
    assert added["text"].startswith("Webhook 2 added: `https://93.184.215.14/hooks/socialdesk` (case.resolved).\n"
                                    "Signing secret — shown only this once")
    metadata = social(app, emu, "mia", channel, "webhooks add <http://169.254.169.254/latest/meta-data>")["text"]
    assert metadata.startswith("use https://") and "Usage:" in metadata
    metadata = social(app, emu, "mia", channel, "webhooks add <https://169.254.169.254/latest/meta-data>")["text"]
    assert metadata.startswith("169.254.169.254 is a link-local address (169.254/16, fe80::/10, where cloud metadata "
                               "services answer): webhooks go only to public addresses") and "Usage:" in metadata
    private = social(app, emu, "mia", channel, "webhooks add <https://user:pw@10.1.2.3/hook>")["text"]
    assert private.startswith("the URL carries a user name or password")
    assert social(app, emu, "mia", channel, "webhooks add <https://10.1.2.3/hook>")["text"].startswith(
        "10.1.2.3 is a private address")
    plain_http = social(app, emu, "mia", channel, "webhooks add http://crm.example.com/hook")["text"]
    assert plain_http.startswith("use https://") and "Usage:" in plain_http
    assert social(app, emu, "mia", channel, "webhooks retry 2")["text"] == "Webhook 2 has no failed deliveries."
    assert social(app, emu, "mia", channel, "webhooks pause 2")["text"].startswith("Webhook 2 paused")
    assert "⏸ paused" in social(app, emu, "mia", channel, "webhooks")["blocks"][2]["text"]["text"]
    assert social(app, emu, "mia", channel, "webhooks resume 2")["text"].startswith("Webhook 2 resumed")
    assert social(app, emu, "mia", channel, "webhooks remove 2")["text"] == "Webhook 2 removed, with its delivery log."
    assert social(app, emu, "mia", channel, "webhooks test 2")["text"] == \
        "There is no webhook 2. `/social webhooks` lists them."
    assert social(app, emu, "mia", channel, "webhooks frobnicate 2")["text"].startswith(
        "`frobnicate` is not a webhooks command.\nUsage: `/social webhooks")


@pytest.mark.both_databases
def test_two_replicas_send_each_event_once(app, fake_x, slack_emulator, tmp_path):
    """Both replicas run the webhook job on one database: leases and the outbox lock keep it to one POST each."""
    channel = slack_emulator.new_channel("hookreplicas")
    with WebhookReceiver(secret=SECRET) as receiver:
        app.cli("rules", "add", "--network", "x", "--query", "acme", "--channel", channel, "--every", "5")
        app.cli("webhooks", "add", receiver.url, "--secret", SECRET, "--events", "case.opened")
        for i in range(6):
            fake_x.post(username=f"customer{i}", text=f"acme phone problem number {i}")
        second = AppProcess(env=app.env, log_path=tmp_path / "second.log")
        app.start()
        second.start()
        try:
            wait_for(lambda: len(cards(slack_emulator, channel)) == 6, timeout=40, what="six cards")
            wait_for(lambda: len(events_of(receiver, "case.opened")) >= 6, timeout=20, what="six case.opened")
            time.sleep(5)  # two more webhook rounds on each replica: a duplicate would show up now
        finally:
            second.stop()
    deliveries = [r.headers["x-socialdesk-delivery"] for r in receiver.received]
    assert len(deliveries) == len(set(deliveries)) == 6
    assert sorted(e["case"]["id"] for e in events_of(receiver, "case.opened")) == \
        sorted(case_id_of(c) for c in cards(slack_emulator, channel))
