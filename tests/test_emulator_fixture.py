"""The session fixtures work: the Slack emulator and a fresh database per backend."""

from __future__ import annotations

import httpx
import pytest
import sqlalchemy as sa
from slack_sdk import WebClient

from tests.support.slack_emulator import USER_NAMES, SlackEmulator


def test_emulator_seed(slack_emulator: SlackEmulator) -> None:
    auth = slack_emulator.call("auth.test")
    assert auth["team"] == "Acme Phones"
    assert auth["user_id"] == slack_emulator.bot_user_id == slack_emulator.users["socialdesk"]
    assert {"social-care", "vip-care"} <= slack_emulator.channels.keys()
    assert set(USER_NAMES) <= slack_emulator.users.keys()
    assert all(uid.startswith("U") for uid in slack_emulator.users.values())


def test_message_metadata_round_trip(slack_emulator: SlackEmulator) -> None:
    client = WebClient(token=slack_emulator.token, base_url=slack_emulator.url)
    metadata = {"event_type": "socialdesk_case", "event_payload": {"case_id": 42}}
    posted = client.chat_postMessage(
        channel=slack_emulator.channels["social-care"], text="card for case 42", metadata=metadata
    )
    client.chat_postMessage(channel=posted["channel"], thread_ts=posted["ts"], text="a note")

    history = slack_emulator.history("social-care")
    card = next(m for m in history if m["ts"] == posted["ts"])
    assert card["metadata"] == metadata
    assert card["user"] == slack_emulator.bot_user_id
    thread = slack_emulator.replies("social-care", posted["ts"])
    assert [m["text"] for m in thread] == ["card for case 42", "a note"]


def test_emulator_accepts_any_bearer_token(slack_emulator: SlackEmulator) -> None:
    # Relaxed auth: unknown tokens act as the default user; only a missing one fails.
    assert slack_emulator.call("auth.test", token="xoxb-anything")["user"] == "admin"
    no_auth = httpx.post(slack_emulator.url + "auth.test").json()
    assert no_auth == {"ok": False, "error": "not_authed"}


def test_ephemeral_messages_are_readable(slack_emulator: SlackEmulator) -> None:
    slack_emulator.call(
        "chat.postEphemeral",
        channel=slack_emulator.channels["vip-care"],
        user=slack_emulator.users["carol"],
        text="Only you can see <this> & that",
    )
    assert slack_emulator.ephemeral_texts("vip-care")[0] == "Only you can see <this> & that"


def test_trigger_id_opens_a_modal(slack_emulator: SlackEmulator) -> None:
    view = {
        "type": "modal",
        "callback_id": "probe",
        "title": {"type": "plain_text", "text": "Probe"},
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "hi"}}],
    }
    opened = slack_emulator.call("views.open", trigger_id=slack_emulator.trigger_id("alice"), view=view)
    assert opened["view"]["callback_id"] == "probe"


@pytest.mark.parametrize("attempt", [1, 2])
def test_db_url_is_a_working_empty_database(db_url: str, attempt: int) -> None:
    engine = sa.create_engine(db_url)
    try:
        with engine.begin() as conn:
            assert conn.execute(sa.text("select 1")).scalar() == 1
            # Empty although the other attempt left a table behind.
            assert sa.inspect(conn).get_table_names() == []
            conn.execute(sa.text("create table leftover (id integer primary key)"))
    finally:
        engine.dispose()


@pytest.mark.parametrize("private", [False, True], ids=["public", "private"])
def test_new_channel_isolates_a_test(slack_emulator: SlackEmulator, private: bool) -> None:
    channel = slack_emulator.new_channel("iso", private=private)
    assert slack_emulator.history(channel) == []
    slack_emulator.call("chat.postMessage", channel=channel, text="mine")
    slack_emulator.call("chat.postEphemeral", channel=channel, user=slack_emulator.users["agent20"], text="psst")
    assert [m["text"] for m in slack_emulator.history(channel)] == ["mine"]
    assert slack_emulator.ephemeral_texts(channel) == ["psst"]
