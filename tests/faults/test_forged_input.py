"""Signed but forged requests (issue #11): odd ids, metadata we never wrote, clicks from
another card, made-up tags, texts longer than any box. Each gets a clear answer (an
ephemeral, a DM or an inline modal error), never a 500 or a traceback, and changes nothing.
"""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlencode

import pytest

from socialdesk.triage.triaged import CARE_TAGS
from tests.e2e.helpers import block_text, case_id_of, ids
from tests.e2e.workspace import Workspace, input_block_id, text_value
from tests.support.slack_signing import (
    FORM,
    block_actions_body,
    post_signed,
    view_submission_body,
)
from tests.support.waiting import wait_for

NOTE_META_FORGED = ["not json", "[1, 2]", '"a string"', "{}", '{"case_id": "abc"}',
                    '{"case_id": 99999999999999999999}', '{"case_id": -3}', '{"case_id": true}',
                    '{"case_id": [7]}', '{"case_id": 1.5}']
BAD_IDS = ["abc", "99999999999999999999", "-1", "0", "1e3", "٣", "12:34:x"]


def told(proxy, uid: str) -> list[str]:
    """What the app told `uid`: ephemerals anywhere, and DMs."""
    texts = [c.params.get("text", "") for c in proxy.calls_to("chat.postEphemeral") if c.params.get("user") == uid]
    return texts + [c.params.get("text", "") for c in proxy.calls_to("chat.postMessage") if c.params.get("channel") == uid]


def wait_told(ws: Workspace, user: str, before: int, count: int, what: str) -> list[str]:
    uid = ws.uid(user)
    return wait_for(lambda: len(t := told(ws.proxy, uid)) >= before + count and t[before:], timeout=15, what=what)


def forged_view(callback_id: str, private_metadata: str, view_id: str | None = None) -> dict:
    view = {"callback_id": callback_id, "private_metadata": private_metadata}
    return view | ({"id": view_id} if view_id else {})


def one_card(app, fake_x, emu, proxy, name: str, posts: int = 1) -> tuple[Workspace, list[dict]]:
    ws = Workspace(app, emu, proxy, emu.new_channel(name))
    app.cli("rules", "add", "--network", "x", "--query", "acme", "--channel", ws.channel, "--every", "5")
    for i in range(posts):
        fake_x.post(username=f"cust{i}", text=f"@acmephones acme question number {i}")
    app.start()  # the rule's first poll opens the cases
    found = wait_for(lambda: len(c := ws.cards()) == posts and c, timeout=30, what=f"{posts} card(s)")
    return ws, found


def history(app, case_id: int) -> str:
    return app.cli("case", "show", str(case_id)).stdout


def assert_no_traceback(app) -> None:
    log = app.log()
    assert "Traceback" not in log, log[-4000:]
    assert "Failed to run listener" not in log and "Unexpected error" not in log, log[-4000:]


@pytest.mark.both_databases  # an id past INTEGER must never reach the database (PostgreSQL refuses it)
def test_forged_values_and_metadata_get_a_clear_answer(app, fake_x, slack_emulator, slack_proxy):
    ws, [card] = one_card(app, fake_x, slack_emulator, slack_proxy, "forged")
    case_id = case_id_of(card)
    alice = ws.uid("alice")

    # Card buttons whose value names no case: a clear ephemeral, the value never echoed.
    before = len(told(slack_proxy, alice))
    for value in BAD_IDS:
        ws.click("alice", card, ids.CLAIM, value=value)
    ws.click("alice", card, ids.MENU, value="tags:abc", action_type="overflow")
    ws.click("alice", card, ids.MENU, value=f"nonsense:{case_id}", action_type="overflow")
    ws.click("alice", card, ids.REPLY, value="99999999999999999999")
    ws.click("alice", card, ids.FAQ_SAVE, value="<!channel>")
    answers = wait_told(ws, "alice", before, len(BAD_IDS) + 4, "an answer to every forged click")
    assert all("does not name a case" in t or "not one socialdesk knows" in t for t in answers), answers
    assert not any("<!channel>" in t or "99999" in t for t in answers)

    # A well-formed id of a case that does not exist.
    before = len(told(slack_proxy, alice))
    ws.click("alice", card, ids.RESOLVE, value="424242")
    [gone] = wait_told(ws, "alice", before, 1, "the missing case")
    assert "Case 424242 is not in socialdesk's database" in gone

    # Thread and ephemeral buttons (approvals, FAQ entries, mark as replied) with forged ids.
    before = len(told(slack_proxy, alice))
    for action_id, value in ((ids.APPROVE_REPLY, "abc"), (ids.REJECT_REPLY, "99999999999999999999"),
                             (ids.EDIT_REPLY, "[1]"), (ids.FAQ_EDIT, "abc"), (ids.FAQ_WITHDRAW, "99999999999999999999"),
                             (ids.MARK_REPLIED, "intent:99999999999999999999")):
        ws.click("alice", card, action_id, value=value)
    answers = wait_told(ws, "alice", before, 6, "an answer to every forged thread button")
    assert sum("reply is not in socialdesk's database" in t for t in answers) == 3, answers
    assert sum("That FAQ entry is not in" in t for t in answers) == 2, answers
    assert sum("does not name a case" in t for t in answers) == 1, answers

    # A queue row's Claim and Assign… with values we never made: the same answer, nothing reaches the database.
    before = len(told(slack_proxy, alice))
    for action_id, value in ((ids.QUEUE_CLAIM, '{"c": 99999999999999999999}'), (ids.QUEUE_CLAIM, "<!channel>"),
                             (ids.QUEUE_ASSIGN, '{"c": "1; drop table", "a": 5}')):
        ws.click("alice", card, action_id, value=value)
    answers = wait_told(ws, "alice", before, 3, "an answer to every forged queue button")
    assert all("does not name a case" in t for t in answers) and not any("<!channel>" in t for t in answers), answers

    # Modals whose private_metadata we never wrote: refused inline, as the submission's answer.
    for meta in NOTE_META_FORGED:
        response = ws.submit("alice", forged_view(ids.NOTE_MODAL, meta), text_value(ids.NOTE_INPUT, ids.NOTE_INPUT, "hi"))
        assert response.status_code == 200, (meta, response.text)
        assert response.json()["response_action"] == "errors", meta
        assert "can't tell which case" in response.json()["errors"][ids.NOTE_INPUT], meta
    for callback_id, block, values in (
        (ids.ASSIGN_MODAL, ids.ASSIGNEE_INPUT,
         {ids.ASSIGNEE_INPUT: {ids.ASSIGNEE_INPUT: {"type": "users_select", "selected_user": alice}}}),
        (ids.IGNORE_MODAL, ids.IGNORE_REASON_INPUT,
         {ids.IGNORE_REASON_INPUT: {ids.IGNORE_REASON_INPUT: {"type": "static_select", "selected_option": {"value": "spam"}}}}),
        (ids.TAGS_MODAL, ids.PRIORITY_INPUT,
         {ids.PRIORITY_INPUT: {ids.PRIORITY_INPUT: {"type": "static_select", "selected_option": {"value": "high"}}}}),
    ):
        response = ws.submit("alice", forged_view(callback_id, '{"case_id": "1; drop table"}'), values)
        assert response.status_code == 200 and response.json()["response_action"] == "errors", callback_id
        assert "can't tell which case" in response.json()["errors"][block]
    # Values of the wrong type in the view's state: refused inline too.
    weird = ws.submit("alice", forged_view(ids.NOTE_MODAL, json.dumps({"case_id": case_id})),
                      {ids.NOTE_INPUT: {ids.NOTE_INPUT: {"type": "plain_text_input", "value": ["a", "b"]}}})
    assert weird.status_code == 200 and weird.json()["response_action"] == "errors"
    bad_user = ws.submit("alice", forged_view(ids.ASSIGN_MODAL, json.dumps({"case_id": case_id})),
                         {ids.ASSIGNEE_INPUT: {ids.ASSIGNEE_INPUT: {"type": "users_select", "selected_user": "<!channel>"}}})
    assert bad_user.json() == {"response_action": "errors", "errors": {ids.ASSIGNEE_INPUT: "Choose someone."}}

    # The reply modal (and an approver's edit of one) with forged metadata.
    for meta in ('{"case_id": "abc", "revision": "x", "opened_at": "soon"}', "[]",
                 json.dumps({"case_id": 99999999999999999999, "revision": 10**30, "opened_at": 1e308})):
        response = ws.submit("alice", forged_view(ids.REPLY_MODAL, meta),
                             text_value(f"{ids.REPLY_INPUT}-0", ids.REPLY_INPUT, "hello"))
        assert response.status_code == 200 and response.json()["response_action"] == "errors", meta
    edit = ws.submit("alice", forged_view(ids.APPROVE_EDIT_MODAL, json.dumps({"case_id": case_id, "network": "x",
                                                                            "reply_id": "abc"})),
                     text_value(f"{ids.REPLY_INPUT}-0", ids.REPLY_INPUT, "hello"))
    assert edit.status_code == 200 and edit.json()["response_action"] == "errors"
    mark = ws.submit("alice", forged_view(ids.MARK_REPLIED_MODAL, json.dumps({"case_id": [1], "network": "x"})),
                     text_value(ids.REPLY_URL_INPUT, ids.REPLY_URL_INPUT, "https://x.com/a/status/1"))
    assert mark.status_code == 200 and mark.json()["response_action"] == "errors"
    faq = ws.submit("alice", forged_view(ids.FAQ_MODAL, '{"case_id": 99999999999999999999, "entry_id": "x"}'),
                    text_value("faq_question", "faq_question", "q") | text_value("faq_answer", "faq_answer", "a"))
    assert faq.status_code == 200 and faq.json()["response_action"] == "errors"
    closed = ws.close("alice", forged_view(ids.REPLY_MODAL, '{"case_id": "abc"}'))
    assert closed.status_code == 200

    # A saved-reply choice in a modal with forged metadata: acked, nothing updated.
    body = block_actions_body(user_id=alice, user_name="alice", team_id=slack_emulator.team_id, channel_id=ws.channel,
                              message_ts=card["ts"], action_id=ids.SAVED_REPLY, value="99999999999999999999",
                              trigger_id=slack_emulator.trigger_id("alice"), action_type="static_select")
    payload = json.loads(parse_qs(body.decode())["payload"][0])
    payload.pop("channel", None)
    payload["container"] = {"type": "view", "view_id": "VFORGED"}
    payload["view"] = {"id": "VFORGED", "callback_id": ids.REPLY_MODAL, "private_metadata": "{{{"}
    response = post_signed(app.events_url, urlencode({"payload": json.dumps(payload)}).encode(), app.signing_secret, FORM)
    assert response.status_code == 200

    # A modal naming a well-formed id of no case: acked, then told so in a DM.
    before = len(told(slack_proxy, alice))
    nowhere = ws.submit("alice", forged_view(ids.NOTE_MODAL, '{"case_id": 424242}'),
                        text_value(ids.NOTE_INPUT, ids.NOTE_INPUT, "hi"))
    assert nowhere.status_code == 200 and not nowhere.content
    [dm] = wait_told(ws, "alice", before, 1, "the DM about the missing case")
    assert "Case 424242 is not in socialdesk's database" in dm

    # Nothing happened to the real case, and nothing went wrong on the way.
    assert "New" in block_text(ws.card(case_id), "status")
    shown = history(app, case_id)
    for kind in ("claimed", "note", "tagged", "assigned", "ignored", "resolved"):
        assert f" {kind} " not in shown, (kind, shown)
    assert slack_proxy.calls_to("views.update") == []
    assert_no_traceback(app)


def test_a_click_from_another_card_is_refused(app, fake_x, slack_emulator, slack_proxy):
    ws, [first, second] = one_card(app, fake_x, slack_emulator, slack_proxy, "othercard", posts=2)
    first_id, second_id = case_id_of(first), case_id_of(second)
    alice = ws.uid("alice")

    # The first case's Claim, as if clicked on the second card: refused, nothing changes.
    before = len(told(slack_proxy, alice))
    ws.click("alice", first, ids.CLAIM, value=str(first_id), message=second)
    # ... in another channel, at the first card's ts.
    elsewhere = slack_emulator.new_channel("elsewhere")
    body = block_actions_body(user_id=alice, user_name="alice", team_id=slack_emulator.team_id, channel_id=elsewhere,
                              message_ts=first["ts"], action_id=ids.CLAIM, value=str(first_id),
                              trigger_id=slack_emulator.trigger_id("alice"), message=first)
    assert post_signed(app.events_url, body, app.signing_secret, FORM).status_code == 200
    # ... and a Note on the second card naming the first case: no modal opens.
    opened = ws.views_opened()
    ws.click("alice", second, ids.NOTE, value=str(first_id))
    answers = wait_told(ws, "alice", before, 3, "the refusals")
    assert all("This button belongs to another card" in t and f"case #{first_id}" in t for t in answers), answers
    assert ws.views_opened() == opened
    assert "🙋" not in block_text(ws.card(first_id), "status")
    assert "🙋" not in block_text(ws.card(second_id), "status")
    assert " claimed " not in history(app, first_id) and " claimed " not in history(app, second_id)

    # On its own card the same click works.
    ws.click("alice", first, ids.CLAIM)
    wait_for(lambda: block_text(ws.card(first_id), "status").startswith("🙋 <@"), timeout=10, what="the claim")
    assert "🙋" not in block_text(ws.card(second_id), "status")
    assert_no_traceback(app)


def test_made_up_tags_and_overlong_notes_and_replies_are_refused_inline(app, fake_x, slack_emulator, slack_proxy):
    ws, [card] = one_card(app, fake_x, slack_emulator, slack_proxy, "limits")
    case_id = case_id_of(card)

    # Tags: only SOCIALDESK_TAGS and triage's care tags; 5,000 made-up 250-character tags (or one) are
    # refused, nothing stored.
    before = ws.views_opened()
    ws.click("alice", card, ids.MENU, value=f"{ids.MENU_TAGS}:{case_id}", action_type="overflow")
    tags_view = ws.opened_view(before, ids.TAGS_MODAL)
    offered = next(b for b in tags_view["blocks"] if b.get("block_id") == ids.TAGS_INPUT)["element"]["options"]
    assert {o["value"] for o in offered} == {"bug", "billing", "shipping", "praise", "question", "refund", *CARE_TAGS}
    priority = {ids.PRIORITY_INPUT: {ids.PRIORITY_INPUT: {"type": "static_select", "selected_option": {"value": "low"}}}}

    def tags(*values: str) -> dict:
        return {ids.TAGS_INPUT: {ids.TAGS_INPUT: {"type": "multi_static_select",
                                                  "selected_options": [{"value": v} for v in values]}}} | priority

    made_up = [f"{i:05d}" + "x" * 245 for i in range(5000)]
    flood = ws.submit("alice", tags_view, tags(*made_up))  # 1.4 MB: refused before it is parsed
    assert 400 <= flood.status_code < 500
    many = ws.submit("alice", tags_view, tags(*made_up[:90]))
    assert many.status_code == 200 and many.json()["response_action"] == "errors"
    assert "are not one of the team's tags" in many.json()["errors"][ids.TAGS_INPUT]
    more = ws.submit("alice", tags_view, tags(*made_up[:500]))  # more than a multi-select can offer
    assert more.status_code == 200 and "Choose tags from the list" in more.json()["errors"][ids.TAGS_INPUT]
    one = ws.submit("alice", tags_view, tags("bug", "vip"))
    assert one.json()["response_action"] == "errors"
    assert "“vip” is not one of the team's tags" in one.json()["errors"][ids.TAGS_INPUT]
    wrong_shape = ws.submit("alice", tags_view, {ids.TAGS_INPUT: {ids.TAGS_INPUT: {"selected_options": "bug"}}} | priority)
    assert wrong_shape.json()["response_action"] == "errors"
    assert " tagged " not in history(app, case_id)
    assert "Low priority" not in block_text(ws.card(case_id), "status")
    ok = ws.submit("alice", tags_view, tags("bug", "bug"))
    assert ok.status_code == 200 and not ok.content
    wait_for(lambda: "Low priority" in block_text(ws.card(case_id), "status"), timeout=10, what="the tags")
    assert "`#bug`" in block_text(ws.card(case_id), "status")

    # Notes: the box holds 3,000 characters, and a forged 200,000 are refused on submit.
    before = ws.views_opened()
    ws.click("alice", card, ids.NOTE)
    note_view = ws.opened_view(before, ids.NOTE_MODAL)
    element = next(b for b in note_view["blocks"] if b.get("block_id") == ids.NOTE_INPUT)["element"]
    assert element["max_length"] == 3000
    huge = ws.submit("alice", note_view, text_value(ids.NOTE_INPUT, ids.NOTE_INPUT, "n" * 200_000))
    assert huge.status_code == 200
    assert huge.json() == {"response_action": "errors", "errors": {
        ids.NOTE_INPUT: "That note is 200,000 characters; the most is 3,000. Shorten it, or split it in two."}}
    assert " note " not in history(app, case_id)
    fits = ws.submit("alice", note_view, text_value(ids.NOTE_INPUT, ids.NOTE_INPUT, "f" * 3000))
    assert fits.status_code == 200 and not fits.content
    wait_for(lambda: " note " in history(app, case_id), timeout=10, what="the note that fits")

    # Replies: a forged 200,000 characters are refused before the network counts them.
    before = ws.views_opened()
    ws.click("alice", ws.card(case_id), ids.REPLY)
    reply_view = ws.opened_view(before, ids.REPLY_MODAL)
    block = input_block_id(reply_view, ids.REPLY_INPUT)
    too_long = ws.submit("alice", reply_view, text_value(block, ids.REPLY_INPUT, "r" * 200_000))
    assert too_long.status_code == 200 and too_long.json()["response_action"] == "errors"
    assert "200,000 characters, more than a reply box holds" in too_long.json()["errors"][block]
    assert fake_x.requests_to("/2/tweets", method="POST") == []

    # A FAQ draft with overlong texts is refused the same way (whatever the case's status).
    faq = view_submission_body(user_id=ws.uid("alice"), user_name="alice", team_id=slack_emulator.team_id,
                               view=forged_view(ids.FAQ_MODAL, json.dumps({"case_id": case_id, "entry_id": None})),
                               values=text_value("faq_question", "faq_question", "q" * 200_000)
                               | text_value("faq_answer", "faq_answer", "a"))
    answer = post_signed(app.events_url, faq, app.signing_secret, FORM)
    assert answer.json()["response_action"] == "errors" and "faq_question" in answer.json()["errors"]
    assert_no_traceback(app)
