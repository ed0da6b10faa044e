"""The test-side Slack request builder signs and shapes requests as Slack does."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from slack_bolt.request import BoltRequest
from slack_bolt.request import payload_utils as bolt_payload
from slack_sdk.signature import Clock, SignatureVerifier

from tests.support import slack_signing as ss

SECRET = "test-signing-secret"
JAVA = "java-slack-sdk-json-logs-samples"


class FixedClock(Clock):
    def __init__(self, now: float) -> None:
        self._now = now

    def now(self) -> float:
        return self._now


def test_sign_matches_slacks_documented_example(slack_refs: Path) -> None:
    vector = json.loads((slack_refs / "derived/signature_test_vector.json").read_text())
    headers = ss.sign(
        vector["raw_body"].encode(), vector["signing_secret"], int(vector["x_slack_request_timestamp"])
    )
    assert headers == {
        "X-Slack-Request-Timestamp": vector["x_slack_request_timestamp"],
        "X-Slack-Signature": vector["expected_x_slack_signature"],
    }


def test_slack_sdk_verifier_accepts_our_signatures() -> None:
    body = ss.event_callback_body(event=ss.app_home_opened_event(user_id="U1"), event_id="Ev1", team_id="T1")
    headers = ss.sign(body, SECRET, timestamp=1_700_000_000)
    ts, sig = headers["X-Slack-Request-Timestamp"], headers["X-Slack-Signature"]
    verifier = SignatureVerifier(SECRET, clock=FixedClock(1_700_000_000 + 60))
    assert verifier.is_valid(body, ts, sig)
    assert not verifier.is_valid(body + b" ", ts, sig)
    assert not SignatureVerifier("other-secret", clock=FixedClock(1_700_000_060)).is_valid(body, ts, sig)
    # Outside Slack's 5-minute replay window.
    assert not SignatureVerifier(SECRET, clock=FixedClock(1_700_000_000 + 301)).is_valid(body, ts, sig)


def test_sign_defaults_to_now() -> None:
    headers = ss.sign(b"x", SECRET)
    assert SignatureVerifier(SECRET).is_valid(b"x", headers["X-Slack-Request-Timestamp"], headers["X-Slack-Signature"])


def _bolt(body: bytes) -> BoltRequest:
    return BoltRequest(body=body.decode(), headers=ss.sign(body, SECRET))


def _keys(path: Path) -> set[str]:
    return set(json.loads(path.read_text()))


def test_block_actions_body(slack_refs: Path) -> None:
    message = {"type": "message", "ts": "1.2", "text": "card", "blocks": []}
    body = ss.block_actions_body(
        user_id="U1", user_name="alice", team_id="T1", channel_id="C1", message_ts="1.2",
        action_id="case_claim", value="42", trigger_id="t.1", message=message,
    )
    assert body.startswith(b"payload=")
    payload = json.loads(parse_qs(body.decode())["payload"][0])
    assert bolt_payload.is_block_actions(payload)
    assert bolt_payload.to_action(payload) == payload["actions"][0]
    assert payload["actions"][0]["value"] == "42"
    assert payload["message"] == message
    # Every field of the bolt recording, and none Slack was never seen to send.
    assert _keys(slack_refs / "bolt-python-payloads/block_actions.json") <= payload.keys()
    java = slack_refs / JAVA / "app-backend/interactive-components/BlockActionPayload.json"
    assert payload.keys() <= _keys(java)

    overflow = ss.block_actions_body(
        user_id="U1", user_name="alice", team_id="T1", channel_id="C1", message_ts="1.2",
        action_id="case_more", value="ignore", trigger_id="t.1", action_type="overflow",
    )
    action = json.loads(parse_qs(overflow.decode())["payload"][0])["actions"][0]
    assert action["selected_option"]["value"] == "ignore" and "value" not in action


def test_slash_command_body(slack_refs: Path) -> None:
    body = ss.slash_command_body(
        command="/social", text="case 42 & more", user_id="U1", user_name="alice",
        channel_id="C1", team_id="T1", trigger_id="t.1",
    )
    req = _bolt(body)
    assert bolt_payload.is_slash_command(req.body)
    assert req.body["command"] == "/social" and req.body["text"] == "case 42 & more"
    recorded = _keys(slack_refs / "bolt-python-payloads/slash_command_parsed.json")
    assert recorded - {"enterprise_id", "enterprise_name"} <= req.body.keys()
    assert req.body.keys() <= _keys(slack_refs / JAVA / "app-backend/slash-commands/SlashCommandPayload.json")


def test_view_submission_and_closed_bodies(slack_refs: Path) -> None:
    values = {"note": {"note_input": {"type": "plain_text_input", "value": "hello"}}}
    view = {"id": "V1", "callback_id": "case_note", "private_metadata": "42"}
    submitted = _bolt(ss.view_submission_body(user_id="U1", user_name="alice", team_id="T1", view=view, values=values))
    assert bolt_payload.is_view_submission(submitted.body)
    assert submitted.body["view"]["state"]["values"] == values
    assert submitted.body["view"]["callback_id"] == "case_note"
    recorded = json.loads((slack_refs / "bolt-python-payloads/view_submission.json").read_text())
    assert recorded.keys() <= submitted.body.keys()
    assert recorded["view"].keys() <= submitted.body["view"].keys()

    closed = _bolt(ss.view_closed_body(user_id="U1", user_name="alice", team_id="T1", view=view))
    assert bolt_payload.is_view_closed(closed.body)
    assert closed.body.keys() <= _keys(slack_refs / JAVA / "app-backend/views/ViewClosedPayload.json")


def test_event_callback_body(slack_refs: Path) -> None:
    body = ss.event_callback_body(event=ss.app_home_opened_event(user_id="U1"), event_id="Ev1", team_id="T1")
    req = _bolt(body)
    assert bolt_payload.is_event(req.body)
    assert bolt_payload.is_app_home_opened_event(req.body)
    assert req.body.keys() <= _keys(slack_refs / JAVA / "events/AppHomeOpenedPayload.json")
    recorded = _keys(slack_refs / "bolt-python-payloads/app_home_opened_event_callback.json")
    assert recorded - {"enterprise_id"} <= req.body.keys()
