"""`/social` through the running app: Slack expects the answer in the HTTP response."""

from __future__ import annotations

from tests.support.slack_signing import FORM, new_trigger_id, post_signed, slash_command_body


def social(app, slack_emulator, text: str):
    body = slash_command_body(command="/social", text=text, user_id=slack_emulator.users["alice"], user_name="alice",
                              channel_id=slack_emulator.channels["social-care"], team_id=slack_emulator.team_id,
                              trigger_id=new_trigger_id())
    return post_signed(app.events_url, body, app.signing_secret, FORM)


def test_help_and_unknown_subcommands_answer_privately(app, slack_emulator):
    app.start()
    help_reply = social(app, slack_emulator, "help")
    assert help_reply.status_code == 200
    assert help_reply.json()["response_type"] == "ephemeral"
    assert "`/social help`" in help_reply.json()["text"]
    assert social(app, slack_emulator, "").json()["text"] == help_reply.json()["text"]
    unknown = social(app, slack_emulator, "<!channel> frobnicate").json()
    assert unknown["response_type"] == "ephemeral"
    assert unknown["text"].startswith("`/social &lt;!channel&gt;` is not a command socialdesk knows yet.")


def test_a_subcommand_followed_by_help_answers_its_own_help(app, slack_emulator):
    app.start()
    for asked, first_line in (("digest help", "• `/social digest now"), ("webhooks --help", "• `/social webhooks`"),
                              ("search help", "• `/social search <text>`"), ("help stats", "• `/social stats")):
        reply = social(app, slack_emulator, asked).json()
        assert reply["response_type"] == "ephemeral"
        assert reply["text"].startswith(first_line), (asked, reply["text"])
        assert reply["text"].endswith("`/social help` lists every command."), (asked, reply["text"])
