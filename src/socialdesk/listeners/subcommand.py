"""The shape of a `/social` subcommand that lives in its own module."""

from __future__ import annotations

from typing import Protocol

from slack_sdk import WebClient

from socialdesk.listeners.deps import Deps
from socialdesk.slack.blocks.lookup import Reply


class Subcommand(Protocol):
    def __call__(self, deps: Deps, client: WebClient | None, *, user_id: str, args: list[str], text: str,
                 channel_id: str = "") -> Reply:
        """`args` are the words after the subcommand's name, `text` the same as one string,
        `channel_id` the channel the command was typed in ("" when unknown).

        Never raises on bad input: answers with a usage message. Work that cannot finish
        within Slack's 3 s goes into `Reply.after`, run after the ack.
        """
        ...


# `/social <subcommand> help`: every subcommand answers these with its own help (commands.answer).
HELP_WORDS = frozenset({"help", "-h", "--help", "?"})


def asks_for_help(args: list[str], *, words_are_data: bool = False) -> bool:
    """Whether the words after a subcommand's name ask for its help.

    Where the words are data (`search`), only a help word alone does: `/social search help desk`
    still searches.
    """
    if not args or args[0].lower() not in HELP_WORDS:
        return False
    return len(args) == 1 or not words_are_data
