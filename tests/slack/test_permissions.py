"""Who may reply, read from Slack (the emulator; user groups from a proxy, which the emulator lacks)."""

from __future__ import annotations

import uuid

import pytest
from slack_sdk import WebClient

from socialdesk.slack.permissions import ReplyPermissions
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
