"""The Test button beside each webhook in App Home (listeners.webhooks), called in-process.

App Home has no channel, so the clicker hears back in a DM (conversations.open, then
chat.postMessage). The end-to-end tests cover a delivered ping and a non-admin's refusal;
here the refusal is checked to send nothing, and the outcomes that are not a delivery.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlmodel import select

from socialdesk.listeners import webhooks
from socialdesk.listeners.webhook_commands import NOT_ADMIN
from socialdesk.slack import ids
from socialdesk.store import webhooks as webhook_store
from socialdesk.store.db import read_scope, session_scope
from socialdesk.store.models import WebhookDeliveryRow
from tests.support.ports import free_port
from tests.support.webhook_receiver import Scripted, WebhookReceiver

SECRET = "whsec-listener-0123456789"


@pytest.fixture
def desk_settings() -> dict[str, str]:
    return {"SOCIALDESK_WEBHOOKS_ALLOW_LOOPBACK": "1"}  # the receivers here listen on 127.0.0.1


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver(secret=SECRET) as running:
        yield running


def add_webhook(deps, url: str) -> int:
    with session_scope(deps.engine) as session:
        return webhook_store.add_webhook(session=session, url=url, secret=SECRET, created_by="UMIA",
                                         now=datetime.now(UTC), allow_loopback=True).id


def deliveries(deps) -> list[WebhookDeliveryRow]:
    with read_scope(deps.engine) as session:
        return list(session.exec(select(WebhookDeliveryRow).order_by(WebhookDeliveryRow.id)))


def press_test(slack_emulator, desk, deps, user: str, value: object) -> None:
    body = {"type": "block_actions", "user": {"id": slack_emulator.users[user]},
            "container": {"type": "view", "view_id": "V0HOME"},
            "actions": [{"action_id": ids.WEBHOOK_TEST, "type": "button", "value": value}]}
    webhooks.test_clicked(body, desk.slack, deps=deps)



def dms(slack_proxy, slack_emulator, user: str) -> list[str]:
    """Texts posted to `user`'s DM with the app (the channel conversations.open gave)."""
    opened = {c.response["channel"]["id"] for c in slack_proxy.calls_to("conversations.open")
              if c.params.get("users") == slack_emulator.users[user] and c.response.get("ok")}
    return [c.params.get("text", "") for c in slack_proxy.calls_to("chat.postMessage")
            if c.params.get("channel") in opened and c.response.get("ok")]


def test_a_non_admin_is_refused_by_dm_and_nothing_is_sent(desk, deps, slack_emulator, slack_proxy, receiver):
    webhook_id = add_webhook(deps, receiver.url)
    press_test(slack_emulator, desk, deps, "alice", str(webhook_id))
    assert dms(slack_proxy, slack_emulator, "alice") == [NOT_ADMIN]
    assert receiver.received == [] and deliveries(deps) == []


def test_an_admin_hears_each_outcome_in_a_dm(desk, deps, slack_emulator, slack_proxy, receiver):
    webhook_id = add_webhook(deps, receiver.url)
    press_test(slack_emulator, desk, deps, "mia", str(webhook_id))
    [delivered] = dms(slack_proxy, slack_emulator, "mia")
    assert delivered.startswith(f"✅ Test ping to webhook {webhook_id}: delivered (HTTP 200 in ")
    assert [(r.json["type"], r.verified) for r in receiver.received] == [("ping", True)]
    [row] = deliveries(deps)
    assert (row.webhook_id, row.kind, row.status, row.last_status_code) == (webhook_id, "ping", "delivered", 200)

    receiver.script.append(Scripted(500, body="boom"))
    press_test(slack_emulator, desk, deps, "mia", str(webhook_id))
    failed = dms(slack_proxy, slack_emulator, "mia")[-1]
    assert failed.startswith(f"❌ Test ping to webhook {webhook_id}: failed: HTTP 500: boom. Check that the receiver is up")
    assert f"`/social webhooks log {webhook_id}` shows past attempts." in failed

    with session_scope(deps.engine) as session:
        webhook_store.remove_webhook(session=session, webhook_id=webhook_id)
    press_test(slack_emulator, desk, deps, "mia", str(webhook_id))  # the Home was published before the removal
    assert dms(slack_proxy, slack_emulator, "mia")[-1] == (
        f"Webhook {webhook_id} was removed before the test ping went out.")
    assert len(receiver.received) == 2


def test_an_unreachable_receiver_and_a_button_without_a_number_are_told(desk, deps, slack_emulator, slack_proxy):
    webhook_id = add_webhook(deps, f"http://127.0.0.1:{free_port()}/hooks")  # nothing listens there
    press_test(slack_emulator, desk, deps, "mia", str(webhook_id))
    down = dms(slack_proxy, slack_emulator, "mia")[-1]
    assert down.startswith(f"❌ Test ping to webhook {webhook_id}: failed: could not reach the receiver (ConnectError")
    assert "Check that the receiver is up" in down
    assert [r.status for r in deliveries(deps)] == ["failed"]
    for value in (None, "", "abc", "1" * 10, "-1", "٣"):
        press_test(slack_emulator, desk, deps, "mia", value)
        assert dms(slack_proxy, slack_emulator, "mia")[-1] == (
            "That Test button carries no webhook number; reopen the Home tab and try again."), value
    assert len(deliveries(deps)) == 1
