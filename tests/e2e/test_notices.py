"""People get told, through the running app: carol assigns a case to bob and bob gets a DM with the
card's link; the customer writes again and bob is pinged in the card's thread; the SLA at-risk nudge
names bob; each once, however many sweeps run."""

from __future__ import annotations

import time

from tests.e2e.helpers import case_id_of, ids
from tests.e2e.workspace import Workspace
from tests.support.waiting import wait_for

SWEEP_SECONDS = 1
TARGET = "16s"  # at risk from 8 s after the case opens (SOCIALDESK_SLA_AT_RISK=0.5)


def dms_to(slack_proxy, user_id: str) -> list[dict]:
    return [c.params for c in slack_proxy.calls_to("chat.postMessage")
            if c.params.get("channel") == user_id and c.status == 200 and c.response.get("ok")]


def test_the_assignee_gets_a_dm_then_a_ping_on_a_follow_up_and_the_sla_nudge_names_them(app, fake_x, slack_emulator,
                                                                                        slack_proxy):
    app.env.update(SOCIALDESK_SLA_TARGETS=f"high={TARGET},normal={TARGET},low={TARGET}", SOCIALDESK_SLA_AT_RISK="0.5",
                   SOCIALDESK_SLA_CHECK_SECONDS=str(SWEEP_SECONDS), SOCIALDESK_ONCALL="S0CARE")
    ws = Workspace(app, slack_emulator, slack_proxy, slack_emulator.new_channel("notify"))
    app.cli("rules", "add", "--network", "x", "--query", "acme phone", "--channel", ws.channel, "--every", "5")
    first = fake_x.post(username="dana_k", text="@acmephones my acme phone will not charge")
    app.start()
    [card] = wait_for(ws.cards, timeout=30, what="the card")
    case_id = case_id_of(card)
    bob, carol = ws.uid("bob"), ws.uid("carol")

    before = ws.views_opened()
    ws.click("carol", card, ids.MENU, value=f"{ids.MENU_ASSIGN}:{case_id}", action_type="overflow")
    modal = ws.opened_view(before, ids.ASSIGN_MODAL)
    values = {ids.ASSIGNEE_INPUT: {ids.ASSIGNEE_INPUT: {"type": "users_select", "selected_user": bob}}}
    assert ws.submit("carol", modal, values).status_code == 200
    [dm] = wait_for(lambda: dms_to(slack_proxy, bob), timeout=15, what="bob's DM")
    assert dm["text"] == f"<@{carol}> assigned you case #{case_id} (@dana_k on X)"
    [button] = [e for b in dm["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert button["action_id"] == ids.NOTICE_OPEN and f"/archives/{ws.channel}/p" in button["url"]

    # The customer writes again: bob, who owns the case, is pinged under the card.
    ours = fake_x.post(username="acmephones", text="@dana_k sorry! which charger?", in_reply_to=first["id"])
    fake_x.post(username="dana_k", text="@acmephones the acme phone one from the box", in_reply_to=ours["id"])
    wait_for(lambda: [t for t in ws.thread_texts(card) if t.startswith("🔔")], timeout=30, what="bob's ping")

    # Unanswered: the at-risk nudge names its owner (not on-call).
    [nudge] = wait_for(lambda: [t for t in ws.thread_texts(card) if "SLA at risk" in t], timeout=30, what="the nudge")
    assert nudge.endswith(f"<@{bob}>") and "subteam" not in nudge

    time.sleep(3 * SWEEP_SECONDS + 1)  # more sweeps and notifier runs: nothing is said twice
    thread = ws.thread_texts(card)
    assert [t for t in thread if t.startswith("🔔")] == [f"🔔 <@{bob}> @dana_k wrote again."]
    assert len([t for t in thread if "SLA at risk" in t]) == 1
    assert len(dms_to(slack_proxy, bob)) == 1
