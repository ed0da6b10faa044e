"""The bot's identity for Bolt, looked up off the ack path (slack.identity)."""

from __future__ import annotations

import logging

from slack_sdk import WebClient

from socialdesk.slack.identity import BotIdentity
from tests.support.ports import free_port
from tests.support.waiting import wait_for


def test_requests_are_authorized_at_once_and_carry_the_bot_s_ids_once_auth_test_answers(slack_emulator):
    identity = BotIdentity(WebClient(token=slack_emulator.token, base_url=slack_emulator.url), slack_emulator.token)
    authorize = identity.authorizer()
    before = authorize(enterprise_id=None, team_id=slack_emulator.team_id, user_id="U1")
    assert before.bot_token == slack_emulator.token and before.bot_user_id is None  # no Slack call in a request
    identity.start()
    try:
        after = wait_for(lambda: (r := authorize(enterprise_id=None, team_id=slack_emulator.team_id, user_id="U1"))
                         .bot_user_id and r, timeout=10, what="auth.test's answer")
    finally:
        identity.stop()
    assert (after.bot_user_id, after.bot_id, after.user_id) == (slack_emulator.bot_user_id, slack_emulator.bot_id, "U1")


def test_slack_being_down_is_said_and_requests_still_authorized(caplog):
    down = WebClient(token="xoxb-down", base_url=f"http://127.0.0.1:{free_port()}/api/", timeout=2)
    identity = BotIdentity(down, "xoxb-down")
    with caplog.at_level(logging.WARNING):
        identity.start()
        wait_for(lambda: "Slack's auth.test failed" in caplog.text, timeout=10, what="the warning")
        identity.stop()
    assert identity.authorizer()(enterprise_id=None, team_id="T1", user_id="U1").bot_token == "xoxb-down"
    assert "Traceback" not in caplog.text
