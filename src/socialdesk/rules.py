"""Which fetched posts become cases. Pure functions: no I/O."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from socialdesk.domain import Post
from socialdesk.networks import registry
from socialdesk.sla import parse_targets
from socialdesk.slack.text import echoed

RULE_SLA_PRIORITIES = ("high", "normal", "low")
MIN_POLL_SECONDS = 5
# A day: a rule wanted less often is better paused, and past some trillions of seconds the poll timer
# (jobs.scheduler) cannot even be set.
MAX_POLL_SECONDS = 86_400
POLL_RANGE = f"from {MIN_POLL_SECONDS} to {MAX_POLL_SECONDS} seconds (a day)"
DEFAULT_POLL_SECONDS = 60
KINDS = ("search", "mentions")  # a saved search, or the mentions of our own account


class RuleInvalid(ValueError):
    """A rule cannot be saved; the message says why and what to do."""


@dataclass(frozen=True)
class Filters:
    lang: str | None = None
    include_reposts: bool = False
    own_handles: frozenset[str] = frozenset()


def validate(network: str, query: str, every_seconds: int, channel_id: str, *, kind: str = "search") -> str:
    """The network's name when the rule can be saved; RuleInvalid saying why not."""
    try:
        info = registry.info(network)
    except registry.UnknownNetwork as exc:
        raise RuleInvalid(str(exc)) from None
    if kind not in KINDS:
        raise RuleInvalid(f"unknown rule kind {echoed(kind)}; choose one of: {', '.join(KINDS)}")
    if kind not in info.kinds:
        raise RuleInvalid(f"{info.label} has no {kind} rules; choose one of: {', '.join(info.kinds)}")
    if kind == "mentions":
        # The account is resolved to its id once (`rules add --kind mentions`): renames don't break it.
        if not re.fullmatch(info.mentions_query, query):
            raise RuleInvalid(f"a mentions rule's query is our account's id, like {info.mentions_query_example!r}, "
                              f"not {echoed(query)}")
    else:
        if not query.strip():
            raise RuleInvalid("the query is empty; give the words to search for")
        limit = info.query_max_length
        if len(query) > limit:
            raise RuleInvalid(f"the query is {len(query)} characters; {info.label} accepts at most {limit}. "
                              "Shorten it or split it into two rules")
        if info.local_match:
            from socialdesk.matcher import QueryInvalid, parse

            try:
                parse(query)
            except QueryInvalid as exc:
                raise RuleInvalid(str(exc).rstrip(".")) from None
    validate_schedule(every_seconds, channel_id)
    return info.name


STREAM_OFF_HINT = "`rules stream ID off`"  # `spelled` makes it a command of the surface that shows it


def spelled(message: str, command: str) -> str:
    """A RuleInvalid's message with the command it names as `command` takes it ("socialdesk", "/social")."""
    return message.replace(STREAM_OFF_HINT, f"`{command} rules stream ID off`")


def validate_stream(network: str, query: str, *, streamed: int) -> None:
    """A rule of `network` may be marked `stream` (`--stream`); RuleInvalid saying why not.

    `streamed`: how many of the network's other rules are marked already (its stream takes
    at most `stream_rules_max`, each query at most `stream_query_max_length` long).
    """
    try:
        info = registry.info(network)
    except registry.UnknownNetwork as exc:
        raise RuleInvalid(str(exc)) from None
    if not info.opt_in_stream:
        raise RuleInvalid(f"--stream is for networks whose stream carries only the rules marked for it; "
                          f"{info.label} has no such stream (its stream, where configured, carries every rule). "
                          "Leave out --stream")
    if info.stream_query_max_length and len(query) > info.stream_query_max_length:
        raise RuleInvalid(f"the query is {len(query)} characters; {info.label}'s stream takes at most "
                          f"{info.stream_query_max_length}. Shorten it, or leave out --stream to have it polled")
    if info.stream_rules_max and streamed >= info.stream_rules_max:
        raise RuleInvalid(f"{info.label}'s stream carries at most {info.stream_rules_max} rules and {streamed} "
                          f"are marked already; turn one off ({STREAM_OFF_HINT}) or remove one, or leave out "
                          "--stream to have this one polled")


def validate_schedule(every_seconds: int, channel_id: str) -> None:
    """The parts of a rule every kind has: how often, and which channel."""
    if every_seconds < MIN_POLL_SECONDS:
        # In words every surface shares (the CLI's --every, Slack's every:, the rule editor's box).
        raise RuleInvalid(f"an interval of {_number(every_seconds)} s is too often; the minimum is "
                          f"{MIN_POLL_SECONDS} seconds")
    if every_seconds > MAX_POLL_SECONDS:
        raise RuleInvalid(f"an interval of {_number(every_seconds)} s is longer than a day; give one {POLL_RANGE}")
    if not channel_id or not channel_id[0] in "CGD" or not channel_id.isalnum():
        raise RuleInvalid(f"{echoed(channel_id)} is not a Slack channel id (like C0123ABCD); copy it from the channel's details")


def _number(n: int) -> str:
    """A number as typed, cut when it is too long to read (every digit of a mistyped one says nothing more)."""
    shown = str(n)
    return shown if len(shown) <= 20 else shown[:20] + "…"


def parse_keywords(text: str | None) -> list[str]:
    """'refund, lawsuit,,broken screen' → ['refund', 'lawsuit', 'broken screen'] (priority keywords)."""
    return [k.strip() for k in (text or "").split(",") if k.strip()]


def rejection(post: Post, filters: Filters) -> str | None:
    """Why `post` opens no case, or None when it should."""
    if post.author.handle.lower() in filters.own_handles:
        return "own account"
    if post.is_repost and not filters.include_reposts:
        return "repost"
    if filters.lang and post.lang and post.lang != filters.lang:
        return f"language {post.lang}"
    return None


TAG_ROUTE = "tag:"
_TAG = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")
_ROUTE_CHANNEL = re.compile(r"[CG][A-Z0-9]{2,30}")
ROUTE_EXAMPLE = "question=C0SUPPORT"


def route_names() -> tuple[str, ...]:
    """The intents a route may name (triage.intent.Intent), besides `tag:<tag>`."""
    from socialdesk.triage.intent import Intent

    return tuple(i.value for i in Intent)


def parse_routes(specs: Sequence[str]) -> dict[str, str]:
    """["question=C0SUPPORT", "tag:refund=C0BILLING"] → {"question": "C0SUPPORT", "tag:refund": "C0BILLING"}.

    A route names an intent (complaint, question, praise, other) or `tag:<tag>`, and a Slack
    channel id. RuleInvalid says what is wrong and how to write it."""
    routes: dict[str, str] = {}
    for spec in specs:
        name, sep, channel = spec.strip().partition("=")
        name, channel = name.strip().lower(), channel.strip()
        if not sep or not name or not channel:
            raise RuleInvalid(f"route {spec[:80]!r} is not NAME=CHANNEL; write it like {ROUTE_EXAMPLE} "
                              "or tag:refund=C0BILLING")
        if name.startswith(TAG_ROUTE):
            if not _TAG.fullmatch(name[len(TAG_ROUTE):]):
                raise RuleInvalid(f"{name[:60]!r} is not a tag route; a tag is a lower-case word, like tag:refund")
        elif name not in route_names():
            raise RuleInvalid(f"{name[:40]!r} is not an intent a route can name; use one of "
                              f"{', '.join(route_names())}, or tag:<tag>")
        if not _ROUTE_CHANNEL.fullmatch(channel):
            raise RuleInvalid(f"{channel[:40]!r} is not a Slack channel id (like C0123ABCD); copy it from the "
                              "channel's details")
        if name in routes and routes[name] != channel:
            raise RuleInvalid(f"{name} is routed twice ({routes[name]} and {channel}); keep one")
        routes[name] = channel
    return routes


def routes_text(routes: Mapping[str, str] | None) -> str:
    """{"question": "C0SUPPORT"} → "question=C0SUPPORT" (as `--route` takes them), "" when none."""
    return ", ".join(f"{name}={channel}" for name, channel in (routes or {}).items())


def route_for(routes: Mapping[str, str] | None, *, intent: str | None, tags: Sequence[str],
              channel_id: str) -> tuple[str, str] | None:
    """Where a new case with this intent and these tags opens instead of `channel_id`: (channel, because).

    A tag route wins over an intent route (it is the more specific: "how do I get a refund?" is
    a question about billing), the post's first tag first. None: no route matches, or it
    leads to the rule's own channel."""
    if not routes:
        return None
    for tag in tags:
        channel = routes.get(TAG_ROUTE + tag)
        if channel and channel != channel_id:
            return channel, f"tag {tag}"
    channel = routes.get(intent or "")
    if channel and channel != channel_id:
        return channel, f"intent {intent}"
    return None


def parse_rule_sla(text: str | None) -> str | None:
    """A rule's own SLA targets, normalized ("high=15m, normal=1h" → "high=15m,normal=1h").

    Empty or "default" means the global SOCIALDESK_SLA_TARGETS. Raises ValueError with a
    message fit for a person.
    """
    text = (text or "").strip()
    if not text or text.lower() == "default":
        return None
    targets = parse_targets(text)
    unknown = sorted(set(targets) - set(RULE_SLA_PRIORITIES))
    if unknown:
        raise ValueError(f"unknown priority {echoed(unknown[0])}; use {', '.join(RULE_SLA_PRIORITIES)}")
    return ",".join(f"{name}={part.split('=', 1)[1].strip()}" for name, part in
                    zip(targets, (p for p in text.replace(";", ",").split(",") if p.strip())))
