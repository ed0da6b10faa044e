"""slack.names: Slack ids shown as "@alice", through users.info on the emulator (behind the
recording proxy, which counts the calls and can make Slack fail)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from slack_sdk import WebClient

from socialdesk.slack.names import SlackNames
from tests.support.ports import free_port
from tests.support.slack_proxy import SlackProxy


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def proxy(slack_emulator) -> Iterator[SlackProxy]:
    with SlackProxy(slack_emulator.url) as running:
        yield running


def names_through(proxy: SlackProxy, slack_emulator, **kwargs) -> SlackNames:  # type: ignore[no-untyped-def]
    return SlackNames(WebClient(token=slack_emulator.token, base_url=proxy.url, timeout=5), **kwargs)


def asked(proxy: SlackProxy) -> list[str]:
    return [c.params.get("user") for c in proxy.calls_to("users.info")]


def test_a_person_is_named_once_and_anything_else_is_left_as_it_is(proxy, slack_emulator):
    names = names_through(proxy, slack_emulator)
    alice, bob = slack_emulator.users["alice"], slack_emulator.users["bob"]
    assert [names(alice), names(bob), names(alice), names.name(alice)] == ["@alice", "@bob", "@alice", "@alice"]
    assert asked(proxy) == [alice, bob]  # cached: one users.info per person
    assert [names("system"), names("cli:root"), names(""), names(None), names("u0lower")] == [
        "system", "cli:root", "", None, "u0lower"]
    assert asked(proxy) == [alice, bob]  # not Slack ids: nobody was asked
    assert SlackNames(None).name(alice) == alice  # no Slack client (the CLI without a token): ids


def test_someone_slack_does_not_know_keeps_their_id_and_is_not_asked_again(proxy, slack_emulator):
    names = names_through(proxy, slack_emulator)
    assert names("U0NOBODY01") == "U0NOBODY01" and names("U0NOBODY01") == "U0NOBODY01"
    assert asked(proxy) == ["U0NOBODY01"]


def test_the_table_is_bounded_and_names_are_asked_again_after_the_ttl(proxy, slack_emulator):
    clock = Clock()
    names = names_through(proxy, slack_emulator, size=2, ttl=600, clock=clock)
    alice, bob, carol = (slack_emulator.users[n] for n in ("alice", "bob", "carol"))
    names(alice), names(bob), names(alice), names(carol)  # bob is the least recently used: he goes
    assert len(names) == 2 and asked(proxy) == [alice, bob, carol]
    names(alice), names(bob)
    assert asked(proxy) == [alice, bob, carol, bob]
    clock.now += 601
    assert names(bob) == "@bob" and asked(proxy)[-1] == bob  # asked again: a rename shows within the TTL


def test_when_slack_fails_the_id_is_shown_and_slack_is_left_alone_for_a_while(proxy, slack_emulator):
    clock = Clock()
    names = names_through(proxy, slack_emulator, ttl=600, pause=60, clock=clock)
    alice, bob, carol = (slack_emulator.users[n] for n in ("alice", "bob", "carol"))
    assert names(alice) == "@alice"
    proxy.answer("users.info", {"ok": False, "error": "ratelimited"})
    clock.now += 601  # alice's name is stale
    assert names(bob) == bob  # Slack failed: the id
    assert names(carol) == carol and names(alice) == "@alice"  # the pause: not asked; a stale name beats an id
    assert asked(proxy) == [alice, bob]
    clock.now += 61
    assert names(carol) == carol and asked(proxy) == [alice, bob, carol]  # asked again after the pause


def test_slack_out_of_reach_gives_the_id(slack_emulator):
    names = SlackNames(WebClient(token=slack_emulator.token, base_url=f"http://127.0.0.1:{free_port()}/api/", timeout=2))
    assert names(slack_emulator.users["alice"]) == slack_emulator.users["alice"]


def test_a_cache_needs_room():
    with pytest.raises(ValueError, match="at least one name"):
        SlackNames(None, size=0)


def test_a_bot_an_app_or_someone_slack_does_not_know_is_not_a_person(proxy, slack_emulator):
    names = names_through(proxy, slack_emulator)
    assert names.is_person(slack_emulator.users["alice"]) is True
    assert names.is_person(slack_emulator.bot_user_id) is False
    assert names.is_person("U0NOBODY99") is False  # user_not_found
    assert names.is_person("cli:root") is None  # not a Slack id: nothing to say
    calls = len(proxy.calls_to("users.info"))
    assert names.name(slack_emulator.users["alice"]).startswith("@") and len(proxy.calls_to("users.info")) == calls
