"""The queue's rows and answers (slack.blocks.queue): due times, Claim and Assign…, button values, the filter modal."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from socialdesk.domain import CaseStatus
from socialdesk.slack import ids
from socialdesk.slack.blocks import queue
from socialdesk.store.lookups import CaseItem, CasePage

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def item(case_id: int, *, due: datetime | None = None, text: str = "hello", priority: str = "normal") -> CaseItem:
    return CaseItem(case_id=case_id, status=CaseStatus.NEW, assignee=None, priority=priority,
                    opened_at=NOW - timedelta(hours=1), updated_at=NOW, channel_id="C1", message_ts="1.2",
                    handle="dana_k", name="Dana", text=text, url="https://example.com/1", due=due)


def test_a_row_says_when_it_is_due_and_carries_claim_and_assign():
    late, soon, none = (queue.row(item(1, due=NOW - timedelta(minutes=5), priority="high"), permalink=None, now=NOW,
                                  block_id="case_1", arg="priority:high", offset=10),
                        queue.row(item(2, due=NOW + timedelta(minutes=20)), permalink="https://s/p2", now=NOW,
                                  block_id="case_2"),
                        queue.row(item(3), permalink=None, now=NOW, block_id="case_3"))
    section, actions = (b.to_dict() for b in late)
    first_line = section["text"]["text"].split("\n")[0]
    assert first_line.startswith("*Case #1* · ") and " · 🔥 · waiting 1h 0m · @dana_k · ⏰ *overdue by 5m*" in first_line
    assert actions["block_id"] == "qrow_1"
    assert [(e["action_id"], e["text"]["text"], e.get("style")) for e in actions["elements"]] == [
        (ids.QUEUE_CLAIM, "Claim", "primary"), (ids.QUEUE_ASSIGN, "Assign…", None)]
    assert {json.dumps(json.loads(e["value"])) for e in actions["elements"]} == {
        json.dumps({"c": 1, "a": "priority:high", "o": 10})}
    assert "⏳ due in 20m" in soon[0].to_dict()["text"]["text"] and "<https://s/p2|Case #2>" in soon[0].to_dict()["text"]["text"]
    assert "due" not in none[0].to_dict()["text"]["text"]


def test_hostile_post_text_is_escaped_in_a_row():
    [section, _] = queue.row(item(4, text="<!channel> & <@U1>"), permalink=None, now=NOW, block_id="case_4")
    assert "&lt;!channel&gt; &amp; &lt;@U1&gt;" in section.to_dict()["text"]["text"]


@pytest.mark.parametrize("value", [
    "", "not json", "[]", '{"c": "1"}', '{"c": true}', '{"c": 0}', '{"c": 2147483648}', '{"c": 1, "o": -1}',
    '{"c": 1, "o": 100001}', '{"c": 1, "a": 5}', json.dumps({"c": 1, "a": "x" * 501}), '{"a": ""}',
    "[" * 1999,  # deeper than json can parse: RecursionError, not ValueError
])
def test_a_row_value_we_did_not_make_is_none(value):
    assert queue.parse_row_value(value) is None


def test_a_row_value_round_trips():
    assert queue.parse_row_value(queue.row_value(7, "tag:refund", 20)) == (7, "tag:refund", 20)
    assert queue.parse_row_value('{"c": 7}') == (7, "", 0)


def page(items: list[CaseItem], total: int | None = None, offset: int = 0) -> CasePage:
    return CasePage(items=items, total=len(items) if total is None else total, offset=offset, limit=10)


def test_the_answer_has_a_title_rows_and_prev_next_keeping_the_filters():
    reply = queue.queue_reply(page([item(i) for i in range(1, 11)], total=25, offset=10), filters="tag:refund",
                              permalinks={}, now=NOW, notice="🙋 You claimed *Case #30*")
    blocks = [b.to_dict() for b in reply.blocks]
    assert blocks[0]["block_id"] == "queue_notice" and "You claimed" in blocks[0]["elements"][0]["text"]
    assert blocks[1]["text"]["text"] == ("*Waiting for a claim* matching `tag:refund` · 11–20 of 25 · "
                                         "most urgent first: SLA due, then priority, then age")
    assert [b["block_id"] for b in blocks[2:-1]] == [x for i in range(1, 11) for x in (f"case_{i}", f"qrow_{i}")]
    nav = [json.loads(e["value"]) for e in blocks[-1]["elements"]]
    assert nav == [{"v": "queue", "a": "tag:refund", "o": 0}, {"v": "queue", "a": "tag:refund", "o": 20}]
    assert len(blocks) <= 50  # a message's limit
    assert reply.text == "Waiting for a claim (filtered): 25 cases"


def test_an_empty_queue_says_so_with_or_without_filters():
    assert queue.queue_reply(page([]), filters="", permalinks={}, now=NOW).text == "Nothing is waiting. 🎉"
    assert queue.queue_reply(page([]), filters="intent:praise", permalinks={}, now=NOW).text == (
        "Nothing waiting matching `intent:praise`.")


def test_the_filter_modal_holds_the_saved_view_and_explains_the_keys():
    view = queue.filter_modal("priority:high").to_dict()
    assert view["callback_id"] == ids.QUEUE_FILTER_MODAL
    [box] = [b for b in view["blocks"] if b["type"] == "input"]
    assert box["block_id"] == ids.QUEUE_FILTER_INPUT and box["optional"] is True
    assert box["element"]["initial_value"] == "priority:high" and "`" not in box["hint"]["text"]
    assert "priority:high|normal|low" in box["hint"]["text"] and "intent:" in box["hint"]["text"]
    empty = next(b for b in queue.filter_modal("").to_dict()["blocks"] if b["type"] == "input")
    assert "initial_value" not in empty["element"]
