"""`/social webhooks …` words it does not take (listeners.webhook_commands), in-process.

Listing, adding, testing and managing webhooks are driven end to end in tests/e2e/test_webhooks.py.
"""

from __future__ import annotations

from socialdesk.listeners import commands
from socialdesk.listeners.webhook_commands import NOT_ADMIN, USAGE


def said(deps, slack_emulator, text: str, *, user: str = "mia") -> str:
    return commands.answer(deps, None, user_id=slack_emulator.users[user], text=text, channel_id="C0CARE1").text


def test_a_word_webhooks_does_not_know_is_named_before_the_usage(deps, slack_emulator):
    assert said(deps, slack_emulator, "webhooks foo 3") == f"`foo` is not a webhooks command.\n{USAGE}"
    assert said(deps, slack_emulator, "webhooks <!here>") == f"`&lt;!here&gt;` is not a webhooks command.\n{USAGE}"
    assert said(deps, slack_emulator, "webhooks " + "x" * 5000).startswith(f"`{'x' * 39}…` is not a webhooks command")
    assert said(deps, slack_emulator, "webhooks foo 3", user="alice") == NOT_ADMIN


def test_a_webhook_number_that_is_not_one_is_named_before_the_usage(deps, slack_emulator):
    assert said(deps, slack_emulator, "webhooks test abc") == f"`abc` is not a webhook number.\n{USAGE}"
    assert said(deps, slack_emulator, "webhooks remove 2147483648") == \
        f"`2147483648` is not a webhook number.\n{USAGE}"
    for typed in ("webhooks log", "webhooks retry 1 2", "webhooks add", "webhooks list 3"):
        assert said(deps, slack_emulator, typed) == USAGE, typed
