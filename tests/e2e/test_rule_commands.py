"""`/social rules …` through the running app: anyone lists, admins add, pause, resume and remove."""

from __future__ import annotations

from tests.support.slack_signing import FORM, new_trigger_id, post_signed, slash_command_body


def social(app, emu, text: str, *, channel: str, user: str) -> str:
    body = slash_command_body(command="/social", text=text, user_id=emu.users[user], user_name=user,
                              channel_id=channel, team_id=emu.team_id, trigger_id=new_trigger_id())
    response = post_signed(app.events_url, body, app.signing_secret, FORM)
    assert response.status_code == 200, response.text
    reply = response.json()
    assert reply["response_type"] == "ephemeral"
    shown = [b["text"]["text"] for b in reply.get("blocks") or [] if "text" in b]
    return "\n".join(shown) if shown else reply["text"]


def cli_rules(app) -> str:
    return app.cli("rules", "list").stdout


def test_admin_manages_rules_with_the_slash_command(app, slack_emulator):
    emu = slack_emulator
    channel, other = emu.new_channel("rulescmd"), emu.new_channel("rulesother")
    other_name = next(name for name, cid in emu.channels.items() if cid == other)
    app.start()

    assert "No rules yet" in social(app, emu, "rules", channel=channel, user="alice")

    added = social(app, emu, 'rules add @acme OR "acme phone" every:120', channel=channel, user="mia")
    assert added.startswith("Rule 1 added: X search `@acme OR \"acme phone\"`") and f"<#{channel}>" in added
    listing = cli_rules(app)
    assert '@acme OR "acme phone"' in listing and channel in listing and "120s" in listing

    to_other = social(app, emu, f"rules add acme <refund> channel:#{other_name}", channel=channel, user="mia")
    assert to_other.startswith("Rule 2 added") and "`acme &lt;refund&gt;`" in to_other and f"<#{other}>" in to_other
    linked = social(app, emu, f"rules add kind:mentions user:42 channel:<#{other}|{other_name}>", channel=channel,
                    user="mia")
    assert linked.startswith("Rule 3 added: X mentions `user:42`")
    listing = cli_rules(app)
    assert "acme <refund>" in listing and other in listing and "user:42" in listing

    on_bluesky = social(app, emu, 'rules add network:bluesky acme (refund OR "broken screen") -giveaway',
                        channel=channel, user="mia")
    assert on_bluesky.startswith("Rule 4 added: Bluesky search") and "giveaway" in on_bluesky
    # Bluesky rules are matched by socialdesk: a query its language cannot read is refused at once.
    unbalanced = social(app, emu, "rules add network:bluesky acme (refund", channel=channel, user="mia")
    assert "never closed" in unbalanced and "Usage" in unbalanced
    unknown = social(app, emu, "rules add network:myspace acme", channel=channel, user="mia")
    assert "unknown network 'myspace'" in unknown and "bluesky" in unknown
    listing = cli_rules(app)
    assert "bluesky" in listing and 'acme (refund OR "broken screen") -giveaway' in listing

    everyone = social(app, emu, "rules", channel=channel, user="alice")
    assert "*Rule 1*" in everyone and "*Rule 2*" in everyone and "&lt;refund&gt;" in everyone

    assert social(app, emu, "rules pause 1", channel=channel, user="mia") == "Rule 1 paused: it polls no more until resumed."
    assert "paused" in cli_rules(app).splitlines()[1]
    assert social(app, emu, "rules resume 1", channel=channel, user="mia").startswith("Rule 1 resumed")
    assert " ok " in cli_rules(app).splitlines()[1]  # its state again (socialdesk.health)
    assert social(app, emu, "rules remove 2", channel=channel, user="mia") == "Rule 2 removed; its cases stay."
    assert "acme <refund>" not in cli_rules(app)
    assert social(app, emu, "rules pause 2", channel=channel, user="mia").startswith("There is no rule 2")


def test_non_admins_are_refused_and_malformed_input_gets_usage(app, slack_emulator):
    emu = slack_emulator
    channel = emu.new_channel("rulesbad")
    app.start()

    for text in ("rules add acme", "rules pause 1", "rules remove 1"):
        assert social(app, emu, text, channel=channel, user="alice").startswith("Only socialdesk admins")
    assert "no rules yet" in cli_rules(app)

    def usage(text: str) -> str:
        reply = social(app, emu, text, channel=channel, user="mia")
        assert "Usage: `/social rules" in reply, reply
        return reply

    assert "Give the words to search for." in usage("rules add")
    assert "`every:often` is not a number of seconds" in usage("rules add acme every:often")
    assert "minimum is 5 seconds" in usage("rules add acme every:2")
    assert "`every:` is given twice" in usage("rules add acme every:60 every:90")
    assert "unknown rule kind 'cats'" in usage("rules add acme kind:cats")
    assert "can't find the channel `#no-such-channel`" in usage("rules add acme channel:#no-such-channel")
    assert "513 characters; X accepts at most 512" in usage("rules add " + "a" * 513)
    assert "user:12345" in usage("rules add kind:mentions acme")
    assert "`abc` is not a rule number" in usage("rules pause abc")
    usage("rules resume")
    usage("rules remove 1 2")
    assert "`frobnicate` is not something" in usage("rules frobnicate")
    assert "&lt;!channel&gt;" in usage("rules <!channel>")
    assert "no rules yet" in cli_rules(app)
