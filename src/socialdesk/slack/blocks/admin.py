"""Managing rules and digests from Slack: the rule and digest modals, and the `/social rules` answer. Pure builders."""

from __future__ import annotations

import json
from collections.abc import Sequence

from slack_sdk.models.blocks import (
    Block,
    CheckboxesElement,
    ContextBlock,
    ConversationFilter,
    ConversationMultiSelectElement,
    ConversationSelectElement,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
    SectionBlock,
    UserMultiSelectElement,
)
from slack_sdk.models.views import View

from socialdesk.networks import registry
from socialdesk.rules import MAX_POLL_SECONDS, MIN_POLL_SECONDS, TAG_ROUTE, route_names
from socialdesk.slack import ids
from socialdesk.slack.blocks.home import rule_text
from socialdesk.slack.blocks.lookup import Reply
from socialdesk.slack.text import escape
from socialdesk.store.views import RuleView


def _section(text: str, block_id: str | None = None) -> SectionBlock:
    return SectionBlock(text=MarkdownTextObject(text=text), block_id=block_id)


def _context(text: str) -> ContextBlock:
    return ContextBlock(elements=[MarkdownTextObject(text=text)])


def rule_modal(rule: RuleView) -> View:
    """Edit a rule: the query (search rules), channel, poll interval and priority triage."""
    blocks: list[Block] = []
    network = registry.info(rule.network)
    if rule.kind == "mentions":
        blocks.append(_section(f"Watches the mentions of our account ({escape(rule.query)}); "
                               "to watch another account, remove this rule and add a new one."))
    else:
        blocks.append(InputBlock(
            block_id=ids.RULE_QUERY_INPUT, label="Search query",
            element=PlainTextInputElement(action_id=ids.RULE_QUERY_INPUT, initial_value=rule.query[:3000] or None,
                                          multiline=True, max_length=3000),
            hint=network.query_hint))
    blocks += [
        InputBlock(block_id=ids.RULE_CHANNEL_INPUT, label="Cards go to",
                   element=ConversationSelectElement(
                       action_id=ids.RULE_CHANNEL_INPUT, initial_conversation=rule.channel_id or None,
                       filter=ConversationFilter(include=["public", "private"], exclude_bot_users=True)),
                   hint="Invite the app to a private channel first (/invite @socialdesk)."),
        InputBlock(block_id=ids.RULE_EVERY_INPUT, label="Poll every (seconds)",
                   element=PlainTextInputElement(action_id=ids.RULE_EVERY_INPUT,
                                                 initial_value=str(rule.every_seconds), max_length=7),
                   hint=f"From {MIN_POLL_SECONDS} to {MAX_POLL_SECONDS} (a day). {network.poll_hint}".strip()),
        InputBlock(block_id=ids.RULE_KEYWORDS_INPUT, label="Priority keywords", optional=True,
                   element=PlainTextInputElement(action_id=ids.RULE_KEYWORDS_INPUT, max_length=1000,
                                                 initial_value=", ".join(rule.priority_keywords or []) or None,
                                                 placeholder="refund, lawsuit, broken screen"),
                   hint="A post with one of these words or phrases (comma-separated) opens as high priority."),
        InputBlock(block_id=ids.RULE_FOLLOWERS_INPUT, label="Priority followers", optional=True,
                   element=PlainTextInputElement(
                       action_id=ids.RULE_FOLLOWERS_INPUT, max_length=12,
                       initial_value=str(rule.priority_followers) if rule.priority_followers is not None else None,
                       placeholder="10000"),
                   hint="Posts by accounts with at least this many followers open as high priority."),
        InputBlock(block_id=ids.RULE_SLA_INPUT, label="First-response targets", optional=True,
                   element=PlainTextInputElement(action_id=ids.RULE_SLA_INPUT, max_length=200,
                                                 initial_value=rule.sla_targets or None,
                                                 placeholder="high=15m, normal=1h"),
                   hint="This rule's own SLA per priority; empty: the team's targets (SOCIALDESK_SLA_TARGETS)."),
    ]
    blocks += triage_inputs(rule)
    if network.opt_in_stream and rule.kind == "search":  # a stream that carries only the rules marked for it
        on = Option(value=ids.RULE_STREAM_ON, label=f"Carry it on {network.label}'s live stream",
                    description="Cards within a second; polled while the stream is down.")
        refused = f" {network.label} refused it: {rule.stream_refused[:200]}; it is polled." if rule.stream_refused else ""
        blocks.append(InputBlock(
            block_id=ids.RULE_STREAM_INPUT, label="Live stream", optional=True,
            element=CheckboxesElement(action_id=ids.RULE_STREAM_INPUT, options=[on],
                                      initial_options=[on] if rule.stream else None),
            hint=(f"At most {network.stream_rules_max} rules and {network.stream_query_max_length} characters a "
                  f"query.{refused}")[:2000]))
    return View(type="modal", callback_id=ids.RULE_MODAL, private_metadata=json.dumps({"rule_id": rule.id}),
                title=f"Edit rule {rule.id}"[:24], submit="Save", close="Cancel", blocks=blocks)


ROUTE_LABEL = {"complaint": "Send complaints to", "question": "Send questions to", "praise": "Send praise to",
               "other": "Send other posts to"}


def route_block_id(intent: str) -> str:
    return f"{ids.RULE_ROUTE_INPUT}_{intent}"


def triage_inputs(rule: RuleView) -> list[Block]:
    """The rule's spam filing and routes: a box, a channel per intent (a multi-select of one, so it can be
    emptied again), and the tag routes as text."""
    spam = Option(value=ids.RULE_SPAM_ON, label="File likely spam as ignored",
                  description="Its card is still posted, collapsed, with a Not spam button.")
    routes = dict(rule.routes)
    blocks: list[Block] = [InputBlock(
        block_id=ids.RULE_SPAM_INPUT, label="Spam", optional=True,
        element=CheckboxesElement(action_id=ids.RULE_SPAM_INPUT, options=[spam],
                                  initial_options=[spam] if rule.ignore_spam else None),
        hint="Unticked: likely spam opens a normal case, marked ⚠️ likely spam on its card.")]
    for intent in route_names():
        chosen = routes.get(intent)
        blocks.append(InputBlock(
            block_id=route_block_id(intent), label=ROUTE_LABEL.get(intent, f"Send {intent} to"), optional=True,
            element=ConversationMultiSelectElement(
                action_id=ids.RULE_ROUTE_INPUT, max_selected_items=1, initial_conversations=[chosen] if chosen else None,
                filter=ConversationFilter(include=["public", "private"], exclude_bot_users=True)),
            hint=f"New cases read as {intent} open there instead of the rule's channel; empty: the rule's channel."))
    tags = ", ".join(f"{name[len(TAG_ROUTE):]}={to}" for name, to in rule.routes if name.startswith(TAG_ROUTE))
    blocks.append(InputBlock(
        block_id=ids.RULE_TAG_ROUTES_INPUT, label="Send tags to", optional=True,
        element=PlainTextInputElement(action_id=ids.RULE_TAG_ROUTES_INPUT, max_length=1000,
                                      initial_value=tags or None, placeholder="refund=C0BILLING, battery=C0HARDWARE"),
        hint="A tag and a channel id (from the channel's details), comma-separated; a tag route wins over an "
             "intent route."))
    return blocks


def digest_modal(*, timezone: str) -> View:
    """A new digest schedule: when, and to which channels and people."""
    return View(
        type="modal", callback_id=ids.DIGEST_MODAL, title="Add a digest", submit="Add", close="Cancel",
        blocks=[
            InputBlock(block_id=ids.DIGEST_SPEC_INPUT, label="When",
                       element=PlainTextInputElement(action_id=ids.DIGEST_SPEC_INPUT, max_length=64,
                                                     placeholder="daily 09:00"),
                       hint=f"\"daily 09:00\" covers the day before; \"weekly mon 09:00\" the week before. "
                            f"Times are {timezone[:60]} time."),
            InputBlock(block_id=ids.DIGEST_CHANNELS_INPUT, label="Post to channels", optional=True,
                       element=ConversationMultiSelectElement(
                           action_id=ids.DIGEST_CHANNELS_INPUT, max_selected_items=20,
                           filter=ConversationFilter(include=["public", "private"], exclude_bot_users=True))),
            InputBlock(block_id=ids.DIGEST_USERS_INPUT, label="Send to people (DM)", optional=True,
                       element=UserMultiSelectElement(action_id=ids.DIGEST_USERS_INPUT, max_selected_items=20)),
        ],
    )


RULE_LIST_LIMIT = 45  # an ephemeral message holds 50 blocks


def rules_reply(rules: Sequence[RuleView]) -> Reply:
    """`/social rules`: every rule with its channel, interval and state."""
    if not rules:
        text = "No rules yet. An admin adds one with `/social rules add <query>` in the channel for the cards."
        return Reply(text=text, blocks=[_section(text)])
    blocks: list[Block] = [_section(f"*Rules* ({len(rules)})")]
    blocks += [_section(rule_text(r), f"rule_{r.id}") for r in rules[:RULE_LIST_LIMIT]]
    if len(rules) > RULE_LIST_LIMIT:
        blocks.append(_context(f"…and {len(rules) - RULE_LIST_LIMIT} more — `socialdesk rules list` on the server"))
    return Reply(text=f"{len(rules)} rule{'s' if len(rules) != 1 else ''}", blocks=blocks)
