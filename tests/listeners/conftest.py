"""Listener handlers called in this process: a real database (SQLite and PostgreSQL), the Slack
emulator's Web API, cards published by the real publisher. Handlers are the module-level
functions `register()` binds; here their work runs at once (`run_now`), so a test reads the
outcome right after the call. How Bolt acks and hands work on is tested in test_binding.py."""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

import pytest
from sqlalchemy import Engine
from sqlmodel import select

from socialdesk.app import Socialdesk
from socialdesk.jobs.publish import Publisher
from socialdesk.listeners.binding import run_now
from socialdesk.listeners.deps import Deps
from socialdesk.slack import ids
from socialdesk.store import ingest
from socialdesk.store.db import read_scope, session_scope
from socialdesk.store.models import CaseEventRow, CaseRow
from tests.support.db import engine  # noqa: F401  (fixture: SQLite and PostgreSQL)
from tests.support.factories import x_post
from tests.support.in_process import make_desk, url_of
from tests.support.slack_proxy import SlackProxy
from tests.support.slack_signing import block_actions_body, new_trigger_id, view_submission_body

SECRET = f"listener-tests-{uuid.uuid4().hex}"


@pytest.fixture
def slack_proxy(slack_emulator) -> Iterator[SlackProxy]:
    """In front of the emulator: records the app's Web API calls (views.open answers the opened modal)."""
    with SlackProxy(slack_emulator.url) as proxy:
        yield proxy


@pytest.fixture
def desk_settings() -> dict[str, str]:
    """Extra settings for `desk` (SOCIALDESK_… names); a test module overrides this fixture."""
    return {}


@pytest.fixture
def desk(engine: Engine, slack_proxy: SlackProxy, desk_settings: dict[str, str]) -> Iterator[Socialdesk]:
    built = make_desk(url_of(engine), slack_proxy.url, secret=SECRET,
                      **({"SOCIALDESK_TAGS": "battery,screen,billing"} | desk_settings))
    yield built
    built.close(grace=5)


@pytest.fixture
def deps(desk: Socialdesk) -> Deps:
    assert desk.deps is not None
    return dataclasses.replace(desk.deps, later=run_now)


@pytest.fixture
def channel(slack_emulator) -> str:
    return slack_emulator.new_channel("listen")


def publish_cases(desk: Socialdesk, channel: str, texts: list[str]) -> list[int]:
    """Cases for `texts`, their cards posted by the publisher; the case ids, in order."""
    with session_scope(desk.engine) as session:
        case_ids = ingest.store_posts(session=session, posts=[x_post(t, handle=f"cust{n}") for n, t in enumerate(texts)],
                                      rule_id=None, channel_id=channel, now=datetime.now(UTC))
    Publisher(engine=desk.engine, slack=desk.slack, clock=lambda: datetime.now(UTC), post_interval=0).run_once()
    return case_ids


def card_of(slack_emulator, channel: str, case_id: int) -> dict:
    for message in slack_emulator.history(channel):
        if ((message.get("metadata") or {}).get("event_payload") or {}).get("case_id") == case_id:
            return message
    raise AssertionError(f"no card for case {case_id} in {channel}")


def payload(form: bytes) -> dict[str, Any]:
    """A form-encoded interactivity request as the dict Bolt hands a listener (`body`)."""
    return json.loads(parse_qs(form.decode())["payload"][0])


def click(slack_emulator, *, user: str, channel: str, card: dict, action_id: str, value: str,
          action_type: str = "button", trigger_id: str | None = None) -> dict[str, Any]:
    return payload(block_actions_body(
        user_id=slack_emulator.users[user], user_name=user, team_id=slack_emulator.team_id, channel_id=channel,
        message_ts=card["ts"], action_id=action_id, value=value, message=card, action_type=action_type,
        trigger_id=trigger_id or slack_emulator.trigger_id(user)))


def submission(slack_emulator, *, user: str, view: dict, values: dict | None = None) -> dict[str, Any]:
    return payload(view_submission_body(user_id=slack_emulator.users[user], user_name=user,
                                        team_id=slack_emulator.team_id, view=view, values=values))


class Acks:
    """Stands in for Bolt's `ack`: what the handler answered Slack with."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def __call__(self, **answer: Any) -> None:
        self.calls.append(answer)

    @property
    def only(self) -> dict[str, Any]:
        assert len(self.calls) == 1, f"acked {len(self.calls)} times: {self.calls}"
        return self.calls[0]


class AcksWatching(Acks):
    """`Acks` that also notes how many calls to `method` the app had made when it acked (an ack must not wait on Slack)."""

    def __init__(self, proxy: SlackProxy, method: str) -> None:
        super().__init__()
        self._proxy, self._method = proxy, method
        self.calls_before: list[int] = []

    def __call__(self, **answer: Any) -> None:
        self.calls_before.append(len(self._proxy.calls_to(self._method)))
        super().__call__(**answer)


def told(slack_proxy: SlackProxy, user_id: str) -> list[str]:
    """What the app told `user_id` on its own: ephemeral messages, or DMs where it could not post one."""
    return [c.params.get("text", "") for method, to in (("chat.postEphemeral", "user"), ("chat.postMessage", "channel"))
            for c in slack_proxy.calls_to(method) if c.params.get(to) == user_id and c.response.get("ok")]


class Responses:
    """Stands in for Bolt's `respond` (the response_url): what the handler sent through it."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def __call__(self, **message: Any) -> None:
        self.calls.append(message)

    @property
    def only(self) -> dict[str, Any]:
        assert len(self.calls) == 1, f"responded {len(self.calls)} times: {self.calls}"
        return self.calls[0]


def case_row(deps: Deps, case_id: int) -> CaseRow:
    with read_scope(deps.engine) as session:
        return session.get(CaseRow, case_id)


def event_kinds(deps: Deps, case_id: int) -> list[tuple[str, str]]:
    """The case's history as (kind, actor), oldest first."""
    with read_scope(deps.engine) as session:
        rows = session.exec(select(CaseEventRow).where(CaseEventRow.case_id == case_id).order_by(CaseEventRow.id))
        return [(r.kind, r.actor) for r in rows]


def opened_views(slack_proxy: SlackProxy, callback_id: str | None = None) -> list[dict]:
    """The modals the app opened (as views.open answered them), oldest first."""
    views = [c.response["view"] for c in slack_proxy.calls_to("views.open") if c.response.get("ok")]
    return [v for v in views if callback_id is None or v.get("callback_id") == callback_id]


def published_homes(slack_proxy: SlackProxy, user_id: str) -> list[dict]:
    """The Home views published for `user_id` (as Slack answered them), oldest first."""
    return [c.response["view"] for c in slack_proxy.calls_to("views.publish")
            if c.params.get("user_id") == user_id and c.response.get("ok")]


def sent_texts(slack_proxy: SlackProxy, method: str, **match: str) -> list[str]:
    """Texts the app sent with `method` (chat.postMessage, chat.postEphemeral…) whose params match."""
    return [c.params.get("text", "") for c in slack_proxy.calls_to(method)
            if all(c.params.get(k) == v for k, v in match.items())]


def card_updates(slack_proxy: SlackProxy, card: dict) -> list[dict]:
    """chat.update calls that redrew `card` (params as sent)."""
    return [c.params for c in slack_proxy.calls_to("chat.update") if c.params.get("ts") == card["ts"]]


def text_input(block_id: str, value: str, action_id: str | None = None) -> dict:
    """A plain_text_input's submitted state, as in view.state.values."""
    return {block_id: {action_id or block_id: {"type": "plain_text_input", "value": value}}}


def input_block(view: dict) -> dict:
    return next(b for b in view["blocks"] if b.get("block_id", "").startswith(ids.REPLY_INPUT))


def in_modal(slack_emulator, view: dict, action: dict, values: dict, user: str = "alice") -> dict:
    """A block_actions payload from inside a modal: the view is the container, its state the values now."""
    body = payload(block_actions_body(
        user_id=slack_emulator.users[user], user_name=user, team_id=slack_emulator.team_id, channel_id="",
        message_ts="", action_id=action["action_id"], value="", trigger_id=new_trigger_id()))
    for key in ("channel", "message", "response_url"):  # a modal's payload has none of them
        body.pop(key, None)
    return body | {"container": {"type": "view", "view_id": view["id"]},
                   "view": dict(view, state={"values": values}), "actions": [action]}


def redrawn(slack_proxy) -> dict:
    """The last view the emulator took from views.update."""
    [*_, last] = [c for c in updates(slack_proxy) if c.response.get("ok")]
    return last.response["view"]


def updates(slack_proxy) -> list:
    return slack_proxy.calls_to("views.update")


def case_metadata(case_id: object, **extra: object) -> str:
    return json.dumps({"case_id": case_id, **extra})


__all__ = ["Acks", "Responses", "card_of", "card_updates", "case_metadata", "case_row", "click", "event_kinds",
           "in_modal", "input_block", "new_trigger_id", "opened_views", "publish_cases", "published_homes", "redrawn",
           "sent_texts", "submission", "text_input", "updates"]
