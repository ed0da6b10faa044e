"""The demo workspace: its Web API through slack_sdk, and the signed requests its page sends."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import httpx
import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier

from socialdesk.demo.workspace import Workspace
from tests.support.ports import free_port

SECRET = "demo-signing-secret"


class Receiver:
    """A tiny stand-in for the app: records signed requests, answers as told."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.answers: list[tuple[int, bytes, str]] = []  # queued (status, body, content type)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.requests.append({"headers": dict(self.headers), "body": body})
                status, answer, ctype = receiver.answers.pop(0) if receiver.answers else (200, b"", "text/plain")
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/slack/events"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def answer(self, data: dict) -> None:
        self.answers.append((200, json.dumps(data).encode(), "application/json"))

    def last(self) -> tuple[dict, bytes, dict]:
        req = self.requests[-1]
        return req["headers"], req["body"], self.payload(req["body"], req["headers"])

    @staticmethod
    def payload(body: bytes, headers: dict) -> dict:
        if "json" in headers.get("Content-Type", ""):
            return json.loads(body)
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        return json.loads(form["payload"]) if "payload" in form else form

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def ws(receiver: Receiver) -> Iterator[Workspace]:
    with Workspace(port=free_port(), signing_secret=SECRET, app_events_url=receiver.url) as workspace:
        yield workspace


@pytest.fixture
def client(ws: Workspace) -> WebClient:
    return WebClient(token=ws.bot_token, base_url=ws.api_url)


def verified(headers: dict, body: bytes) -> bool:
    return SignatureVerifier(SECRET).is_valid_request(body, headers)


def ui(ws: Workspace, action: str, **body: object) -> dict:
    resp = httpx.post(f"{ws.url}/ui/{action}", json=body, timeout=15)
    assert resp.status_code == 200, resp.text
    return resp.json()


def state(ws: Workspace, user: str) -> dict:
    return httpx.get(f"{ws.url}/state", params={"user": user}).json()


CARD_BLOCKS = [
    {"type": "section", "block_id": "post", "text": {"type": "mrkdwn", "text": "*hi* <!channel> &lt;b&gt;"}},
    {"type": "actions", "block_id": "actions", "elements": [
        {"type": "button", "action_id": "case_claim", "text": {"type": "plain_text", "text": "Claim"}, "value": "7",
         "style": "primary"},
        {"type": "overflow", "action_id": "case_menu", "options": [
            {"text": {"type": "plain_text", "text": "Assign…"}, "value": "assign:7"},
            {"text": {"type": "plain_text", "text": "Open in X"}, "value": "open:7", "url": "https://x.com/a/status/1"},
        ]},
    ]},
]
MODAL = {
    "type": "modal", "callback_id": "note_modal", "notify_on_close": True, "private_metadata": '{"case_id": 7}',
    "title": {"type": "plain_text", "text": "Internal note"}, "submit": {"type": "plain_text", "text": "Add note"},
    "close": {"type": "plain_text", "text": "Cancel"},
    "blocks": [
        {"type": "input", "block_id": "note_input", "label": {"type": "plain_text", "text": "Note"},
         "element": {"type": "plain_text_input", "action_id": "note_input", "multiline": True}},
        {"type": "input", "block_id": "prio", "label": {"type": "plain_text", "text": "Priority"},
         "element": {"type": "static_select", "action_id": "prio", "options": [
             {"text": {"type": "plain_text", "text": "High"}, "value": "high"}]}},
        {"type": "input", "block_id": "who", "label": {"type": "plain_text", "text": "Who"},
         "element": {"type": "users_select", "action_id": "who"}},
        {"type": "input", "block_id": "where", "label": {"type": "plain_text", "text": "Where"},
         "element": {"type": "conversations_select", "action_id": "where"}},
        {"type": "input", "block_id": "also", "label": {"type": "plain_text", "text": "Also"},
         "element": {"type": "multi_conversations_select", "action_id": "also"}},
    ],
}


def test_auth_and_tokens(ws: Workspace, client: WebClient) -> None:
    me = client.auth_test()
    assert me["team"] == "Acme Phones" and me["user_id"] and me["bot_id"]
    assert ws.bot_token.startswith("xoxb-demo-")
    assert httpx.post(ws.api_url + "auth.test").json() == {"ok": False, "error": "not_authed"}
    with pytest.raises(SlackApiError) as err:
        WebClient(token="xoxb-wrong", base_url=ws.api_url).auth_test()
    assert err.value.response["error"] == "invalid_auth"


def test_post_update_thread_history(ws: Workspace, client: WebClient) -> None:
    channel = ws.channel_id("social-care")
    meta = {"event_type": "socialdesk_case", "event_payload": {"case_id": 7}}
    posted = client.chat_postMessage(channel=channel, text="card", blocks=CARD_BLOCKS, metadata=meta)
    ts = posted["ts"]
    assert posted["channel"] == channel and posted["message"]["blocks"] == CARD_BLOCKS
    client.chat_update(channel=channel, ts=ts, text="card v2", blocks=CARD_BLOCKS[:1])
    reply = client.chat_postMessage(channel=channel, thread_ts=ts, text="Claimed by <@U1>")
    assert reply["message"]["thread_ts"] == ts
    history = client.conversations_history(channel=channel, include_all_metadata=True)["messages"]
    assert [m["ts"] for m in history] == [ts]  # thread replies stay in the thread
    card = history[0]
    assert card["text"] == "card v2" and card["blocks"] == CARD_BLOCKS[:1] and card["metadata"] == meta
    assert card["reply_count"] == 1
    thread = client.conversations_replies(channel=channel, ts=ts)["messages"]
    assert [m["text"] for m in thread] == ["card v2", "Claimed by <@U1>"]
    link = client.chat_getPermalink(channel=channel, message_ts=ts)["permalink"]
    assert channel in link
    with pytest.raises(SlackApiError) as err:
        client.chat_postMessage(channel="C0NOPE", text="x")
    assert err.value.response["error"] == "channel_not_found"
    with pytest.raises(SlackApiError) as err:
        client.chat_update(channel=channel, ts="1.000001", text="x")
    assert err.value.response["error"] == "message_not_found"


def test_history_pages_and_oldest(ws: Workspace, client: WebClient) -> None:
    channel = ws.channel_id("social-care")
    stamps = [client.chat_postMessage(channel=channel, text=f"m{i}")["ts"] for i in range(5)]
    first = client.conversations_history(channel=channel, limit=2)
    assert [m["text"] for m in first["messages"]] == ["m4", "m3"] and first["has_more"]
    second = client.conversations_history(channel=channel, limit=2, cursor=first["response_metadata"]["next_cursor"])
    assert [m["text"] for m in second["messages"]] == ["m2", "m1"]
    newer = client.conversations_history(channel=channel, oldest=stamps[2])["messages"]
    assert [m["text"] for m in newer] == ["m4", "m3"]


def test_users_members_dm_and_ephemeral(ws: Workspace, client: WebClient) -> None:
    alice, bob = ws.user_id("alice"), ws.user_id("bob")
    channel = ws.channel_id("social-care")
    assert client.users_info(user=alice)["user"]["name"] == "alice"
    assert {u["name"] for u in client.users_list()["members"]} >= {"alice", "bob", "carol"}
    assert alice in client.conversations_members(channel=channel)["members"]
    assert client.usergroups_users_list(usergroup="S123")["users"] == []
    dm = client.chat_postMessage(channel=bob, text="for bob")
    assert dm["channel"].startswith("D")
    assert client.conversations_open(users=bob)["channel"]["id"] == dm["channel"]
    with pytest.raises(SlackApiError) as unknown:
        client.conversations_open(users="U0NOBODY")
    assert unknown.value.response["error"] == "user_not_found"
    eph = client.chat_postEphemeral(channel=channel, user=alice, text="only alice")
    assert eph["message_ts"]
    alice_view = state(ws, "alice")
    assert [e["text"] for e in alice_view["ephemerals"]] == ["only alice"]
    assert state(ws, "bob")["ephemerals"] == []
    assert any(c["is_im"] and c["messages"][0]["text"] == "for bob" for c in state(ws, "bob")["channels"])
    assert not any(c["is_im"] and c["messages"] for c in alice_view["channels"])
    with pytest.raises(SlackApiError) as err:
        client.users_info(user="U0NOBODY")
    assert err.value.response["error"] == "user_not_found"


def test_click_sends_a_signed_block_actions_and_its_trigger_opens_a_modal(
    ws: Workspace, client: WebClient, receiver: Receiver
) -> None:
    channel = ws.channel_id("social-care")
    ts = client.chat_postMessage(channel=channel, text="card", blocks=CARD_BLOCKS)["ts"]
    result = ui(ws, "click", user="alice", channel=channel, message_ts=ts, block_id="actions", action_id="case_claim")
    assert result["ok"]
    headers, body, payload = receiver.last()
    assert verified(headers, body)
    assert headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert payload["type"] == "block_actions" and payload["user"]["id"] == ws.user_id("alice")
    assert payload["actions"][0] | {"action_ts": ""} == {
        "action_id": "case_claim", "block_id": "actions", "type": "button", "value": "7", "style": "primary",
        "text": {"type": "plain_text", "text": "Claim"}, "action_ts": ""}
    assert payload["container"] == {"type": "message", "message_ts": ts, "channel_id": channel, "is_ephemeral": False}
    assert payload["message"]["blocks"] == CARD_BLOCKS and payload["channel"]["id"] == channel
    opened = client.views_open(trigger_id=payload["trigger_id"], view=MODAL)["view"]
    assert opened["callback_id"] == "note_modal" and opened["id"].startswith("V")
    assert state(ws, "alice")["modal"]["id"] == opened["id"]
    assert state(ws, "bob")["modal"] is None
    with pytest.raises(SlackApiError) as err:  # a trigger id works once
        client.views_open(trigger_id=payload["trigger_id"], view=MODAL)
    assert err.value.response["error"] == "exchanged_trigger_id"

    ui(ws, "click", user="alice", channel=channel, message_ts=ts, block_id="actions", action_id="case_menu",
       value="assign:7")
    _, _, menu = receiver.last()
    assert menu["actions"][0]["selected_option"]["value"] == "assign:7"


def test_trigger_ids_expire(ws: Workspace, client: WebClient, monkeypatch: pytest.MonkeyPatch) -> None:
    trigger = ws.state.issue_trigger(ws.user_id("alice"))
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 4)
    with pytest.raises(SlackApiError) as err:
        client.views_open(trigger_id=trigger, view=MODAL)
    assert err.value.response["error"] == "expired_trigger_id"
    monkeypatch.undo()
    with pytest.raises(SlackApiError) as err:
        client.views_open(trigger_id="123.456.made-up", view=MODAL)
    assert err.value.response["error"] == "invalid_trigger_id"


def test_modal_submit_errors_then_close_and_view_closed(ws: Workspace, client: WebClient, receiver: Receiver) -> None:
    alice = ws.user_id("alice")
    view = client.views_open(trigger_id=ws.state.issue_trigger(alice), view=MODAL)["view"]
    receiver.answer({"response_action": "errors", "errors": {"note_input": "Write something, or press Cancel."}})
    care = ws.channel_id("social-care")
    values = {"note_input": {"note_input": ""}, "prio": {"prio": "high"}, "who": {"who": ws.user_id("bob")},
              "where": {"where": care}, "also": {"also": [care]}}
    result = ui(ws, "submit", user="alice", view_id=view["id"], values=values)
    assert result["errors"] == {"note_input": "Write something, or press Cancel."}
    headers, body, payload = receiver.last()
    assert verified(headers, body) and payload["type"] == "view_submission"
    assert payload["view"]["state"]["values"] == {
        "note_input": {"note_input": {"type": "plain_text_input", "value": None}},
        "prio": {"prio": {"type": "static_select",
                          "selected_option": {"text": {"type": "plain_text", "text": "High"}, "value": "high"}}},
        "who": {"who": {"type": "users_select", "selected_user": ws.user_id("bob")}},
        "where": {"where": {"type": "conversations_select", "selected_conversation": care}},
        "also": {"also": {"type": "multi_conversations_select", "selected_conversations": [care]}},
    }
    assert payload["view"]["private_metadata"] == '{"case_id": 7}' and payload["view"]["hash"]
    assert state(ws, "alice")["modal"]["id"] == view["id"]  # still open

    values["note_input"]["note_input"] = "called them back"
    assert ui(ws, "submit", user="alice", view_id=view["id"], values=values)["closed"]
    assert state(ws, "alice")["modal"] is None

    view = client.views_open(trigger_id=ws.state.issue_trigger(alice), view=MODAL)["view"]
    assert ui(ws, "close", user="alice", view_id=view["id"])["notified"]
    headers, body, payload = receiver.last()
    assert verified(headers, body) and payload["type"] == "view_closed" and payload["view"]["id"] == view["id"]


def test_views_update_push_publish(ws: Workspace, client: WebClient) -> None:
    alice = ws.user_id("alice")
    view = client.views_open(trigger_id=ws.state.issue_trigger(alice), view=MODAL)["view"]
    with pytest.raises(SlackApiError) as err:
        client.views_update(view_id=view["id"], hash="stale", view=MODAL)
    assert err.value.response["error"] == "hash_conflict"
    updated = client.views_update(view_id=view["id"], hash=view["hash"], view=MODAL | {"callback_id": "v2"})["view"]
    assert updated["id"] == view["id"] and updated["callback_id"] == "v2"
    pushed = client.views_push(trigger_id=ws.state.issue_trigger(alice), view=MODAL)["view"]
    assert pushed["previous_view_id"] == view["id"] and state(ws, "alice")["modal_depth"] == 2
    home = {"type": "home", "blocks": [{"type": "header", "text": {"type": "plain_text", "text": "socialdesk"}}]}
    published = client.views_publish(user_id=alice, view=home)["view"]
    assert published["type"] == "home" and state(ws, "alice")["home"]["blocks"] == home["blocks"]
    assert state(ws, "bob")["home"] is None


def test_slash_command_and_app_home(ws: Workspace, receiver: Receiver) -> None:
    channel = ws.channel_id("social-care")
    receiver.answer({"response_type": "ephemeral", "text": "*Usage*: /social help"})
    assert ui(ws, "command", user="bob", channel=channel, text="/social help")["ok"]
    headers, body, fields = receiver.last()
    assert verified(headers, body)
    assert fields["command"] == "/social" and fields["text"] == "help" and fields["user_id"] == ws.user_id("bob")
    assert fields["trigger_id"] and fields["response_url"].startswith(ws.url)
    assert [e["text"] for e in state(ws, "bob")["ephemerals"]] == ["*Usage*: /social help"]
    # respond() later through the response_url
    httpx.post(fields["response_url"], json={"text": "later"})
    assert [e["text"] for e in state(ws, "bob")["ephemerals"]][-1] == "later"

    first = ui(ws, "home", user="carol")
    second = ui(ws, "home", user="carol")
    headers, body, payload = receiver.last()
    assert verified(headers, body) and headers["Content-Type"] == "application/json"
    assert payload["type"] == "event_callback" and payload["event"]["type"] == "app_home_opened"
    assert payload["event"]["user"] == ws.user_id("carol") and payload["event"]["tab"] == "home"
    assert first["event_id"] != second["event_id"]


def test_app_down_is_reported(ws: Workspace) -> None:
    ws.app_events_url = f"http://127.0.0.1:{free_port()}/slack/events"
    result = ui(ws, "command", user="alice", channel=ws.channel_id("social-care"), text="/social help")
    assert not result["ok"]
    assert "dispatch_failed" in state(ws, "alice")["ephemerals"][-1]["text"]


def test_page_and_long_poll(ws: Workspace, client: WebClient) -> None:
    page = httpx.get(ws.url + "/").text
    for testid in ("agent-switch", "app-home", "composer", "thread", "modal"):
        assert f'data-testid="{testid}"' in page
    assert httpx.get(ws.url + "/static/app.js").status_code == 200
    assert httpx.get(ws.url + "/static/../workspace.py").status_code == 404
    version = state(ws, "alice")["version"]
    threading.Timer(0.3, lambda: client.chat_postMessage(channel=ws.channel_id("social-care"), text="x")).start()
    started = time.monotonic()
    fresh = httpx.get(ws.url + "/state", params={"user": "alice", "since": version, "wait": 5}, timeout=10).json()
    assert fresh["version"] > version and time.monotonic() - started < 4


def test_files_upload_v2_shares_the_file_in_the_dm_and_people_can_open_it(ws: Workspace, client: WebClient) -> None:
    bob = ws.user_id("bob")
    dm = client.conversations_open(users=bob)["channel"]["id"]
    content = "".join(f"## Case {i} · resolved\n" for i in range(1, 9))
    done = client.files_upload_v2(channel=dm, content=content, filename="socialdesk-cases.md",
                                  title="socialdesk-cases.md", initial_comment="Your export: 8 cases as Markdown.")
    file = done["file"]
    assert file["name"] == "socialdesk-cases.md" and file["size"] == len(content.encode())
    assert file["mimetype"] == "text/markdown" and dm in file["ims"]
    assert file["url_private"].startswith(ws.url + "/files-pri/")
    # The app reads it back with its token, as from Slack; the page's people open it without one.
    assert httpx.get(file["url_private"], headers={"Authorization": f"Bearer {ws.bot_token}"}).text == content
    assert httpx.get(file["url_private_download"]).text == content
    assert "attachment" in httpx.get(file["url_private_download"]).headers["content-disposition"]
    assert httpx.get(file["url_private"], headers={"Authorization": "Bearer xoxb-wrong"}).status_code == 401
    assert client.files_info(file=file["id"])["file"]["name"] == "socialdesk-cases.md"

    [shown] = next(c for c in state(ws, "bob")["channels"] if c["id"] == dm)["messages"]
    assert shown["subtype"] == "file_share" and shown["text"] == "Your export: 8 cases as Markdown."
    [attached] = shown["files"]
    assert attached["preview"].splitlines() == content.splitlines()[:6] and attached["lines_more"] == 2
    assert not any(c["is_im"] and c["messages"] for c in state(ws, "alice")["channels"])


def test_file_upload_errors(ws: Workspace, client: WebClient) -> None:
    with pytest.raises(SlackApiError) as err:
        client.files_getUploadURLExternal(filename="", length=3)
    assert err.value.response["error"] == "invalid_arguments"
    started = client.files_getUploadURLExternal(filename="a.csv", length=3)
    with pytest.raises(SlackApiError) as err:  # nothing was uploaded yet
        client.files_completeUploadExternal(files=[{"id": started["file_id"], "title": "a"}])
    assert err.value.response["error"] == "file_not_found"
    assert httpx.post(f"{ws.url}/upload/v1/F0NOSUCH", content=b"abc").status_code == 404
    assert httpx.post(started["upload_url"], content=b"a,b").status_code == 200
    with pytest.raises(SlackApiError) as err:
        client.files_completeUploadExternal(files=[{"id": started["file_id"]}], channel_id="C0NOSUCH")
    assert err.value.response["error"] == "channel_not_found"
    assert client.files_completeUploadExternal(files=[{"id": started["file_id"]}])["files"][0]["channels"] == []
    with pytest.raises(SlackApiError) as err:  # an upload completes once
        client.files_completeUploadExternal(files=[{"id": started["file_id"]}])
    assert err.value.response["error"] == "file_not_found"


def test_a_stale_click_reaches_the_app_as_the_person_saw_it(ws: Workspace, client: WebClient, receiver: Receiver) -> None:
    """bob's page still shows Claim when alice's claim has just replaced the card: the click goes to the app."""
    channel = ws.channel_id("social-care")
    ts = client.chat_postMessage(channel=channel, text="card", blocks=CARD_BLOCKS)["ts"]
    seen = CARD_BLOCKS[1]["elements"][0]
    client.chat_update(channel=channel, ts=ts, text="claimed", blocks=CARD_BLOCKS[:1])
    result = ui(ws, "click", user="bob", channel=channel, message_ts=ts, block_id="actions", action_id="case_claim",
                element=seen)
    assert result["ok"], result
    headers, body, payload = receiver.last()
    assert verified(headers, body) and payload["actions"][0]["action_id"] == "case_claim"
    assert payload["actions"][0]["value"] == "7" and payload["message"]["blocks"] == CARD_BLOCKS[:1]
    # An element the page never had is still refused.
    other = ui(ws, "click", user="bob", channel=channel, message_ts=ts, block_id="actions", action_id="nope",
               element=seen)
    assert other == {"ok": False, "error": "element_not_found"}


def test_permalinks_open_the_page_and_the_page_knows_every_channel_name(ws: Workspace, client: WebClient) -> None:
    channel = ws.channel_id("social-care")
    ts = client.chat_postMessage(channel=channel, text="card")["ts"]
    link = client.chat_getPermalink(channel=channel, message_ts=ts)["permalink"]
    assert link == f"{ws.url}/archives/{channel}/p{ts.replace('.', '')}"
    page = httpx.get(link)
    assert page.status_code == 200 and 'data-testid="composer"' in page.text
    assert state(ws, "alice")["channel_names"] == {channel: "social-care"}


def test_the_sidebar_links_the_local_networks_pages(receiver: Receiver) -> None:
    pages = [("Local network A", "http://127.0.0.1:1/brand")]
    with Workspace(port=free_port(), signing_secret=SECRET, app_events_url=receiver.url, local_pages=pages) as ws:
        assert state(ws, "alice")["local_pages"] == [{"label": "Local network A", "url": "http://127.0.0.1:1/brand"}]
        assert 'id="local-pages"' in httpx.get(ws.url + "/").text


def test_replace_original_through_the_response_url_changes_the_clicked_ephemeral_in_place(
        ws: Workspace, client: WebClient, receiver: Receiver) -> None:
    """Prev/Next on a `/social` list: the app replaces the ephemeral list, as Slack lets it."""
    channel = ws.channel_id("social-care")
    nav = [{"type": "actions", "block_id": "nav", "elements": [
        {"type": "button", "action_id": "lookup_next", "text": {"type": "plain_text", "text": "Next"}, "value": "1"}]}]
    ts = client.chat_postEphemeral(channel=channel, user=ws.user_id("alice"), text="page 1", blocks=nav)["message_ts"]
    assert ui(ws, "click", user="alice", channel=channel, message_ts=ts, ephemeral=True, block_id="nav",
              action_id="lookup_next")["ok"]
    _, _, payload = receiver.last()
    assert httpx.post(payload["response_url"], json={"replace_original": True, "text": "page 2"}).json()["ok"]
    assert [e["text"] for e in state(ws, "alice")["ephemerals"]] == ["page 2"]  # replaced, not added
    assert "blocks" not in state(ws, "alice")["ephemerals"][0]
    assert httpx.post(payload["response_url"], json={"delete_original": "true"}).json()["ok"]
    assert state(ws, "alice")["ephemerals"] == []


def test_chat_delete_removes_the_bots_messages_and_a_parent_with_replies_stays_as_a_tombstone(
        ws: Workspace, client: WebClient) -> None:
    channel = ws.channel_id("social-care")
    card = client.chat_postMessage(channel=channel, text="card")["ts"]
    reply = client.chat_postMessage(channel=channel, thread_ts=card, text="note")["ts"]
    alone = client.chat_postMessage(channel=channel, text="alone")["ts"]
    assert client.chat_delete(channel=channel, ts=alone)["ts"] == alone
    assert client.chat_delete(channel=channel, ts=card)["ok"]
    [shown] = client.conversations_history(channel=channel)["messages"]
    assert shown["ts"] == card and shown["subtype"] == "tombstone" and shown["reply_count"] == 1
    client.chat_delete(channel=channel, ts=reply)
    assert [m["ts"] for m in client.conversations_replies(channel=channel, ts=card)["messages"]] == [card]
    with pytest.raises(SlackApiError) as err:
        client.chat_delete(channel=channel, ts=alone)
    assert err.value.response["error"] == "message_not_found"
    mine = ws.post_as(user=ws.user_id("alice"), channel=channel, text="by alice")["ts"]
    with pytest.raises(SlackApiError) as err:
        client.chat_delete(channel=channel, ts=mine)
    assert err.value.response["error"] == "cant_delete_message"
