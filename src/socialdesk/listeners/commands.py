"""The `/social` slash command."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, Respond

from socialdesk.listeners.deps import Deps
from socialdesk.slack.text import escape

HELP = (
    "*socialdesk* — social posts as cases you can work from Slack.\n"
    "• `/social help` — this message\n"
    "Cards for new posts appear in the channels named by the rules "
    "(`socialdesk rules list` on the server). On a card: *Claim* takes the case, *Reply* answers "
    "publicly as the brand, *Note* adds an internal note, *Resolve* closes it; the ⋯ menu assigns, "
    "ignores, tags or opens the post. The card's thread holds the case's history."
)


def register(app: App, deps: Deps) -> None:
    @app.command("/social")
    def social(ack: Ack, command: dict[str, Any], respond: Respond) -> None:
        words = (command.get("text") or "").split()
        if not words or words[0].lower() == "help":
            ack(response_type="ephemeral", text=HELP)
            return
        ack(
            response_type="ephemeral",
            text=f"`/social {escape(words[0][:40])}` is not a command socialdesk knows yet.\n\n{HELP}",
        )
