"""Saved replies (templates) from a TOML file an admin edits.

    [[reply]]
    name = "Sorry, DM us"
    text = "Hi {author}, sorry about that! Please DM us your order number. – {agent}"
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from socialdesk.config import ConfigError
from socialdesk.slack.blocks.modals import SavedReply

DEFAULTS = (
    SavedReply("Sorry — please DM us", "Hi {author}, we're sorry to hear that. Please send us a DM with your order number and we'll sort it out. – {agent}"),
    SavedReply("Thanks for the kind words", "Thank you {author}, that made our day! – {agent}"),
    SavedReply("We're looking into it", "Hi {author}, thanks for telling us. We're looking into it and will get back to you here. – {agent}"),
)


def load_saved_replies(path: str | None) -> tuple[SavedReply, ...]:
    if not path:
        return DEFAULTS
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"SOCIALDESK_SAVED_REPLIES_FILE: {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"SOCIALDESK_SAVED_REPLIES_FILE: {path} is not valid TOML ({exc})") from None
    replies = []
    for i, item in enumerate(data.get("reply") or [], start=1):
        if not isinstance(item, dict) or not str(item.get("name", "")).strip() or not str(item.get("text", "")).strip():
            raise ConfigError(f"SOCIALDESK_SAVED_REPLIES_FILE: reply #{i} in {path} needs a name and a text")
        replies.append(SavedReply(str(item["name"]).strip(), str(item["text"]).strip()))
    return tuple(replies)
