"""`/social rules …`: list the saved searches (anyone); add, pause, resume, remove, stream them (admins).

The same validation and store functions as `socialdesk rules …` on the server, so a
rule added here is the rule the CLI would have added.
"""

from __future__ import annotations

import logging
import re

from slack_sdk import WebClient

from socialdesk import rules as rule_rules
from socialdesk.health import resume_notice
from socialdesk.listeners.deps import Deps
from socialdesk.networks import registry
from socialdesk.slack.blocks.home import channel as channel_mention
from socialdesk.slack.blocks.home import route_label
from socialdesk.slack.blocks.admin import rules_reply
from socialdesk.slack.blocks.lookup import Reply, plain
from socialdesk.slack.text import escape
from socialdesk.spend import BudgetInvalid, money, parse_budget, unbilled
from socialdesk.store import rules as rule_store
from socialdesk.store.db import read_scope, session_scope
from socialdesk.store.views import rule_view
from socialdesk.logs import about

log = logging.getLogger(__name__)

ADD_SYNTAX = ("/social rules add <query> [network:NAME] [channel:#chan] [every:60] [kind:mentions] "
              "[sla:high=15m,normal=1h] [budget:50/month] [--stream] [--ignore-spam] [route:question=#support] "
              "[route:tag:refund=#billing]")
HELP = (
    "• `/social rules` — the saved searches: query, channel, interval, state and last error\n"
    f"• `{ADD_SYNTAX}` — "
    "a new saved search whose "
    "cards go to this channel unless `channel:` says otherwise; `every:` is the seconds between polls, "
    f"{rule_rules.MIN_POLL_SECONDS} to {rule_rules.MAX_POLL_SECONDS} (a day; default "
    f"{rule_rules.DEFAULT_POLL_SECONDS}); `--stream`: carried by the network's live "
    "stream where it takes only the rules marked so; `--ignore-spam`: likely spam opens as ignored (its card "
    "collapsed, with *Not spam*); `route:` sends new cases of an intent (complaint, question, praise, other) or "
    "a tag to another channel, repeat it for more; `budget:` caps what the rule's billed reads may cost a "
    "month, where its network bills per read (it pauses at the budget until the month turns; "
    "`/social usage` shows the spend) (admins)\n"
    "• `/social rules pause|resume|remove <id>` — stop, restart or delete a saved search; its cases stay (admins)\n"
    "• `/social rules stream <id> on|off` — carry a saved search on its network's live stream, or poll it only "
    "(admins)\n"
)
USAGE = {
    "add": f"Usage: `{ADD_SYNTAX}`, "
           "e.g. `/social rules add @acme OR \"acme phone\" every:120`.",
    "id": "Usage: `/social rules {verb} <id>`, e.g. `/social rules {verb} 3` (`/social rules` shows the ids).",
    "stream": "Usage: `/social rules stream <id> on|off`, e.g. `/social rules stream 3 on` (`/social rules` shows "
              "the ids).",
    "rules": "Usage: `/social rules`, "
             f"`{ADD_SYNTAX}`, "
             "`/social rules pause|resume|remove <id>`, `/social rules stream <id> on|off`.",
}
NOT_ADMIN = ("Only socialdesk admins can add, pause, resume, stream or remove rules. Ask a workspace admin, or "
             "someone listed in SOCIALDESK_ADMINS, to do it or to add you there.")
OPTION = re.compile(r"(?<!\S)(network|channel|every|kind|sla|budget):(\S*)", re.IGNORECASE)
STREAM_FLAG = re.compile(r"(?<!\S)--stream(?!\S)", re.IGNORECASE)
SPAM_FLAG = re.compile(r"(?<!\S)--ignore-spam(?!\S)", re.IGNORECASE)
ROUTE_OPTION = re.compile(r"(?<!\S)route:(\S*)", re.IGNORECASE)
CHANNEL_LINK = re.compile(r"^<#([CG][A-Z0-9]+)(?:\|[^>]*)?>$")
CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{2,30}$")
MAX_RULE_ID = 2**31 - 1
EXAMPLE = {"network": registry.names()[0], "channel": "#social-care", "every": "60", "kind": "mentions", "sla": "high=15m,normal=1h",
           "budget": "50/month"}
CHANNEL_PAGES = 5  # conversations.list pages (1000 each) searched for a #name


class Malformed(ValueError):
    """The command cannot be understood; the message says why (safe mrkdwn)."""


def run(deps: Deps, client: WebClient | None, *, user_id: str, args: list[str], text: str,
        channel_id: str = "") -> Reply:
    verb = args[0].lower() if args else "list"
    if verb == "list":
        if len(args) > 1:
            return plain(USAGE["rules"])
        with read_scope(deps.engine) as session:
            return rules_reply([rule_view(r) for r in rule_store.list_rules(session=session)])
    if verb == "help":
        return plain(HELP)
    if verb not in ("add", "pause", "resume", "remove", "stream"):
        return plain(f"`{escape(args[0][:40])}` is not something `/social rules` does.\n{USAGE['rules']}")
    if not deps.is_admin(user_id):
        return plain(NOT_ADMIN)
    if verb == "add":
        return add(deps, client, text=text.strip()[len(args[0]):].strip(), user_id=user_id, here=channel_id)
    if verb == "stream":
        return stream(deps, args[1:], user_id=user_id)
    return change(deps, verb, args[1:], user_id=user_id)


def parse_add(text: str) -> tuple[str, dict[str, str]]:
    """'acme phone every:120 channel:<#C1|care>' → ('acme phone', {'every': '120', 'channel': '<#C1|care>'}).

    `--stream` is {'stream': 'on'}, `--ignore-spam` {'ignore_spam': 'on'}; each `route:NAME=#chan`
    is a line of {'routes': …} (parse_routes reads them)."""
    options: dict[str, str] = {}
    for flag, name, pattern in (("--stream", "stream", STREAM_FLAG), ("--ignore-spam", "ignore_spam", SPAM_FLAG)):
        flags = pattern.findall(text)
        if len(flags) > 1:
            raise Malformed(f"`{flag}` is given twice.")
        if flags:
            options[name] = "on"
            text = pattern.sub(" ", text)
    routes = ROUTE_OPTION.findall(text)
    if any(not r for r in routes):
        raise Malformed("`route:` needs a value, like `route:question=#support`.")
    if routes:
        options["routes"] = "\n".join(routes)
        text = ROUTE_OPTION.sub(" ", text)
    for match in OPTION.finditer(text):
        name = match[1].lower()
        if name in options:
            raise Malformed(f"`{name}:` is given twice.")
        if not match[2]:
            raise Malformed(f"`{name}:` needs a value, like `{name}:{EXAMPLE[name]}`.")
        options[name] = match[2]
    query = " ".join(OPTION.sub(" ", text).split())
    return query, options


def resolve_channel(client: WebClient | None, value: str) -> str:
    """A channel id from `<#C123|name>`, `C123` or `#name` (looked up with conversations.list)."""
    link = CHANNEL_LINK.match(value)
    if link:
        return link[1]
    if CHANNEL_ID.match(value):
        return value
    name = value.lstrip("#").lower()
    if client is not None and value.startswith("#") and name:
        cursor = None
        for _ in range(CHANNEL_PAGES):
            page = client.conversations_list(types="public_channel,private_channel", exclude_archived=True,
                                             limit=1000, cursor=cursor)
            for conversation in page.get("channels") or []:
                if conversation.get("name") == name:
                    return str(conversation["id"])
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                break
    raise Malformed(f"I can't find the channel `{escape(value[:80])}`. Pick it with `#` so Slack links it, "
                    "give its id (like C0123ABCD, from the channel's details), or invite @socialdesk to a "
                    "private channel first.")


def _route(client: WebClient | None, spec: str) -> str:
    """'question=<#C0SUPPORT|support>' or 'tag:refund=#billing' → 'question=C0SUPPORT' (the channel looked up)."""
    name, sep, value = spec.partition("=")
    if not sep or not name or not value:
        raise Malformed(f"`route:{escape(spec[:80])}` is not `route:NAME=#channel`, like `route:question=#support` "
                        "or `route:tag:refund=#billing`.")
    return f"{name}={resolve_channel(client, value)}"


def _seconds(every: str) -> int:
    """`every:120` → 120; whether so many seconds will do is for rules.validate_schedule to say, as on the CLI."""
    try:
        if every.isascii() and every.isdigit():
            return int(every)
    except ValueError:  # thousands of digits: int() refuses to read them
        pass
    raise Malformed(f"`every:{escape(every[:20])}` is not a number of seconds; give one {rule_rules.POLL_RANGE}.")


def _budget(deps: Deps, network: str, text: str | None) -> float | None:
    """`budget:50/month` in dollars a month ('none': no budget), only where the network bills per read."""
    if text is None:
        return None
    try:
        budget = parse_budget(text)
    except BudgetInvalid as exc:
        raise Malformed(f"`budget:` {escape(str(exc)[:200])}.") from None
    if (refused := unbilled(deps.networks.get(network), registry.label(network), budget)):
        raise Malformed(f"{escape(refused)}: leave out `budget:`.")
    return budget


def add(deps: Deps, client: WebClient | None, *, text: str, user_id: str, here: str) -> Reply:
    try:
        query, options = parse_add(text)
        every = options.get("every", str(rule_rules.DEFAULT_POLL_SECONDS))
        every_seconds = _seconds(every)
        kind = options.get("kind", "search").lower()
        network = options.get("network", "").lower() or deps.default_network()
        target = resolve_channel(client, options["channel"]) if "channel" in options else here
        if not query:
            example = registry.info(network).mentions_query_example if network in registry.names() else "…"
            raise Malformed("Give the words to search for." if kind != "mentions" else
                            f"A mentions rule needs our account's id, as `{escape(example)}` (or run "
                            f"`socialdesk rules add --network {escape(network[:20])} --kind mentions --channel C…` "
                            "on the server, which looks the account up).")
        if not target:
            raise Malformed("I don't know which channel this was typed in: add `channel:#name`.")
        network = rule_rules.validate(network, query, every_seconds, target, kind=kind)
        streamed = "stream" in options
        if streamed:
            with read_scope(deps.engine) as session:
                count = rule_store.streamed_count(session=session, network=network)
            rule_rules.validate_stream(network, query, streamed=count)
        try:
            sla_targets = rule_rules.parse_rule_sla(options.get("sla"))
        except ValueError as exc:
            raise Malformed(f"`sla:` {escape(str(exc)[:200])}.") from None
        routes = rule_rules.parse_routes([_route(client, r) for r in options.get("routes", "").splitlines()])
        budget = _budget(deps, network, options.get("budget"))
    except Malformed as exc:
        return plain(f"{exc}\n{USAGE['add']}")
    except rule_rules.RuleInvalid as exc:
        return plain(f"{escape(rule_rules.spelled(str(exc), '/social')[:1000])}.\n{USAGE['add']}")
    with session_scope(deps.engine) as session:
        rule = rule_store.add_rule(session=session, network=network, query=query, channel_id=target,
                                   every_seconds=every_seconds, lang=None, include_reposts=False, now=deps.clock(),
                                   kind=kind, sla_targets=sla_targets, stream=streamed,
                                   ignore_spam="ignore_spam" in options, routes=routes, monthly_budget=budget)
        rule_id = rule.id
    log.info("rule %s added by %s from Slack", rule_id, user_id, extra=about(rule_id=rule_id))
    sla_line = f" First-response targets: {escape(sla_targets)}." if sla_targets else ""
    stream_line = " Streamed: cards within seconds (polled while the stream is down)." if streamed else ""
    spam_line = " Likely spam opens as ignored (its card collapsed, with *Not spam*)." if "ignore_spam" in options else ""
    budget_line = f" Budget: {money(budget)} a month of billed reads." if budget is not None else ""
    route_line = (" Routes: " + ", ".join(f"{route_label(n)} → {channel_mention(c)}" for n, c in routes.items()) + "."
                  if routes else "")
    lines = [f"Rule {rule_id} added: {registry.label(network)} {kind} `{escape(query)}` → {channel_mention(target)} every {every_seconds} s."
             + sla_line + stream_line + spam_line + route_line + budget_line,
             f"Cards appear in {channel_mention(target)} once @socialdesk is a member there "
             "(`/invite @socialdesk`)."]
    configured = deps.networks.get(network)
    if configured is not None and kind not in configured.sources and configured.stream is None:
        lines.append(f"Note: {escape(configured.missing(kind))}; the rule will not poll until then.")
    elif streamed and configured is not None and configured.stream is None:
        lines.append(f"Note: {escape(configured.info.label)}'s stream is not configured here; the rule is polled "
                     "until it is.")
    return plain("\n".join(lines))


def stream(deps: Deps, args: list[str], *, user_id: str) -> Reply:
    """`/social rules stream <id> on|off`."""
    raw = args[0].lstrip("#") if args else ""
    state = args[1].lower() if len(args) == 2 else ""
    if not raw.isascii() or not raw.isdigit() or int(raw) > MAX_RULE_ID or state not in ("on", "off"):
        return plain(USAGE["stream"])
    rule_id, on = int(raw), state == "on"
    try:
        with session_scope(deps.engine) as session:
            rule = rule_store.get_rule(session=session, rule_id=rule_id)
            if on and not rule.stream:
                rule_rules.validate_stream(rule.network, rule.query, streamed=rule_store.streamed_count(
                    session=session, network=rule.network, excluding=rule_id))
            rule_store.set_stream(session=session, rule_id=rule_id, stream=on)
    except rule_store.RuleNotFound:
        return plain(f"There is no rule {rule_id}; `/social rules` lists them.")
    except rule_rules.RuleInvalid as exc:
        return plain(f"{escape(rule_rules.spelled(str(exc), '/social')[:1000])}.")
    log.info("rule %s: stream %s by %s from Slack", rule_id, state, user_id, extra=about(rule_id=rule_id))
    return plain(f"Rule {rule_id} " + ("is streamed now: cards within seconds (polled while the stream is down)."
                                       if on else "is polled now, not streamed."))


def change(deps: Deps, verb: str, args: list[str], *, user_id: str) -> Reply:
    raw = args[0].lstrip("#") if len(args) == 1 else ""
    if not raw.isascii() or not raw.isdigit() or int(raw) > MAX_RULE_ID:
        problem = f"`{escape(args[0][:40])}` is not a rule number.\n" if len(args) == 1 else ""
        return plain(problem + USAGE["id"].format(verb=verb))
    rule_id = int(raw)
    lost = None
    try:
        with session_scope(deps.engine) as session:
            if verb == "remove":
                rule_store.remove_rule(session=session, rule_id=rule_id)
            else:
                now = deps.clock()
                rule = rule_store.set_paused(session=session, rule_id=rule_id, paused=verb == "pause", now=now)
                if verb == "resume":
                    lost = resume_notice(rule, network=deps.networks.get(rule.network), now=now)
    except rule_store.RuleNotFound:
        return plain(f"There is no rule {rule_id}; `/social rules` lists them.")
    log.info("rule %s: %s by %s from Slack", rule_id, verb, user_id, extra=about(rule_id=rule_id))
    done = {"pause": "paused: it polls no more until resumed", "resume": "resumed: it polls again",
            "remove": "removed; its cases stay"}[verb]
    return plain(f"Rule {rule_id} {done}." + (f"\n{escape(lost)}" if lost else ""))
