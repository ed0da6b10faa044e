"""Outcomes through the running app (#15): someone else's case resolved as a duplicate of another,
both cards and `case show` linked, the owner told in a DM; then reopened, back in the queue."""

from __future__ import annotations

from tests.e2e.helpers import block_text, button_ids, case_id_of, ids
from tests.e2e.workspace import Workspace, outcome_value, text_value
from tests.support.waiting import wait_for


def test_a_duplicate_links_both_cards_tells_the_owner_and_a_reopen_re_arms_it(app, fake_x, slack_emulator,
                                                                              slack_proxy):
    ws = Workspace(app, slack_emulator, slack_proxy, slack_emulator.new_channel("outcomes"))
    app.cli("rules", "add", "--network", "x", "--query", "acme", "--channel", ws.channel, "--every", "5")
    fake_x.post(username="dana_k", text="my acme phone will not charge")
    fake_x.post(username="eli", text="acme phone not charging here either")
    app.start()
    found = wait_for(lambda: c if len(c := ws.cards()) == 2 else None, timeout=20, what="two cards")
    original, duplicate = sorted(case_id_of(c) for c in found)
    ws.click("bob", ws.card(duplicate), ids.CLAIM)
    wait_for(lambda: f"<@{ws.uid('bob')}> · claimed" in block_text(ws.card(duplicate), "status"), timeout=10,
             what="claimed")

    before = ws.views_opened()
    ws.click("carol", ws.card(duplicate), ids.RESOLVE)
    modal = ws.opened_view(before, ids.RESOLVE_MODAL)
    assert f"<@{ws.uid('bob')}> owns this case" in str(modal["blocks"])
    pushed = ws.submit("carol", modal, outcome_value("duplicate")).json()
    assert pushed["response_action"] == "push" and pushed["view"]["callback_id"] == ids.DUPLICATE_MODAL
    asked = pushed["view"]
    itself = ws.submit("carol", asked, text_value(ids.DUPLICATE_OF_INPUT, ids.DUPLICATE_OF_INPUT, str(duplicate)))
    assert "itself" in itself.json()["errors"][ids.DUPLICATE_OF_INPUT]
    missing = ws.submit("carol", asked, text_value(ids.DUPLICATE_OF_INPUT, ids.DUPLICATE_OF_INPUT, "99999"))
    assert "There is no case #99999" in missing.json()["errors"][ids.DUPLICATE_OF_INPUT]
    done = ws.submit("carol", asked, text_value(ids.DUPLICATE_OF_INPUT, ids.DUPLICATE_OF_INPUT, f"#{original}"))
    assert done.json() == {"response_action": "clear"}

    wait_for(lambda: f"duplicate of case #{original}" in block_text(ws.card(duplicate), "status"), timeout=10,
             what="the duplicate's card")
    wait_for(lambda: f"Duplicate: case #{duplicate}" in block_text(ws.card(original), "status"), timeout=10,
             what="the original's card")
    dm = wait_for(lambda: [c.params["text"] for c in slack_proxy.calls_to("chat.postMessage")
                           if c.params.get("channel") == ws.uid("bob") and "which you owned" in c.params.get("text", "")],
                  timeout=10, what="bob's DM")
    assert f"<@{ws.uid('carol')}> resolved <" in dm[0] and f"|case #{duplicate}> (duplicate of #{original})" in dm[0]
    shown = app.cli("case", "show", str(duplicate)).stdout
    assert f"outcome: duplicate of #{original}" in shown and "outcome='duplicate'" in shown
    assert f"duplicates: case #{duplicate}" in app.cli("case", "show", str(original)).stdout

    # Reopened: back in the queue for anyone, its first reply due again, no longer a duplicate.
    ws.click("bob", ws.card(duplicate), ids.REOPEN)
    wait_for(lambda: "*Reopened*" in block_text(ws.card(duplicate), "status"), timeout=10, what="reopened")
    card = ws.card(duplicate)
    assert "owner" not in block_text(card, "status") and "reply due" in block_text(card, "status")
    assert button_ids(card)[0] == ids.CLAIM
    wait_for(lambda: "Duplicate" not in block_text(ws.card(original), "status"), timeout=10,
             what="the original no longer listing it")
