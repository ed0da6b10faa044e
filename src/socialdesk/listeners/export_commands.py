"""`/social export …`."""

from __future__ import annotations

from slack_sdk import WebClient

from socialdesk.listeners.deps import Deps
from socialdesk.slack.blocks.lookup import Reply, plain

HELP = ""


def run(deps: Deps, client: WebClient | None, *, user_id: str, args: list[str], text: str) -> Reply:
    return plain("`/social export` is not available yet.")
