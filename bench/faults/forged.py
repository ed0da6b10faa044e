"""Rows 4 and 5: signed but forged clicks and modal submissions, and inputs past every limit.

Each should get a clear answer (an ephemeral, or an inline error in the modal), never a 500
or a traceback, and change nothing in the database.
"""

from __future__ import annotations

import json

from claims import seed_cases, wait_published
from faults.common import Bench, RowResult, Stack, note_log, settle
from socialdesk.slack import ids
from tests.e2e.helpers import case_id_of, cards
from tests.e2e.workspace import input_block_id, text_value
from tests.support.slack_signing import view_submission_body

# The forged values of the end-to-end forged-input test (tests/faults/test_forged_input.py).
NOTE_META_FORGED = ["not json", "[1, 2]", '"a string"', "{}", '{"case_id": "abc"}',
                    '{"case_id": 99999999999999999999}', '{"case_id": -3}', '{"case_id": true}',
                    '{"case_id": [7]}', '{"case_id": 1.5}']
BAD_IDS = ["abc", "99999999999999999999", "-1", "0", "1e3", "٣", "12:34:x"]
QUIET_EVENTS = ("opened", "card_posted")  # what a case that nobody touched has
CLEAR_CLICK_ANSWERS = ("does not name a case", "not one socialdesk knows", "not in socialdesk's database")
FORGED_BUTTON_VALUES = [*BAD_IDS, "[1]", '{"case_id": 1}', "1" * 400]


def forged_view(callback_id: str, private_metadata: str) -> dict:
    """A modal as Slack would send it back, with metadata we never wrote."""
    return {"callback_id": callback_id, "private_metadata": private_metadata}


def one_card(s: Stack, tag: str) -> tuple[str, dict]:
    """A case seeded in the database, its card posted by the running app; (channel, card)."""
    channel = s.emu.new_channel(tag)
    [case_id] = seed_cases(s.engine, [channel], 1, tag=tag)
    wait_published(s.engine, [case_id], timeout=30)
    card = settle(lambda: next((c for c in cards(s.emu, channel) if case_id_of(c) == case_id), None), timeout=10)
    if card is None:
        raise RuntimeError(f"case {case_id} has a ts but no card in Slack")
    return channel, card


def changes_to(s: Stack, case_id: int) -> list[str]:
    return [r[0] for r in s.rows("SELECT kind FROM case_events WHERE case_id = :c ORDER BY id", c=case_id)
            if r[0] not in QUIET_EVENTS]


def submit(s: Stack, r: RowResult, view: dict, values: object, what: str) -> dict | None:
    """A view_submission; the JSON answer (None for an empty ack). A non-200 is a problem."""
    body = view_submission_body(user_id=s.uid("alice"), user_name="alice", team_id=s.emu.team_id, view=view,
                                values=values)  # type: ignore[arg-type]
    resp, seconds = s.send(body)
    if not r.check(resp.status_code == 200, f"{what}: HTTP {resp.status_code} {resp.text[:100]!r}"):
        return None
    r.acks.append(seconds)
    return resp.json() if resp.content else None


def refused_inline(answer: dict | None) -> bool:
    return bool(answer) and answer.get("response_action") == "errors" and bool(answer.get("errors"))  # type: ignore[union-attr]


# --- 4 -----------------------------------------------------------------------------------------

def forged_input(bench: Bench, tries: int) -> RowResult:
    r = RowResult(tries=tries)
    with Stack(bench, "forged") as s:
        s.start()
        channel, card = one_card(s, "forged")
        case_id = case_id_of(card)
        for i in range(tries):
            forged_clicks(s, r, channel, card, case_id, i)
            forged_modals(s, r, case_id, i)
        changed = changes_to(s, case_id)
        r.duplicated = len(changed)
        r.check(not changed, f"the real case {case_id} changed: {changed}")
        r.check(not s.proxy.calls_to("views.update"), "a forged request updated a view")
        note_log(r, s, fail=True)
    r.done = (f"{len(FORGED_BUTTON_VALUES) + 2} forged button values and {len(NOTE_META_FORGED) + 7} forged modal "
              f"submissions x{tries} (ids non-numeric, negative, 20 digits, lists and objects where an id or an "
              "object belongs): answers, the case's history and the log checked")
    return r


def forged_clicks(s: Stack, r: RowResult, channel: str, card: dict, case_id: int, i: int) -> None:
    before = len(s.told("alice"))
    clicks = [(ids.CLAIM, v, "button") for v in FORGED_BUTTON_VALUES]
    clicks += [(ids.MENU, "tags:abc", "overflow"), (ids.MENU, "assign:[1]", "overflow")]
    for action_id, value, kind in clicks:
        resp, seconds = s.send(s.click("alice", card, action_id, value, channel=channel, action_type=kind))
        if r.check(resp.status_code == 200, f"click {action_id}={value[:30]!r}: HTTP {resp.status_code}"):
            r.acks.append(seconds)
    answers = settle(lambda: (t := s.told("alice")[before:]) and len(t) >= len(clicks) and t, timeout=20) or []
    unclear = [t for t in answers if not any(a in t for a in CLEAR_CLICK_ANSWERS)]
    r.check(len(answers) == len(clicks), f"try {i + 1}: {len(answers)} answers to {len(clicks)} forged clicks")
    r.check(not unclear, f"try {i + 1}: unclear answers to forged clicks: {unclear[:3]}")
    r.check(not any("<!channel>" in t or "99999999999" in t for t in answers), "a forged value was echoed back")


def forged_modals(s: Stack, r: RowResult, case_id: int, i: int) -> None:
    note = text_value(ids.NOTE_INPUT, ids.NOTE_INPUT, "forged note")
    good_meta = json.dumps({"case_id": case_id})
    for meta in NOTE_META_FORGED:
        answer = submit(s, r, forged_view(ids.NOTE_MODAL, meta), note, f"note modal, metadata {meta!r}")
        r.check(refused_inline(answer), f"note modal with metadata {meta!r}: answer {answer!r}, not an inline error")
    for meta in ('{"case_id": "abc", "revision": "x"}', "[]",
                 json.dumps({"case_id": 99999999999999999999, "revision": 10**30, "opened_at": 1e308})):
        answer = submit(s, r, forged_view(ids.REPLY_MODAL, meta), text_value(f"{ids.REPLY_INPUT}-0", ids.REPLY_INPUT, "hi"),
                        f"reply modal, metadata {meta!r}")
        r.check(refused_inline(answer), f"reply modal with metadata {meta!r}: answer {answer!r}")
    # The state of a real-looking modal, shaped wrongly: lists where objects belong.
    shapes = {
        "value a list": {ids.NOTE_INPUT: {ids.NOTE_INPUT: {"type": "plain_text_input", "value": ["a", "b"]}}},
        "block a list": {ids.NOTE_INPUT: [{"type": "plain_text_input", "value": "a"}]},
        "action a list": {ids.NOTE_INPUT: {ids.NOTE_INPUT: ["a"]}},
        "state.values a list": [{ids.NOTE_INPUT: "a"}],
    }
    for what, values in shapes.items():
        answer = submit(s, r, forged_view(ids.NOTE_MODAL, good_meta), values, f"note modal, {what}")
        r.check(refused_inline(answer), f"note modal with {what}: answer {answer!r}, not an inline error")


# --- 5 -----------------------------------------------------------------------------------------

def made_up_tags(names: int) -> list[str]:
    return [f"{i:05d}" + "x" * 245 for i in range(names)]


def limits(bench: Bench, tries: int) -> RowResult:
    r = RowResult(tries=tries)
    with Stack(bench, "limits") as s:
        s.start()
        channel, card = one_card(s, "limits")
        case_id = case_id_of(card)
        for i in range(tries):
            tags_view = open_modal(s, r, channel, card, ids.MENU, f"{ids.MENU_TAGS}:{case_id}", ids.TAGS_MODAL, "overflow")
            if tags_view:
                tag_submissions(s, r, tags_view, i)
            note_view = open_modal(s, r, channel, card, ids.NOTE, str(case_id), ids.NOTE_MODAL)
            if note_view:
                answer = submit(s, r, note_view, text_value(ids.NOTE_INPUT, ids.NOTE_INPUT, "n" * 200_000), "200,000-char note")
                r.check(refused_inline(answer) and "200,000" in json.dumps(answer),
                        f"try {i + 1}: the 200,000-character note got {str(answer)[:160]!r}")
            reply_view = open_modal(s, r, channel, card, ids.REPLY, str(case_id), ids.REPLY_MODAL)
            if reply_view:
                block = input_block_id(reply_view, ids.REPLY_INPUT)
                answer = submit(s, r, reply_view, text_value(block, ids.REPLY_INPUT, "r" * 200_000), "200,000-char reply")
                r.check(refused_inline(answer), f"try {i + 1}: the 200,000-character reply got {str(answer)[:160]!r}")
        stored = changes_to(s, case_id)
        tags = s.scalar("SELECT tags FROM cases WHERE id = :c", c=case_id)
        priority = s.scalar("SELECT priority FROM cases WHERE id = :c", c=case_id)
        r.duplicated = len(stored) + (tags not in (None, "null", "[]"))
        r.check(not stored, f"stored on the case: {stored}")
        r.check(tags in (None, "null", "[]"), f"the case has tags {tags!r}")
        r.check(priority == "normal", f"the case's priority changed to {priority!r}")
        r.check(not s.fake.requests_to("/2/tweets", method="POST"), "a reply went out to X")
        note_log(r, s, fail=True)
    r.done = (f"the real tags, note and reply modals opened from the card and submitted {tries}x with made-up tags "
              "(1, 90 and 500 of 250 chars), a tag list of the wrong shape, a 200,000-char note and reply: inline "
              "errors expected, the case's history, tags and priority checked")
    return r


def open_modal(s: Stack, r: RowResult, channel: str, card: dict, action_id: str, value: str, callback_id: str,
               action_type: str = "button") -> dict | None:
    """Click on the card as Slack would and return the modal the app opened (views.open's answer)."""
    before = len(s.proxy.calls_to("views.open"))
    body = s.click("alice", card, action_id, value, channel=channel, action_type=action_type,
                   trigger_id=s.emu.trigger_id("alice"))
    resp, seconds = s.send(body)
    if r.check(resp.status_code == 200, f"{action_id} click: HTTP {resp.status_code}"):
        r.acks.append(seconds)

    def opened() -> list[dict]:
        return [c.response["view"] for c in s.proxy.calls_to("views.open")[before:]
                if c.response.get("ok") and c.response["view"].get("callback_id") == callback_id]

    views = settle(opened, timeout=10)
    r.check(bool(views), f"the {callback_id} did not open")
    return views[-1] if views else None


def tag_submissions(s: Stack, r: RowResult, view: dict, i: int) -> None:
    priority = {ids.PRIORITY_INPUT: {ids.PRIORITY_INPUT: {"type": "static_select", "selected_option": {"value": "low"}}}}

    def tags(*values: str) -> dict:
        return {ids.TAGS_INPUT: {ids.TAGS_INPUT: {"type": "multi_static_select",
                                                  "selected_options": [{"value": v} for v in values]}}} | priority

    cases = {
        "one made-up tag beside a real one": tags("bug", "vip"),
        "90 made-up 250-char tags": tags(*made_up_tags(90)),
        "500 made-up tags": tags(*made_up_tags(500)),
        "selected_options a string": {ids.TAGS_INPUT: {ids.TAGS_INPUT: {"selected_options": "bug"}}} | priority,
    }
    for what, values in cases.items():
        answer = submit(s, r, view, values, what)
        r.check(refused_inline(answer), f"try {i + 1}: {what}: answer {str(answer)[:160]!r}, not an inline error")
