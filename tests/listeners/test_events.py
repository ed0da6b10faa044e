"""Events API (listeners.events), called in-process: a delivery Slack retried is handled once.

`events.register` binds `once(home.home_opened)` for app_home_opened; that is what is called
here, with bodies as Bolt hands them over. The faults suite retries one event through the
running app; here are the event ids that can't be told apart, and the events that are not ours.
"""

from __future__ import annotations

from sqlmodel import select

from socialdesk.listeners import events, home
from socialdesk.store.db import read_scope
from socialdesk.store.models import SlackEventRow
from tests.listeners.conftest import published_homes

home_opened = events.once(home.home_opened)


def delivery(slack_emulator, event_id: object, *, user: object = "alice", tab: str | None = "home") -> dict:
    event = {"type": "app_home_opened", "user": slack_emulator.users.get(user, user) if isinstance(user, str) else user, "channel": "D0HOME"}
    if tab is not None:
        event["tab"] = tab
    body = {"type": "event_callback", "team_id": slack_emulator.team_id, "event": event}
    return body if event_id is None else body | {"event_id": event_id}


def remembered(deps) -> list[str]:
    with read_scope(deps.engine) as session:
        return sorted(session.exec(select(SlackEventRow.event_id)))


def test_a_retried_event_is_handled_once_and_another_event_again(desk, deps, slack_emulator, slack_proxy):
    alice = slack_emulator.users["alice"]
    for event_id in ("Ev0AAA1", "Ev0AAA1", "Ev0AAA1", "Ev0BBB2"):
        home_opened(delivery(slack_emulator, event_id), desk.slack, deps=deps)
    assert len(published_homes(slack_proxy, alice)) == 2
    assert remembered(deps) == ["Ev0AAA1", "Ev0BBB2"]
    assert home_opened.__name__ == "home_opened"  # Bolt's logs name the listener


def test_an_event_without_a_usable_id_is_handled_every_time_and_not_stored(desk, deps, slack_emulator, slack_proxy):
    alice = slack_emulator.users["alice"]
    for event_id in (None, "", "E" * 65, 12345, ["Ev1"]):
        home_opened(delivery(slack_emulator, event_id), desk.slack, deps=deps)
        home_opened(delivery(slack_emulator, event_id), desk.slack, deps=deps)
    assert len(published_homes(slack_proxy, alice)) == 10
    assert remembered(deps) == []
    home_opened(delivery(slack_emulator, "E" * 64), desk.slack, deps=deps)  # the longest id the column keeps
    home_opened(delivery(slack_emulator, "E" * 64), desk.slack, deps=deps)
    assert len(published_homes(slack_proxy, alice)) == 11 and remembered(deps) == ["E" * 64]


def test_an_event_for_another_tab_or_without_a_user_publishes_nothing(desk, deps, slack_emulator, slack_proxy):
    home_opened(delivery(slack_emulator, "Ev0MSG1", tab="messages"), desk.slack, deps=deps)
    home_opened(delivery(slack_emulator, "Ev0MSG2", tab="about"), desk.slack, deps=deps)
    home_opened(delivery(slack_emulator, "Ev0NOUSER", user=None), desk.slack, deps=deps)
    home_opened(delivery(slack_emulator, "Ev0LIST", user=["U1", "U2"]), desk.slack, deps=deps)
    assert slack_proxy.calls_to("views.publish") == []
    # Older clients send no tab at all: that is the Home.
    home_opened(delivery(slack_emulator, "Ev0NOTAB", tab=None), desk.slack, deps=deps)
    assert len(published_homes(slack_proxy, slack_emulator.users["alice"])) == 1
