"""The demo workspace's page in a real browser, against a stand-in app: Slack's dispatch_action on
inputs (a live counter the app keeps up to date with views.update) works while people type."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest
from slack_sdk import WebClient

from socialdesk.demo.workspace import Workspace
from tests.demo.test_demo_browser import CHROMIUM, CHROMIUM_ARGS, _browser_api
from tests.support.ports import free_port


def counter_modal(count: int) -> dict:
    return {
        "type": "modal", "callback_id": "reply_modal", "title": {"type": "plain_text", "text": "Reply"},
        "submit": {"type": "plain_text", "text": "Send"},
        "blocks": [
            {"type": "input", "block_id": "reply", "dispatch_action": True,
             "label": {"type": "plain_text", "text": "Reply"},
             "element": {"type": "plain_text_input", "action_id": "reply_text", "multiline": True,
                         "dispatch_action_config": {"trigger_actions_on": ["on_character_entered"]}}},
            {"type": "context", "block_id": "count",
             "elements": [{"type": "mrkdwn", "text": f"{count}/280"}]},
        ],
    }


class CounterApp:
    """Answers each block_actions from the reply input with views.update of the counter (hash checked)."""

    def __init__(self, ws: Workspace) -> None:
        client = WebClient(token=ws.bot_token, base_url=ws.api_url)
        self.actions: list[dict] = []
        app = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                payload = json.loads(parse_qs(body)["payload"][0])
                if payload.get("type") == "block_actions":
                    action = payload["actions"][0]
                    app.actions.append(action)
                    view = payload["view"]
                    client.views_update(view_id=view["id"], hash=view["hash"],
                                        view=counter_modal(len(action.get("value") or "")))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/slack/events"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def workspace() -> Iterator[tuple[Workspace, CounterApp]]:
    _browser_api()  # skip (or fail in CI) before starting anything
    with Workspace(port=free_port(), signing_secret="s") as ws:
        app = CounterApp(ws)
        ws.app_events_url = app.url
        try:
            yield ws, app
        finally:
            app.close()


@pytest.mark.e2e
@pytest.mark.timeout(60)
def test_a_live_counter_follows_typing_and_the_cursor_stays(workspace: tuple[Workspace, CounterApp]) -> None:
    ws, app = workspace
    sync_api = _browser_api()
    expect = sync_api.expect
    client = WebClient(token=ws.bot_token, base_url=ws.api_url)
    client.views_open(trigger_id=ws.state.issue_trigger(ws.user_id("alice")), view=counter_modal(0))
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.set_default_timeout(10_000)
            page.goto(ws.url + "/?as=alice")
            modal = page.locator('[data-testid="modal"]')
            expect(modal).to_contain_text("0/280")
            expect(modal).not_to_contain_text("characters")  # the app counts; the page adds no count of its own
            box = modal.locator("textarea")
            box.click()
            page.keyboard.type("hello", delay=30)
            expect(modal).to_contain_text("5/280")
            page.keyboard.type(" world", delay=30)  # the modal was rebuilt: typing goes on in the same box
            expect(modal).to_contain_text("11/280")
            expect(box).to_have_value("hello world")
            assert page.evaluate("document.activeElement.tagName") == "TEXTAREA"
            assert app.actions[-1] | {"action_ts": ""} == {
                "action_id": "reply_text", "block_id": "reply", "type": "plain_text_input", "value": "hello world",
                "action_ts": ""}
        finally:
            browser.close()


@pytest.mark.e2e
@pytest.mark.timeout(60)
def test_dates_read_as_slack_writes_them_and_channels_by_name(workspace: tuple[Workspace, CounterApp]) -> None:
    ws, _ = workspace
    sync_api = _browser_api()
    expect = sync_api.expect
    client = WebClient(token=ws.bot_token, base_url=ws.api_url)
    channel = ws.channel_id("social-care")
    now = int(time.time())
    client.chat_postMessage(channel=channel, text=(
        f"claimed <!date^{now - 240}^{{ago}}|at 10:00 UTC> · due <!date^{now}^{{date_short_pretty}} at {{time}}|"
        f"later UTC> · odd <!date^{now}^{{no_such_token}}|the fallback> · in <#{channel}>"))
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.set_default_timeout(10_000)
            page.clock.install()  # the page's own clock, moved on below; nothing waits for real time
            page.goto(ws.url + "/?as=alice")
            message = page.locator('[data-testid="message"]').filter(has_text="claimed")
            expect(message).to_contain_text("4 minutes ago")
            page.clock.fast_forward("05:00")  # Slack keeps {ago} current while the message is shown
            expect(message).to_contain_text("9 minutes ago")
            expect(message).to_contain_text("due Today at")
            expect(message).to_contain_text("odd the fallback")
            expect(message).to_contain_text("in #social-care")
            expect(message).not_to_contain_text("UTC")
        finally:
            browser.close()
