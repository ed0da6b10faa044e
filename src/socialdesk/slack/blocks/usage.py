"""`/social usage`: this month's spend on billed reads, by network and by rule (a pure builder of a plain view)."""

from __future__ import annotations

from slack_sdk.models.blocks import Block, ContextBlock, HeaderBlock, MarkdownTextObject, SectionBlock

from socialdesk.slack.blocks.lookup import Reply
from socialdesk.slack.text import escape, plain_cut
from socialdesk.spend import NO_RULE, Usage, money, network_lines, reads_text, rule_state

RULES_SHOWN = 15  # the costliest; `socialdesk usage` lists them all
SECTION_LIMIT = 3000


def _section(text: str) -> SectionBlock:
    return SectionBlock(text=MarkdownTextObject(text=plain_cut(text, SECTION_LIMIT)))


def usage_blocks(usage: Usage) -> list[Block]:
    blocks: list[Block] = [
        HeaderBlock(text=plain_cut(f"Spend in {usage.month}", 150)),
        ContextBlock(elements=[MarkdownTextObject(
            text=f"UTC calendar month, day {usage.day} of {usage.days} · each resource counts once a UTC day, "
                 "as the network bills it")]),
    ]
    if not usage.networks:
        return blocks + [_section("No configured network bills per read: there is nothing to count.")]
    for n in usage.networks:
        first, *rest = network_lines(n)
        blocks.append(_section(f"*{escape(first)}*" + "".join(f"\n{escape(line.strip())}" for line in rest)))
    if not usage.rules:
        return blocks + [_section("No rule has billed reads this month.")]
    labels = {n.network: n.labels for n in usage.networks}
    lines = []
    for r in usage.rules[:RULES_SHOWN]:
        name = "Replies, lookups, removed rules" if r.rule_id == NO_RULE else f"Rule {r.rule_id}"
        query = "" if r.rule_id == NO_RULE else f" `{escape(plain_cut(r.query, 60))}`" if r.query else " (removed)"
        budget = f" of {money(r.budget)}" if r.budget is not None else ""
        lines.append(f"• *{name}*{query}: {money(r.cost)}{budget} · {escape(rule_state(r))} · "
                     f"{escape(reads_text(r.reads, labels.get(r.network, {})))}")
    more = len(usage.rules) - RULES_SHOWN
    if more > 0:
        lines.append(f"…and {more} more: `socialdesk usage` on the server lists them all.")
    blocks.append(_section("\n".join(lines)))
    blocks.append(ContextBlock(elements=[MarkdownTextObject(
        text="A budget: `socialdesk rules edit <id> --budget 50/month`. At 80 % the ops channel hears of it; at "
             "100 % the rule is paused by budget until the month turns or the budget is raised.")]))
    return blocks


def usage_reply(usage: Usage) -> Reply:
    totals = "; ".join(f"{n.label} {money(n.cost)} so far, {money(n.projected)} projected" for n in usage.networks)
    return Reply(text=plain_cut(f"Spend in {usage.month}: {totals or 'nothing bills per read'}", 300),
                 blocks=usage_blocks(usage))
