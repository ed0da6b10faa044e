"""Who may reply and who is an admin, read from Slack (the emulator; user groups from a proxy, which the
emulator lacks)."""

from __future__ import annotations

import uuid

import pytest
from slack_sdk import WebClient

from socialdesk.slack.permissions import AdminCheck, ReplyPermissions
from tests.support.slack_proxy import SlackProxy


@pytest.fixture
def proxy(slack_emulator):
    with SlackProxy(slack_emulator.url) as p:
        yield p


def client(proxy) -> WebClient:
    return WebClient(token=f"xoxb-{uuid.uuid4().hex}", base_url=proxy.url)


def test_by_default_the_channels_members_may_reply(slack_emulator, proxy):
    channel = slack_emulator.new_channel("perm")
    slack_emulator.call("conversations.kick", channel=channel, user=slack_emulator.users["carol"])
    permissions = ReplyPermissions(client=client(proxy), users=frozenset(), groups=frozenset())
    assert permissions.allowed(slack_emulator.users["alice"], channel)
    assert not permissions.allowed(slack_emulator.users["carol"], channel)
    permissions.allowed(slack_emulator.users["bob"], channel)
    assert len(proxy.calls_to("conversations.members")) == 1  # cached for a minute


def test_named_users_and_group_members_only(slack_emulator, proxy):
    channel = slack_emulator.new_channel("perm2")
    proxy.answer("usergroups.users.list", {"ok": True, "users": [slack_emulator.users["bob"]]})
    permissions = ReplyPermissions(client=client(proxy), users=frozenset({slack_emulator.users["alice"]}),
                                   groups=frozenset({"S0SUPPORT"}))
    assert permissions.allowed(slack_emulator.users["alice"], channel)
    assert permissions.allowed(slack_emulator.users["bob"], channel)
    assert not permissions.allowed(slack_emulator.users["carol"], channel)  # in the channel, but not named
    assert proxy.calls_to("usergroups.users.list")[0].params["usergroup"] == "S0SUPPORT"


def test_known_answers_from_the_cache_only_for_an_hour(slack_emulator, proxy):
    """What a modal's ack may use: never a call to Slack; None where nothing is cached."""
    now = [1000.0]
    channel = slack_emulator.new_channel("perm3")
    slack_emulator.call("conversations.kick", channel=channel, user=slack_emulator.users["carol"])
    permissions = ReplyPermissions(client=client(proxy), users=frozenset(), groups=frozenset(), clock=lambda: now[0])
    alice, carol = slack_emulator.users["alice"], slack_emulator.users["carol"]
    assert permissions.known(alice, channel) is None and proxy.calls_to("conversations.members") == []
    assert permissions.allowed(alice, channel)
    now[0] += 3599  # past the minute `allowed` trusts, within the hour `known` does
    assert (permissions.known(alice, channel), permissions.known(carol, channel)) == (True, False)
    assert len(proxy.calls_to("conversations.members")) == 1
    now[0] += 2
    assert permissions.known(alice, channel) is None
    assert permissions.allowed(alice, channel) and len(proxy.calls_to("conversations.members")) == 2


def test_known_with_named_users_and_groups_needs_the_groups_cached(slack_emulator, proxy):
    proxy.answer("usergroups.users.list", {"ok": True, "users": [slack_emulator.users["bob"]]})
    permissions = ReplyPermissions(client=client(proxy), users=frozenset({slack_emulator.users["alice"]}),
                                   groups=frozenset({"S0SUPPORT"}))
    alice, bob, carol = (slack_emulator.users[n] for n in ("alice", "bob", "carol"))
    assert permissions.known(alice, "C1") is True  # named: nothing to ask
    assert (permissions.known(bob, "C1"), permissions.known(carol, "C1")) == (None, None)
    assert permissions.allowed(bob, "C1")
    assert (permissions.known(bob, "C1"), permissions.known(carol, "C1")) == (True, False)
    assert len(proxy.calls_to("usergroups.users.list")) == 1


def test_an_admin_is_known_from_the_cache_or_the_list_and_a_failed_lookup_is_not_remembered(slack_emulator, proxy,
                                                                                           caplog):
    mia, alice = slack_emulator.users["mia"], slack_emulator.users["alice"]
    check = AdminCheck(client=client(proxy), admins=frozenset({"UNAMED"}))
    assert check.known("UNAMED") is True and check.known(mia) is None and check.known(alice) is None
    assert proxy.calls_to("users.info") == []
    assert check.is_admin(mia) and not check.is_admin(alice)
    assert (check.known(mia), check.known(alice)) == (True, False)
    proxy.answer("users.info", {"ok": False, "error": "internal_error"})
    assert not check.is_admin(slack_emulator.users["bob"]) and check.known(slack_emulator.users["bob"]) is None
    said = [r.getMessage() for r in caplog.records if r.name == "socialdesk.slack.permissions"]
    assert said == [f"could not tell whether {slack_emulator.users['bob']} is a Slack admin (users.info: "
                    "internal_error); refused as not one until Slack answers"]
    assert AdminCheck(client=None, admins=frozenset()).known(mia) is False  # no Slack client: only the list
