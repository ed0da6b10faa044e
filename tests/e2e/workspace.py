"""Acting in Slack as agents would: signed clicks and modal submissions to the running app."""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode

import httpx

from socialdesk.slack import ids
from tests.e2e.helpers import case_id_of, cards
from tests.support.slack_signing import (
    FORM,
    block_actions_body,
    post_signed,
    view_closed_body,
    view_submission_body,
)
from tests.support.waiting import wait_for


@dataclass
class Workspace:
    app: object
    emu: object
    proxy: object
    channel: str

    def uid(self, user: str) -> str:
        return self.emu.users[user]

    def cards(self) -> list[dict]:
        return cards(self.emu, self.channel)

    def card(self, case_id: int) -> dict:
        return next(c for c in self.cards() if case_id_of(c) == case_id)

    def click(self, user: str, card: dict, action_id: str, value: str | None = None,
              action_type: str = "button", message: dict | None = None) -> httpx.Response:
        body = block_actions_body(
            user_id=self.uid(user), user_name=user, team_id=self.emu.team_id, channel_id=self.channel,
            message_ts=(message or card)["ts"], action_id=action_id, value=value or str(case_id_of(card)),
            trigger_id=self.emu.trigger_id(user), message=message or card, action_type=action_type,
        )
        response = post_signed(self.app.events_url, body, self.app.signing_secret, FORM)
        assert response.status_code == 200, response.text
        return response

    def click_in_modal(self, user: str, view: dict, action_id: str, value: str, block_id: str = "b") -> httpx.Response:
        """A button inside an open modal: the view is the container (Slack sends no channel or message)."""
        body = json.loads(parse_qs(block_actions_body(
            user_id=self.uid(user), user_name=user, team_id=self.emu.team_id, channel_id="", message_ts="",
            action_id=action_id, value=value, block_id=block_id, trigger_id=self.emu.trigger_id(user),
        ).decode())["payload"][0])
        for key in ("channel", "message", "response_url"):
            body.pop(key, None)
        body |= {"container": {"type": "view", "view_id": view["id"]}, "view": dict(view, state={"values": {}})}
        response = post_signed(self.app.events_url, urlencode({"payload": json.dumps(body)}).encode(),
                               self.app.signing_secret, FORM)
        assert response.status_code == 200, response.text
        return response

    def opened_view(self, count_before: int, callback_id: str) -> dict:
        """The modal the app opened (as views.open answered) after `count_before` opens."""
        def found():
            opened = [c for c in self.proxy.calls_to("views.open")[count_before:] if c.response.get("ok")]
            return [c.response["view"] for c in opened if c.response["view"].get("callback_id") == callback_id]
        return wait_for(found, timeout=10, what=f"the {callback_id} modal")[-1]

    def views_opened(self) -> int:
        return len(self.proxy.calls_to("views.open"))

    def submit(self, user: str, view: dict, values: dict) -> httpx.Response:
        body = view_submission_body(user_id=self.uid(user), user_name=user, team_id=self.emu.team_id,
                                    view=view, values=values)
        return post_signed(self.app.events_url, body, self.app.signing_secret, FORM)

    def close(self, user: str, view: dict) -> httpx.Response:
        body = view_closed_body(user_id=self.uid(user), user_name=user, team_id=self.emu.team_id, view=view)
        return post_signed(self.app.events_url, body, self.app.signing_secret, FORM)

    def resolve(self, user: str, card: dict, outcome: str = "answered") -> httpx.Response:
        """Resolve from the card: the Resolve button, then the modal's outcome submitted."""
        before = self.views_opened()
        self.click(user, card, ids.RESOLVE)
        return self.submit(user, self.opened_view(before, ids.RESOLVE_MODAL), outcome_value(outcome))

    def thread(self, card: dict) -> list[dict]:
        return self.emu.replies(self.channel, card["ts"])[1:]

    def thread_texts(self, card: dict) -> list[str]:
        return [m.get("text", "") for m in self.thread(card)]

    def ephemerals(self) -> list[str]:
        return self.emu.ephemeral_texts(self.channel)


def outcome_value(outcome: str) -> dict:
    """The resolve modal's choice, as in view.state.values."""
    return {ids.OUTCOME_INPUT: {ids.OUTCOME_INPUT: {"type": "static_select", "selected_option": {"value": outcome}}}}


def text_value(block_id: str, action_id: str, value: str) -> dict:
    return {block_id: {action_id: {"type": "plain_text_input", "value": value}}}


def input_block_id(view: dict, prefix: str) -> str:
    return next(b["block_id"] for b in view["blocks"] if b.get("block_id", "").startswith(prefix))
