"""`socialdesk forget` when Slack refuses to delete: the card is blanked instead, and the output says so.

A local proxy in front of the Slack emulator (tests.support.slack_proxy) answers chat.delete
with Slack's refusal; every other method reaches the emulator.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from slack_sdk import WebClient
from sqlalchemy import update

from socialdesk.jobs.retention import REMOVED_METADATA_TYPE, REMOVED_TEXT, remove_messages
from socialdesk.store.db import make_engine, session_scope
from socialdesk.store.forget import SlackMessage
from socialdesk.store.models import CaseRow
from tests.support.slack_proxy import SlackProxy
from tests.test_cli_privacy import run, seeded  # noqa: F401  (fixtures)

REFUSED = {"ok": False, "error": "cant_delete_message"}


@pytest.fixture
def refusing_proxy(slack_emulator) -> Iterator[SlackProxy]:
    with SlackProxy(slack_emulator.url) as proxy:
        proxy.answer("chat.delete", REFUSED)
        yield proxy


def test_a_card_slack_will_not_delete_is_replaced_with_the_removed_text(run, seeded, tmp_path,  # noqa: F811
                                                                        slack_emulator,
                                                                        refusing_proxy):
    env, s = seeded
    channel = slack_emulator.new_channel("forgetrefused")
    card = slack_emulator.call("chat.postMessage", channel=channel, text="X post from @Jane_Doe: zanzibarscreen",
                               metadata={"event_type": "socialdesk_case", "event_payload": {"case_id": s.jane_case}})["ts"]
    with session_scope(make_engine(env["SOCIALDESK_DATABASE_URL"])) as session:
        session.execute(update(CaseRow).where(CaseRow.id == s.jane_case).values(channel_id=channel, message_ts=card))
    env = {**env, "SLACK_BOT_TOKEN": slack_emulator.token, "SOCIALDESK_SLACK_API_URL": refusing_proxy.url}

    done = run("forget", "--network", "x", "--author", "jane_doe", "--yes", env=env, cwd=tmp_path)

    assert done.returncode == 0, done.stderr
    assert (f"  card {channel}/{card} (case #{s.jane_case}): could not be deleted (cant_delete_message), "
            f"replaced with \"{REMOVED_TEXT}\"") in done.stdout
    [delete] = [c for c in refusing_proxy.calls_to("chat.delete") if c.params.get("ts") == card]
    assert delete.response == REFUSED
    [update_call] = [c for c in refusing_proxy.calls_to("chat.update") if c.params.get("ts") == card]
    assert update_call.response.get("ok") is True
    [shown] = [m for m in slack_emulator.history(channel) if m["ts"] == card]  # still there, but blanked
    assert shown["text"] == REMOVED_TEXT
    assert "zanzibarscreen" not in str(shown) and "Jane" not in str(shown)
    assert shown["blocks"][0]["text"]["text"] == f"_{REMOVED_TEXT}_"
    assert shown["metadata"]["event_type"] == REMOVED_METADATA_TYPE  # no case id left to find it by


def test_when_slack_refuses_the_update_too_the_admin_is_told_to_delete_it(slack_emulator, refusing_proxy):
    refusing_proxy.answer("chat.update", {"ok": False, "error": "message_not_found"})
    channel = slack_emulator.new_channel("forgetstuck")
    ts = slack_emulator.call("chat.postMessage", channel=channel, text="New reply from @Jane_Doe: hi")["ts"]
    slack = WebClient(token=slack_emulator.token, base_url=refusing_proxy.url)

    [line] = remove_messages(slack, [SlackMessage(channel_id=channel, ts=ts, what="follow-up", case_id=7)])

    assert line == (f"follow-up {channel}/{ts} (case #7): NOT changed (delete: cant_delete_message; "
                    "update: message_not_found): delete it in Slack yourself")
    [left] = [m for m in slack_emulator.history(channel) if m["ts"] == ts]
    assert left["text"] == "New reply from @Jane_Doe: hi"
