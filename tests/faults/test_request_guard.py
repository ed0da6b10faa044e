"""Requests that are not Slack's, or that Slack sent once already, through the running app."""

from __future__ import annotations

import time
import uuid
from urllib.parse import urlencode

import httpx
import pytest

from tests.support.app_process import AppProcess
from tests.support.slack_signing import FORM, JSON, new_trigger_id, post_signed, sign, slash_command_body


def rules_add(app, emu, text: str, channel: str) -> bytes:
    return slash_command_body(command="/social", text=f"rules add {text}", user_id=emu.users["mia"],
                              user_name="mia", channel_id=channel, team_id=emu.team_id, trigger_id=new_trigger_id())


def post(url: str, body: bytes, headers: dict[str, str], content_type: str = FORM) -> httpx.Response:
    return httpx.post(url, content=body, headers={"Content-Type": content_type, **headers}, timeout=10)


@pytest.mark.both_databases  # replicas share what they have seen through the database
def test_the_same_signed_command_sent_three_times_makes_one_rule(app, slack_emulator, tmp_path):
    emu = slack_emulator
    channel = emu.new_channel("replay")
    replica = AppProcess(env=dict(app.env), log_path=tmp_path / "replica.log")
    app.start()
    replica.start()
    try:
        body = rules_add(app, emu, "acme refund every:120", channel)
        headers = sign(body, app.signing_secret)
        first = post(app.events_url, body, headers)
        assert first.status_code == 200 and first.json()["text"].startswith("Rule 1 added"), first.text
        again = post(app.events_url, body, headers)
        elsewhere = post(replica.events_url, body, headers)  # another replica, the same database
        assert (again.status_code, again.content) == (200, b"")
        assert (elsewhere.status_code, elsewhere.content) == (200, b"")
        # The same command typed again is a new request from Slack (a new timestamp and signature).
        time.sleep(1.1)
        retyped = post_signed(app.events_url, rules_add(app, emu, "acme broken", channel), app.signing_secret, FORM)
        assert retyped.json()["text"].startswith("Rule 2 added")
        listing = app.cli("rules", "list").stdout
        assert listing.count("acme refund") == 1 and listing.count("acme broken") == 1
        assert "dropped a replayed request" in app.log() and "dropped a replayed request" in replica.log()
    finally:
        replica.stop()


def test_requests_that_are_not_slacks_or_malformed_get_a_clear_answer(app, slack_emulator):
    emu = slack_emulator
    app.start()
    secret = app.signing_secret
    junk = b"\x00\xffjunk-" + uuid.uuid4().hex.encode()

    unsigned = post(app.events_url, junk, {}, "application/octet-stream")
    assert (unsigned.status_code, unsigned.text) == (401, "no X-Slack-Request-Timestamp\n")
    forged = post(app.events_url, b"command=%2Fsocial&text=rules+add+x", sign(b"other", secret))
    assert forged.status_code == 401 and "does not match" in forged.text

    body = rules_add(app, emu, "acme", emu.new_channel("guard"))
    stale = post(app.events_url, body, sign(body, secret, int(time.time()) - 6 * 60))
    assert stale.status_code == 401 and "older than 5 minutes" in stale.text
    not_a_time = post(app.events_url, body, {**sign(body, secret), "X-Slack-Request-Timestamp": "yesterday"})
    assert not_a_time.status_code == 401 and "not a number" in not_a_time.text

    text_body = b"rules add acme"
    plain = post(app.events_url, text_body, sign(text_body, secret), "text/plain")
    assert plain.status_code == 400 and "neither application/x-www-form-urlencoded nor application/json" in plain.text
    bad_payload = urlencode({"payload": "{not json"}).encode()
    broken = post(app.events_url, bad_payload, sign(bad_payload, secret))
    assert broken.status_code == 400 and "`payload` is not a JSON object" in broken.text
    not_object = b"[\"event_callback\"]"
    listed = post(app.events_url, not_object, sign(not_object, secret), JSON)
    assert listed.status_code == 400 and "not a JSON object" in listed.text

    oversized = b"payload=" + b"x" * (300 * 1024)
    too_big = post(app.events_url, oversized, sign(oversized, secret))
    assert too_big.status_code == 413 and "over the 262144 byte limit" in too_big.text

    assert post_signed(app.events_url, body, secret, FORM).json()["text"].startswith("Rule 1 added")
    log = app.log()
    assert "Traceback" not in log and " 500 " not in log and "ERROR" not in log
    assert log.count("socialdesk.slack.verify: refused a request") == 8
    assert secret not in log and "junk-" not in log and "rules add acme" not in log
    assert app.cli("rules", "list").stdout.count("acme") == 1
