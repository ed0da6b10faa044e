"""`/social usage`: what billed reads cost this month, by rule, with the projection and the cap."""

from __future__ import annotations

from slack_sdk import WebClient

from socialdesk.listeners.deps import Deps
from socialdesk.slack.blocks.lookup import Reply, plain
from socialdesk.slack.blocks.usage import usage_reply
from socialdesk.store.db import read_scope

HELP = ("• `/social usage` — this month's spend on billed reads (networks that bill per read): by rule, the "
        "month's projection, the budgets and the plan's cap\n")
USAGE = "Usage: `/social usage` (no arguments): this month's spend on billed reads."


def run(deps: Deps, client: WebClient | None, *, user_id: str, args: list[str], text: str,
        channel_id: str = "") -> Reply:
    if args:
        return plain(USAGE)
    with read_scope(deps.engine) as session:
        usage = deps.spend_meter().usage(session=session, now=deps.clock())
    return usage_reply(usage)
