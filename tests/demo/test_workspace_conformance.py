"""The demo workspace answers like the Slack emulator the rest of the tests trust.

The same calls go to both; the keys of ok answers the emulator gives must be in the
workspace's answers too, and messages must read back the same (text, blocks,
metadata, ts, thread_ts), so the demo cannot drift from Slack as the emulator models it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from socialdesk.demo.workspace import Workspace
from tests.support.ports import free_port
from tests.support.slack_emulator import SlackEmulator

BLOCKS = [
    {"type": "section", "block_id": "post", "text": {"type": "mrkdwn", "text": "*hello* &lt;world&gt;"}},
    {"type": "actions", "block_id": "actions", "elements": [
        {"type": "button", "action_id": "case_claim", "text": {"type": "plain_text", "text": "Claim"}, "value": "1"}]},
]
META = {"event_type": "socialdesk_case", "event_payload": {"case_id": 1}}
MODAL = {
    "type": "modal", "callback_id": "note_modal", "title": {"type": "plain_text", "text": "Note"},
    "submit": {"type": "plain_text", "text": "Add"}, "close": {"type": "plain_text", "text": "Cancel"},
    "private_metadata": '{"case_id": 1}',
    "blocks": [{"type": "input", "block_id": "note", "label": {"type": "plain_text", "text": "Note"},
                "element": {"type": "plain_text_input", "action_id": "note"}}],
}
HOME = {"type": "home", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "home"}}]}
MESSAGE_FIELDS = ("text", "blocks", "metadata", "thread_ts")


@dataclass
class Target:
    client: WebClient
    channel: str
    alice: str
    trigger: Callable[[str], str]


@pytest.fixture(scope="module")
def workspace() -> Iterator[Workspace]:
    with Workspace(port=free_port(), signing_secret="s") as ws:
        yield ws


def emulator_target(emu: SlackEmulator) -> Target:
    return Target(client=WebClient(token=emu.token, base_url=emu.url), channel=emu.new_channel("conf"),
                  alice=emu.users["alice"], trigger=emu.trigger_id)


def workspace_target(ws: Workspace) -> Target:
    return Target(client=WebClient(token=ws.bot_token, base_url=ws.api_url), channel=ws.channel_id("social-care"),
                  alice=ws.user_id("alice"), trigger=lambda user: ws.state.issue_trigger(ws.user_id(user)))


def message_view(msg: dict, stamps: dict[str, str]) -> dict:
    """The fields that matter, with ts values replaced by their role ("card", "reply")."""
    out: dict[str, Any] = {k: msg.get(k) for k in MESSAGE_FIELDS}
    out["ts"] = stamps.get(msg.get("ts", ""), msg.get("ts"))
    if out["thread_ts"] == msg.get("ts"):
        out["thread_ts"] = None  # Slack marks a thread's parent with its own ts; the emulator does not
    if out["thread_ts"] is not None:
        out["thread_ts"] = stamps.get(out["thread_ts"], out["thread_ts"])
    return out


def run(target: Target) -> dict[str, Any]:
    """The same sequence of calls; returns keys of each answer and the messages read back."""
    c, ch = target.client, target.channel
    seen: dict[str, Any] = {}

    def keys(name: str, resp: Any) -> dict:
        data = resp.data
        assert data["ok"], (name, data)
        seen[f"keys:{name}"] = set(data)
        return data

    keys("auth.test", c.auth_test())
    card = keys("chat.postMessage", c.chat_postMessage(channel=ch, text="card", blocks=BLOCKS, metadata=META))
    seen["keys:chat.postMessage.message"] = set(card["message"])
    stamps = {card["ts"]: "card"}
    updated = keys("chat.update", c.chat_update(channel=ch, ts=card["ts"], text="card v2", blocks=BLOCKS[:1]))
    seen["keys:chat.update.message"] = set(updated["message"])
    reply = keys("chat.postMessage(thread)", c.chat_postMessage(channel=ch, thread_ts=card["ts"], text="note"))
    stamps[reply["ts"]] = "reply"
    seen["reply.message"] = message_view(reply["message"], stamps)
    text_only = keys("chat.postMessage(text)", c.chat_postMessage(channel=ch, text="plain"))
    stamps[text_only["ts"]] = "plain"
    keys("chat.update(text only)", c.chat_update(channel=ch, ts=text_only["ts"], text="plain v2"))
    history = keys("conversations.history", c.conversations_history(channel=ch, include_all_metadata=True, limit=50))
    seen["history"] = [message_view(m, stamps) for m in history["messages"]]
    replies = keys("conversations.replies", c.conversations_replies(channel=ch, ts=card["ts"]))
    seen["replies"] = [message_view(m, stamps) for m in replies["messages"]]
    keys("chat.postEphemeral", c.chat_postEphemeral(channel=ch, user=target.alice, text="psst"))
    keys("chat.getPermalink", c.chat_getPermalink(channel=ch, message_ts=card["ts"]))
    members = keys("conversations.members", c.conversations_members(channel=ch))
    seen["alice is a member"] = target.alice in members["members"]
    info = keys("users.info", c.users_info(user=target.alice))
    seen["keys:users.info.user"] = set(info["user"])
    seen["users.info.name"] = info["user"]["name"]
    users = keys("users.list", c.users_list())
    seen["users.list has alice"] = any(u["id"] == target.alice for u in users["members"])
    opened = keys("views.open", c.views_open(trigger_id=target.trigger("alice"), view=MODAL))
    view = opened["view"]
    seen["keys:views.open.view"] = set(view)
    seen["views.open.view"] = {k: view.get(k) for k in ("type", "callback_id", "private_metadata", "title")}
    updated_view = keys("views.update", c.views_update(view_id=view["id"], view=MODAL | {"callback_id": "v2"}))
    seen["views.update same id"] = updated_view["view"]["id"] == view["id"]
    seen["views.update.callback_id"] = updated_view["view"]["callback_id"]
    published = keys("views.publish", c.views_publish(user_id=target.alice, view=HOME))
    seen["views.publish.type"] = published["view"]["type"]
    # files_upload_v2: files.getUploadURLExternal, the upload, files.completeUploadExternal (`/social export`).
    dm = c.conversations_open(users=target.alice)["channel"]["id"]
    shared = keys("files.completeUploadExternal", c.files_upload_v2(
        channel=dm, content="case,status\n1,resolved\n", filename="cases.csv", title="cases.csv",
        initial_comment="Your export: 1 case as CSV."))
    seen["keys:files.completeUploadExternal.file"] = set(shared["files"][0])
    seen["file name and title"] = (shared["files"][0]["name"], shared["files"][0]["title"])
    seen["file in the DM"] = dm in shared["files"][0]["ims"]
    keys("chat.delete", c.chat_delete(channel=ch, ts=text_only["ts"]))  # retention deletes cards
    for name, call in {
        "chat.postMessage(bad channel)": lambda: c.chat_postMessage(channel="C0NOSUCH", text="x"),
        "chat.update(bad ts)": lambda: c.chat_update(channel=ch, ts="1000.000001", text="x"),
        "users.info(bad user)": lambda: c.users_info(user="U0NOSUCH"),
    }.items():
        with pytest.raises(SlackApiError) as err:
            call()
        seen[f"error:{name}"] = err.value.response["error"]
    return seen


def test_workspace_answers_like_the_emulator(slack_emulator: SlackEmulator, workspace: Workspace) -> None:
    expected = run(emulator_target(slack_emulator))
    actual = run(workspace_target(workspace))
    problems = []
    for key, want in expected.items():
        got = actual.get(key)
        if key.startswith("keys:"):
            missing = want - got
            if missing:
                problems.append(f"{key}: the workspace lacks {sorted(missing)}")
        elif got != want:
            problems.append(f"{key}: emulator {want!r}, workspace {got!r}")
    assert not problems, "\n".join(problems)
