"""`/social export` through the running app: the file reaches the requester's DM via files upload v2."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from socialdesk.store import ingest, lifecycle
from socialdesk.store.db import make_engine, session_scope, upgrade
from tests.support.factories import x_post
from tests.support.slack_signing import FORM, new_trigger_id, post_signed, slash_command_body
from tests.support.waiting import wait_for

CUSTOMER_TEXT = "My Acme X2 battery is swelling 🔋 <b>help</b>, mail me at dana@example.com"


def social(app, slack_emulator, text: str, *, user: str, channel: str) -> dict:
    body = slash_command_body(command="/social", text=text, user_id=slack_emulator.users[user], user_name=user,
                              channel_id=channel, team_id=slack_emulator.team_id, trigger_id=new_trigger_id())
    response = post_signed(app.events_url, body, app.signing_secret, FORM)
    assert response.status_code == 200, response.text
    reply = response.json()
    assert reply["response_type"] == "ephemeral"
    return reply


@pytest.fixture
def seeded(app, slack_emulator, fake_x, db_url):
    """Two cases in the database (one resolved), then the app started.

    The posts exist on FakeX too: the app checks that stored posts still exist at the source.
    """
    channel = slack_emulator.new_channel("export")
    now = datetime.now(UTC)
    dana = fake_x.post(username="dana_k", text=CUSTOMER_TEXT)["id"]
    sam = fake_x.post(username="sam", text="screen flickers")["id"]
    engine = make_engine(db_url)
    upgrade(engine)
    try:
        with session_scope(engine) as session:
            [resolved] = ingest.store_posts(session=session, posts=[x_post(CUSTOMER_TEXT, handle="dana_k", post_id=dana)],
                                            rule_id=None, channel_id=channel, now=now - timedelta(hours=2))
            [waiting] = ingest.store_posts(session=session, posts=[x_post("screen flickers", handle="sam", post_id=sam)],
                                           rule_id=None, channel_id=channel, now=now - timedelta(hours=1))
        alice = slack_emulator.users["alice"]
        with session_scope(engine) as session:
            lifecycle.claim(session=session, case_id=resolved, user_id=alice, now=now)
            lifecycle.add_note(session=session, case_id=resolved, user_id=alice, now=now, text="swollen: replace")
            lifecycle.resolve(session=session, case_id=resolved, user_id=alice, now=now)
    finally:
        engine.dispose()
    app.start()
    return channel, resolved, waiting


def uploaded(app, slack_emulator, slack_proxy, count: int) -> tuple[dict, str]:
    """The `count`-th completed upload: what the app asked for, and the file's bytes as Slack serves them."""
    done = wait_for(lambda: len(c := slack_proxy.calls_to("files.completeUploadExternal")) >= count and c,
                    timeout=30, what="the export upload")[count - 1]
    assert done.response.get("ok"), done.response
    file = done.response["files"][0]
    download = httpx.get(f"{slack_emulator.base}/files-pri/{file['id']}/{file['name']}",
                         headers={"Authorization": f"Bearer {app.env['SLACK_BOT_TOKEN']}"}, timeout=10)
    assert download.status_code == 200, download.text
    return done.params, download.content.decode("utf-8")


def test_an_admin_gets_markdown_and_jsonl_files_in_a_dm(app, slack_emulator, slack_proxy, seeded):
    channel, resolved, waiting = seeded
    reply = social(app, slack_emulator, "export md", user="mia", channel=channel)
    assert reply["text"].startswith("Preparing your export (Markdown, cases)")

    params, content = uploaded(app, slack_emulator, slack_proxy, 1)
    [opened] = [c for c in slack_proxy.calls_to("conversations.open") if c.params.get("users") == slack_emulator.users["mia"]]
    assert params["channel_id"] == opened.response["channel"]["id"]  # the requester's DM, not the channel
    assert params["initial_comment"] == "Your export: 2 cases as Markdown."
    assert f"## Case {resolved} · resolved · x" in content and f"## Case {waiting} · new · x" in content
    assert "battery is swelling 🔋 &lt;b&gt;help&lt;/b&gt;" in content and "swollen: replace" in content
    # Issue #15: the agent by name (users.info, cached by the app), not by Slack id.
    assert "- **Agent:** @alice\n" in content and slack_emulator.users["alice"] not in content

    reply = social(app, slack_emulator, "export jsonl status:resolved redact", user="mia", channel=channel)
    assert reply["text"].startswith("Preparing your export (JSON Lines, cases)")
    params, content = uploaded(app, slack_emulator, slack_proxy, 2)
    assert params["initial_comment"] == "Your export: 1 case as JSON Lines (status resolved · redacted)."
    [record] = [json.loads(line) for line in content.splitlines()]
    assert record["case_id"] == resolved and record["notes"] == "swollen: replace"
    assert (record["agent"], record["agent_id"]) == ("@alice", slack_emulator.users["alice"])
    assert len([c for c in slack_proxy.calls_to("users.info") if c.params.get("user") == record["agent_id"]]) == 1
    assert "[email]" in record["question"] and "dana" not in content


def test_non_admins_and_bad_words_get_an_answer_and_no_file(app, slack_emulator, slack_proxy, seeded):
    channel, _, _ = seeded
    refused = social(app, slack_emulator, "export md", user="alice", channel=channel)
    assert "only socialdesk admins can run them" in refused["text"]
    bad = social(app, slack_emulator, "export md since:yesterday", user="mia", channel=channel)
    assert "'yesterday' is not a date" in bad["text"] and "Usage: `/social export" in bad["text"]
    odd = social(app, slack_emulator, "export <!channel>", user="mia", channel=channel)
    assert "`&lt;!channel&gt;` is not something export understands" in odd["text"]
    assert slack_proxy.calls_to("files.getUploadURLExternal") == []


def test_a_failed_upload_is_explained_in_the_dm(app, slack_emulator, slack_proxy, seeded):
    channel, _, _ = seeded
    slack_proxy.answer("files.getUploadURLExternal", {"ok": False, "error": "file_uploads_disabled"})
    social(app, slack_emulator, "export csv", user="mia", channel=channel)
    told = wait_for(lambda: [c for c in slack_proxy.calls_to("chat.postMessage")
                             if "could not be sent" in str(c.params.get("text"))], timeout=30, what="the failure DM")
    assert "Slack said `file_uploads_disabled`" in told[0].params["text"]
    assert "run `socialdesk export` on the server" in told[0].params["text"]
