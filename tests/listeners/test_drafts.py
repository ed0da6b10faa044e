"""Drafted replies in the reply modal (listeners.answers.draft_clicked), in-process, against the Slack
emulator and FakeChat: a local server answering in the chat-completions shape (socialdesk.drafting.fake).

A draft lands in the reply box for the agent to edit and is never sent; its prompt and text are
in the case history; every failure is shown in the modal with what to do; the API key is never
logged, shown or stored.
"""

from __future__ import annotations

import json
import logging
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest
from sqlmodel import select

from socialdesk.drafting import prompt
from socialdesk.drafting.fake import NO_ANSWER, FakeChat
from socialdesk.listeners import answers, replies
from socialdesk.slack import ids
from socialdesk.slack.blocks.lookup import history_line
from socialdesk.store import curated, lifecycle
from socialdesk.store.db import read_scope, session_scope
from socialdesk.store.models import CaseEventRow, ReplyRow
from tests.listeners.conftest import (
    SECRET,
    card_of,
    click,
    in_modal,
    input_block,
    opened_views,
    publish_cases,
    redrawn,
    sent_texts,
    text_input,
    updates,
)
from tests.support.in_process import post
from tests.support.slack_signing import sign
from tests.support.waiting import wait_for

KEY = "sk-test-d0n0tl0g-7f3a9c1e5b"  # the endpoint's API key: must appear nowhere
MODEL = "fake-model"
TIMEOUT = 1.0
FAQ_ANSWER = "Turn off wifi power saving in Settings › Network; that fixes the drops after 4.2."
ASKING = "@acmephones my wifi keeps disconnecting after the update"
# How a failure is shown does not depend on the database: those tests run on SQLite only
# (tests/drafting/test_client.py has every status and shape against FakeChat directly).
sqlite_only = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


@pytest.fixture
def chat_key() -> str:
    return KEY  # what FakeChat accepts; a test parametrizes another to be refused


@pytest.fixture
def chat(chat_key) -> Iterator[FakeChat]:
    with FakeChat(api_key=chat_key, models=(MODEL,)) as server:
        yield server


@pytest.fixture
def llm_url(chat) -> str:
    return chat.url


@pytest.fixture
def desk_settings(llm_url) -> dict[str, str]:
    return {"SOCIALDESK_LLM_URL": llm_url, "SOCIALDESK_LLM_MODEL": MODEL, "SOCIALDESK_LLM_API_KEY": KEY,
            "SOCIALDESK_LLM_TIMEOUT": str(TIMEOUT)}


@pytest.fixture
def case(desk, channel) -> int:
    """An open wifi case with a note, and a FAQ entry from an earlier wifi case."""
    earlier, asking = publish_cases(desk, channel, ["@acmephones wifi disconnecting since the update", ASKING])
    now = datetime.now(UTC)
    with session_scope(desk.engine) as session:
        session.add(ReplyRow(case_id=earlier, key="earlier", agent="UBOB", text="@cust0 " + FAQ_ANSWER, status="sent",
                             created_at=now - timedelta(hours=2), sent_at=now - timedelta(hours=2)))
        assert lifecycle.resolve(session=session, case_id=earlier, user_id="UBOB", now=now).ok
        curated.save_entry(session=session, case_id=earlier, question="Wifi drops after the update?",
                           answer=FAQ_ANSWER, notes="", tags=[], actor="UBOB", now=now)
        lifecycle.add_note(session=session, case_id=asking, user_id="UBOB", text="VIP: loyal for 10 years", now=now)
    return asking


def open_reply(desk, deps, slack_emulator, slack_proxy, channel: str, case: int) -> dict:
    """Reply clicked: the modal as the emulator holds it once its suggestions are in."""
    card = card_of(slack_emulator, channel, case)
    replies.reply_clicked(click(slack_emulator, user="alice", channel=channel, card=card, action_id=ids.REPLY,
                                value=str(case)), desk.slack, deps=deps)
    ok = [c for c in updates(slack_proxy) if c.response.get("ok")]
    return ok[-1].response["view"] if ok else opened_views(slack_proxy, ids.REPLY_MODAL)[-1]


def draft_action(case: int) -> dict:
    return {"type": "button", "block_id": ids.DRAFT_BLOCK, "action_id": ids.DRAFT_REPLY, "value": str(case),
            "action_ts": f"{time.time():.6f}"}


def draft(desk, deps, slack_emulator, view: dict, case: int, values: dict | None = None) -> None:
    answers.draft_clicked(in_modal(slack_emulator, view, draft_action(case), values or {}), desk.slack, deps=deps)


def draft_block(view: dict) -> dict:
    [block] = [b for b in view["blocks"] if b.get("block_id") == ids.DRAFT_BLOCK]
    assert view["blocks"].index(block) == view["blocks"].index(input_block(view)) - 1  # right above the box
    return block


def block_text(block: dict) -> str:
    return block["text"]["text"] if "text" in block else " ".join(e["text"] for e in block["elements"])


def drafted_events(deps, case: int) -> list[CaseEventRow]:
    with read_scope(deps.engine) as session:
        return list(session.exec(select(CaseEventRow).where(CaseEventRow.case_id == case,
                                                            CaseEventRow.kind == "reply_drafted")))


def test_the_draft_lands_in_the_box_is_kept_in_the_history_and_is_never_sent(
        desk, deps, slack_emulator, slack_proxy, channel, chat, case):
    view = open_reply(desk, deps, slack_emulator, slack_proxy, channel, case)
    button = draft_block(view)["accessory"]
    assert (button["action_id"], button["value"], button["text"]["text"]) == (ids.DRAFT_REPLY, str(case),
                                                                              "✨ Draft a reply")
    assert MODEL in block_text(draft_block(view))
    before = len(updates(slack_proxy))
    draft(desk, deps, slack_emulator, view, case)

    waiting, done = [c.params for c in updates(slack_proxy)[before:]]
    assert waiting["hash"] == view["hash"]
    assert block_text(draft_block(waiting["view"])).startswith(f"✨ Drafting a reply with *{MODEL}*… (up to 1 s).")

    [request] = chat.requests
    asked = request.json()
    assert request.path == "/v1/chat/completions" and request.headers["authorization"] == f"Bearer {KEY}"
    assert (asked["model"], asked["max_tokens"], asked["stream"]) == (MODEL, prompt.max_tokens(280), False)
    system, user = asked["messages"]
    assert system["role"] == "system" and "@acmephones on X" in system["content"]
    assert "At most 280 characters" in system["content"] and "never quote or reveal them" in system["content"]
    assert f"<post>{ASKING}</post>" in user["content"]
    assert "Internal note by the team (never reveal it)" in user["content"] and "VIP: loyal for 10 years" in user["content"]
    assert f"FAQ entry. Question: Wifi drops after the update?\n   Answer: {FAQ_ANSWER}" in user["content"]

    shown = redrawn(slack_proxy)
    box = input_block(shown)
    assert box["block_id"] == f"{ids.REPLY_INPUT}-1"
    assert box["element"]["initial_value"] == f"Sorry about that! {FAQ_ANSWER}"  # FakeChat's "model"
    line = draft_block(shown)
    assert block_text(line).startswith(f"✨ Drafted by *{MODEL}*: read and edit it; nothing is sent")
    assert line["accessory"]["text"]["text"] == "✨ Draft again"
    assert any(b.get("block_id", "").startswith(ids.ANSWERS_BLOCK + "-") for b in shown["blocks"])  # still at hand

    [event] = drafted_events(deps, case)
    assert event.actor == slack_emulator.users["alice"]
    assert event.payload == {"model": MODEL, "prompt": asked["messages"], "draft": f"Sorry about that! {FAQ_ANSWER}",
                             "cut": False}
    line_text = history_line(event)
    assert f"reply drafted by <@{event.actor}> (with {MODEL})" in line_text
    with read_scope(deps.engine) as session:
        assert session.exec(select(ReplyRow).where(ReplyRow.case_id == case)).all() == []  # nothing sent
    assert sent_texts(slack_proxy, "chat.postMessage", channel=slack_emulator.users["alice"]) == []


@sqlite_only
def test_the_draft_is_addressed_as_the_network_wants_and_a_cut_one_says_so(desk, deps, slack_emulator, slack_proxy,
                                                                           channel, chat, case):
    view = open_reply(desk, deps, slack_emulator, slack_proxy, channel, case)
    chat.answer_next({"id": "x", "object": "chat.completion", "model": "served-name", "choices": [{
        "index": 0, "message": {"role": "assistant", "content": "<think>they want wifi</think>\n\"@dana @cust1 Sorry!"
                                                                 " Try this\""},
        "finish_reason": "length"}]})
    draft(desk, deps, slack_emulator, view, case)
    shown = redrawn(slack_proxy)
    assert input_block(shown)["element"]["initial_value"] == "Sorry! Try this"  # no mentions, no thinking, no quotes
    assert "The model stopped at the length limit: finish the last sentence." in block_text(draft_block(shown))
    [event] = drafted_events(deps, case)
    assert (event.payload["model"], event.payload["cut"]) == ("served-name", True)


@pytest.mark.parametrize("fault, expected", [
    (lambda chat: chat.fail_next(500, message="CUDA out of memory"),
     "The language model at 127.0.0.1:{port} failed (500). It said: “CUDA out of memory”. Try again in a minute;"),
    (lambda chat: chat.fail_next(429, headers={"Retry-After": "7"}),
     "The language model is busy (429: too many requests). It said: “fake failure 429”. Try again in 7 s."),
    (lambda chat: chat.answer_next(b"<html>gateway</html>"),
     "did not answer with a chat completion, so there is no draft. Ask an admin to check that SOCIALDESK_LLM_URL"),
    (lambda chat: chat.answer_next({"choices": [{"index": 0, "message": {"role": "assistant", "content": " "}}]}),
     "The language model answered with an empty draft. Try again, or write the reply yourself."),
    (lambda chat: chat.delay_next(TIMEOUT + 1),
     "The language model at 127.0.0.1:{port} did not answer within 1 s, so there is no draft. Try again,"),
], ids=["500", "429", "html", "blank-choice", "timeout"])
@sqlite_only
def test_each_failure_is_shown_in_the_modal_with_what_to_do(desk, deps, slack_emulator, slack_proxy, channel, chat,
                                                            case, fault, expected):
    view = open_reply(desk, deps, slack_emulator, slack_proxy, channel, case)
    fault(chat)
    typed = text_input(input_block(view)["block_id"], "Hi Dana,", ids.REPLY_INPUT)
    draft(desk, deps, slack_emulator, view, case, typed)
    shown = redrawn(slack_proxy)
    line = draft_block(shown)
    port = chat.url.split(":")[2].split("/")[0]
    assert block_text(line).startswith("⚠️ ") and expected.format(port=port) in block_text(line)
    assert line["accessory"]["text"]["text"] == "✨ Try again"
    assert input_block(shown) == input_block(view)  # the same box: what the agent typed stays
    assert drafted_events(deps, case) == []
    draft(desk, deps, slack_emulator, shown, case)  # Try again: the next request is answered
    assert input_block(redrawn(slack_proxy))["element"]["initial_value"].startswith("Sorry about that!")


@pytest.mark.parametrize("chat_key", ["sk-the-server-wants-another"])
@sqlite_only
def test_a_refused_key_is_shown_and_never_logged(desk, deps, slack_emulator, slack_proxy, channel, chat, case, caplog):
    with caplog.at_level(logging.DEBUG):
        view = open_reply(desk, deps, slack_emulator, slack_proxy, channel, case)
        draft(desk, deps, slack_emulator, view, case)
    line = block_text(draft_block(redrawn(slack_proxy)))
    assert line.startswith("⚠️ The language model at 127.0.0.1:")
    assert "refused socialdesk's key (401). It said: “Incorrect API key provided: [key].”" in line
    assert "Ask an admin to check SOCIALDESK_LLM_API_KEY" in line
    assert chat.requests[0].headers["authorization"] == f"Bearer {KEY}"  # it was sent, and echoed back
    logged = "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    assert "401" in logged and KEY not in logged
    assert KEY not in json.dumps([c.params for c in slack_proxy.calls])
    assert KEY not in repr(deps.drafter) and KEY not in repr(deps.settings)


def test_the_key_is_in_no_log_line_history_or_slack_call_of_a_draft(desk, deps, slack_emulator, slack_proxy, channel,
                                                                     chat, case, caplog):
    with caplog.at_level(logging.DEBUG):
        view = open_reply(desk, deps, slack_emulator, slack_proxy, channel, case)
        draft(desk, deps, slack_emulator, view, case)
    assert len(drafted_events(deps, case)) == 1
    logged = "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    assert KEY not in logged
    assert KEY not in json.dumps([c.params for c in slack_proxy.calls] + [c.response for c in slack_proxy.calls])
    with read_scope(deps.engine) as session:
        assert KEY not in json.dumps([e.payload for e in session.exec(select(CaseEventRow))])


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("llm_url", [pytest.param("", id="no-server")])
@sqlite_only
def test_an_unreachable_server_is_shown(desk, deps, slack_emulator, slack_proxy, channel, case, closed_port):
    from dataclasses import replace
    from socialdesk.drafting.client import Drafter
    gone = Drafter(url=f"http://127.0.0.1:{closed_port}/v1", model=MODEL, api_key=KEY, http=desk.http, timeout=TIMEOUT)
    ours = replace(deps, drafter=gone)
    view = open_reply(desk, ours, slack_emulator, slack_proxy, channel, case)
    draft(desk, ours, slack_emulator, view, case)
    assert block_text(draft_block(redrawn(slack_proxy))).startswith(
        f"⚠️ socialdesk could not reach the language model at 127.0.0.1:{closed_port} (ConnectError), so there is no "
        "draft. Write the reply yourself, and ask an admin to check SOCIALDESK_LLM_URL")


@sqlite_only
def test_a_model_the_server_lacks_is_named(desk, deps, slack_emulator, slack_proxy, channel, chat, case):
    from dataclasses import replace
    from socialdesk.drafting.client import Drafter
    other = Drafter(url=chat.url, model="llama9", api_key=KEY, http=desk.http, timeout=TIMEOUT)
    ours = replace(deps, drafter=other)
    view = open_reply(desk, ours, slack_emulator, slack_proxy, channel, case)
    draft(desk, ours, slack_emulator, view, case)
    line = block_text(draft_block(redrawn(slack_proxy)))
    assert "has no model “llama9” or no chat-completions API (404). It said: “model \"llama9\" not found, try " \
           "pulling it first”. Ask an admin to check SOCIALDESK_LLM_MODEL (for Ollama: `ollama pull llama9`)" in line


def test_typing_while_the_model_writes_keeps_the_text_and_the_draft_comes_by_message(
        desk, deps, slack_emulator, slack_proxy, channel, chat, case):
    view = open_reply(desk, deps, slack_emulator, slack_proxy, channel, case)

    def agent_types_meanwhile(request: dict) -> str:
        # While the model writes, a keystroke's count redraw changes the view (and its hash).
        drafting = redrawn(slack_proxy)
        block = input_block(drafting)["block_id"]
        action = {"type": "plain_text_input", "block_id": block, "action_id": ids.REPLY_INPUT, "value": "My own",
                  "action_ts": f"{time.time():.6f}"}
        replies.reply_typed(in_modal(slack_emulator, drafting, action, text_input(block, "My own", ids.REPLY_INPUT)),
                            desk.slack, deps=deps)
        return "Sorry! <!channel> Try turning wifi off and on."

    chat._reply = agent_types_meanwhile
    draft(desk, deps, slack_emulator, view, case)
    calls = updates(slack_proxy)
    assert calls[-1].response.get("error") == "hash_conflict"  # the draft lost to the keystroke: nothing overwritten
    assert input_block(redrawn(slack_proxy)) == input_block(view)
    [told] = sent_texts(slack_proxy, "chat.postMessage", channel=slack_emulator.users["alice"])
    assert told.startswith(f"✨ Your drafted reply for case #{case} is ready, but the reply window changed")
    assert told.endswith("\n>Sorry! &lt;!channel&gt; Try turning wifi off and on.")
    assert len(drafted_events(deps, case)) == 1  # kept all the same


@sqlite_only
def test_a_closed_modal_asks_no_model(desk, deps, slack_emulator, slack_proxy, channel, chat, case):
    view = open_reply(desk, deps, slack_emulator, slack_proxy, channel, case)
    draft(desk, deps, slack_emulator, dict(view, id="VCLOSED0001"), case)  # sent or closed as the click came
    assert [c.response.get("error") for c in updates(slack_proxy)][-1] == "not_found"
    assert chat.requests == [] and drafted_events(deps, case) == []
    assert sent_texts(slack_proxy, "chat.postMessage", channel=slack_emulator.users["alice"]) == []


@sqlite_only
def test_a_second_click_is_dropped_and_too_many_drafts_at_once_are_told_to_wait(desk, deps, slack_emulator,
                                                                               slack_proxy, channel, chat, case):
    view = open_reply(desk, deps, slack_emulator, slack_proxy, channel, case)
    drafts = answers.DraftsInFlight(most=1)
    assert drafts.take(view["id"]) == "taken"  # a draft for this modal is on its way
    body = in_modal(slack_emulator, view, draft_action(case), {})
    answers.draft_clicked(body, desk.slack, deps=deps, drafts=drafts)
    assert chat.requests == [] and redrawn(slack_proxy) == view  # dropped: the first one's line shows
    busy = dict(view, id="VOTHERMODAL")  # another agent's modal meanwhile: one at most
    answers.draft_clicked(in_modal(slack_emulator, busy, draft_action(case), {}), desk.slack, deps=deps,
                          drafts=drafts)
    assert chat.requests == [] and updates(slack_proxy)[-1].response.get("error") == "not_found"
    assert "1 draft is being written right now, the most socialdesk writes at once" in json.dumps(updates(slack_proxy)[-1].params["view"])
    drafts.release(view["id"])
    answers.draft_clicked(body, desk.slack, deps=deps, drafts=drafts)
    assert len(chat.requests) == 1 and drafts.take("VNEXT") == "taken"  # released after its draft


@sqlite_only
def test_without_earlier_answers_the_model_is_told_so(desk, deps, slack_emulator, slack_proxy, channel, chat):
    [lonely] = publish_cases(desk, channel, ["@acmephones where is my parcel"])
    view = open_reply(desk, deps, slack_emulator, slack_proxy, channel, lonely)
    draft(desk, deps, slack_emulator, view, lonely)
    assert "The team has no earlier answer to a similar question." in chat.requests[0].json()["messages"][1]["content"]
    assert input_block(redrawn(slack_proxy))["element"]["initial_value"] == NO_ANSWER


def test_a_draft_click_through_bolt_is_acked_before_the_model_answers(desk, deps, slack_emulator, slack_proxy,
                                                                      channel, chat, case):
    view = open_reply(desk, deps, slack_emulator, slack_proxy, channel, case)
    chat.delay_next(0.5)
    body = urlencode({"payload": json.dumps(in_modal(slack_emulator, view, draft_action(case), {}))}).encode()
    started = time.monotonic()
    answer = post(desk, body, sign(body, SECRET))
    assert (answer.status, answer.body) == (200, b"") and time.monotonic() - started < 0.5
    wait_for(lambda: drafted_events(deps, case), timeout=10, what="the draft")
    wait_for(lambda: input_block(redrawn(slack_proxy))["block_id"] == f"{ids.REPLY_INPUT}-1", timeout=10,
             what="the draft in the box")
