"""`socialdesk rules …`: saved searches (a query on a network, polled into a Slack channel)."""

from __future__ import annotations

import argparse
import json
import re
import sys
from typing import TYPE_CHECKING

from socialdesk.cli.common import CliError, Unavailable, int_in, open_store, record_id
from socialdesk.cli.rule_accounts import mentions_billed, mentions_query, own_account
from socialdesk.domain import without_controls
from socialdesk.networks import registry
from socialdesk.networks.base import RateLimited, SourceError, SourceUnavailable
from socialdesk.rules import (DEFAULT_POLL_SECONDS, KINDS, MAX_POLL_SECONDS, MIN_POLL_SECONDS, Filters,
                              parse_keywords, parse_routes, parse_rule_sla, rejection, route_names, routes_text,
                              validate, validate_schedule, validate_stream)

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from socialdesk.config import Settings
    from socialdesk.networks.base import Network


def add_parser(commands) -> None:  # type: ignore[no-untyped-def]
    rules = commands.add_parser(
        "rules", help="saved searches",
        description="Saved searches: a query (or our account's mentions) on a network, polled into a Slack channel.").add_subparsers(dest="rules_command", required=True, metavar="ACTION")
    add = rules.add_parser("add", help="add a saved search",
                           description="Add a saved search: its matches become cards in --channel.")
    add.add_argument("--network", required=True, choices=registry.names(), help="the network to watch")
    add.add_argument("--kind", choices=KINDS, default="search",
                     help="search: posts matching --query (default); mentions: posts mentioning our account")
    add.add_argument("--query", help="the network's search query, e.g. '@acme OR \"acme phone\"' (search rules)")
    add.add_argument("--account", metavar="HANDLE",
                     help="our account whose mentions to watch (mentions rules; default: the first of SOCIALDESK_OWN_HANDLES)")
    add.add_argument("--channel", required=True, help="Slack channel id for the cards (C0123ABCD)")
    add.add_argument("--every", type=int, default=DEFAULT_POLL_SECONDS, metavar="SECONDS",
                     help=f"seconds between polls, {MIN_POLL_SECONDS} to {MAX_POLL_SECONDS} (a day; default "
                          f"{DEFAULT_POLL_SECONDS})")
    add.add_argument("--lang", type=language, help="only posts in this language (ISO code, e.g. en)")
    add.add_argument("--include-reposts", action="store_true", help="also open cases for reposts")
    add.add_argument("--priority-keywords", metavar="WORDS",
                     help="comma-separated words or phrases that make a post high priority, e.g. 'refund,lawsuit'")
    add.add_argument("--priority-followers", type=int_in(0, 1_000_000_000), metavar="N",
                     help="posts by accounts with at least N followers are high priority")
    add.add_argument("--sla", metavar="TARGETS",
                     help="first-response targets for this rule's cases, e.g. 'high=15m,normal=1h' "
                          "(priorities left out use SOCIALDESK_SLA_TARGETS)")
    add.add_argument("--backfill", action="store_true",
                     help="open cases for every match the network's search still has, not just the newest page")
    add.add_argument("--stream", action="store_true",
                     help="carried by the network's live stream, where it takes only the rules marked so "
                          "(cards within a second; polled while the stream is down)")
    add.add_argument("--budget", type=budget, metavar="DOLLARS/month", help=BUDGET_HELP)
    _triage_arguments(add)
    add.set_defaults(func=cmd_rules_add)
    edit = rules.add_parser("edit", help="change a saved search's spam filing, routes and budget",
                            description="Change how a saved search triages its new cases: whether likely spam "
                                        "opens as ignored, and which intents or tags go to another channel; and "
                                        "its monthly budget. Options left out stay as they are.")
    edit.add_argument("id", type=record_id, metavar="ID", help=RULE_ID_HELP)
    _triage_arguments(edit, editing=True)
    edit.add_argument("--budget", type=budget, default=KEEP, metavar="DOLLARS/month",
                      help=BUDGET_HELP + "; 'none' removes it (raising it resumes a rule paused by budget)")
    edit.set_defaults(func=cmd_rules_edit)
    rules.add_parser("list", help="list saved searches and their state",
                     description="List the saved searches: network, channel, interval, state, last success and error.").set_defaults(func=cmd_rules_list)
    for name, paused, what in (("pause", True, "Stop polling a saved search (its cases stay)."),
                               ("resume", False, "Poll a paused saved search again, from where it stopped.")):
        p = rules.add_parser(name, help=f"{name} a saved search", description=what)
        p.add_argument("id", type=record_id, metavar="ID", help=RULE_ID_HELP)
        p.set_defaults(func=lambda s, a, paused=paused: _set_paused(s, a.id, paused))
    stream = rules.add_parser("stream", help="carry a saved search on its network's live stream, or stop",
                              description="Mark a saved search for its network's live stream (on: cards within a "
                                          "second, polled only while the stream is down) or take it off (off).")
    stream.add_argument("id", type=record_id, metavar="ID", help=RULE_ID_HELP)
    stream.add_argument("state", choices=("on", "off"), help="on: streamed; off: polled only")
    stream.set_defaults(func=cmd_rules_stream)
    sla = rules.add_parser("sla", help="set a saved search's own first-response targets",
                           description="Set the first-response targets of one saved search's cases "
                                       "('default': SOCIALDESK_SLA_TARGETS again).")
    sla.add_argument("id", type=record_id, metavar="ID", help=RULE_ID_HELP)
    sla.add_argument("targets", help="e.g. 'high=15m,normal=1h', or 'default' for SOCIALDESK_SLA_TARGETS")
    sla.set_defaults(func=cmd_rules_sla)
    remove = rules.add_parser("remove", help="delete a saved search (its cases stay)",
                              description="Delete a saved search; the cases it opened stay.")
    remove.add_argument("id", type=record_id, metavar="ID", help=RULE_ID_HELP)
    remove.set_defaults(func=cmd_rules_remove)
    preview = rules.add_parser("preview", help="print what a query matches now, as JSON lines",
                               description="Search the network now and print each post as a JSON line, with "
                                           "why a rule would skip it; nothing is stored.")
    preview.add_argument("--network", required=True, choices=registry.names(), help="the network to search")
    preview.add_argument("--query", required=True, help="the network's search query, as `rules add` takes it")
    preview.add_argument("--lang", type=language, help="mark posts in other languages skipped (ISO code, e.g. en)")
    preview.add_argument("--include-reposts", action="store_true", help="do not mark reposts skipped")
    preview.add_argument("--limit", type=int_in(1, 100), default=10, metavar="N",
                         help="print at most N posts, from 1 to 100 (default 10)")
    preview.set_defaults(func=cmd_rules_preview)


LANGUAGE_TAG = re.compile(r"[a-z]{2,3}(-[A-Za-z0-9]{1,8})*")


def language(text: str) -> str:
    """An argparse type: a language as posts carry it (en, pt-BR); `english` would match none of them."""
    if not LANGUAGE_TAG.fullmatch(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a language code; use a lower-case ISO 639 code like en or pt")
    return text


RULE_ID_HELP = "the rule's number, as `socialdesk rules list` shows it"
BUDGET_HELP = ("what the rule's billed reads may cost a month, e.g. 50/month (dollars; on networks that bill per "
               "read): an ops alert at 80 %%, and at 100 %% the rule pauses itself until the month turns")
KEEP = object()  # `rules edit` without --budget: the budget stays


def budget(text: str) -> float | None:
    """An argparse type: '50/month' → 50.0, 'none' → None, with the way to write it when it cannot be read."""
    from socialdesk.spend import BudgetInvalid, parse_budget

    try:
        return parse_budget(text)
    except BudgetInvalid as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
ROUTE_HELP = (f"send new cases of an intent ({', '.join(route_names())}) or a tag (tag:refund) to another "
              "channel, e.g. question=C0SUPPORT or tag:refund=C0BILLING (repeat for more; a tag route wins over "
              "an intent route)")


def _triage_arguments(parser: argparse.ArgumentParser, *, editing: bool = False) -> None:
    spam = ("likely spam opens its case as ignored, the reasons recorded; its card is still posted, collapsed, "
            "with a Not spam button")
    if editing:
        parser.add_argument("--ignore-spam", action=argparse.BooleanOptionalAction, default=None,
                            help=spam + " (--no-ignore-spam: likely spam opens a normal case, marked on its card)")
        routes = parser.add_mutually_exclusive_group()
        routes.add_argument("--route", action="append", metavar="NAME=CHANNEL", help=ROUTE_HELP + "; replaces the "
                            "rule's routes")
        routes.add_argument("--no-routes", action="store_true", help="remove the rule's routes")
    else:
        parser.add_argument("--ignore-spam", action="store_true", help=spam)
        parser.add_argument("--route", action="append", metavar="NAME=CHANNEL", help=ROUTE_HELP)


def _triage_summary(ignore_spam: bool, routes: dict[str, str] | None) -> str:
    parts = ["likely spam filed as ignored"] if ignore_spam else []
    if routes:
        parts.append("routes " + routes_text(routes))
    return "; ".join(parts)


def cmd_rules_edit(settings: Settings, args: argparse.Namespace) -> int:
    from socialdesk.store import rules as rule_store
    from socialdesk.store.db import session_scope

    routes = {} if args.no_routes else parse_routes(args.route) if args.route else None
    if args.ignore_spam is None and routes is None and args.budget is KEEP:
        raise CliError("nothing to change: give --ignore-spam or --no-ignore-spam, --route NAME=CHANNEL or "
                       "--no-routes, or --budget N/month")
    engine = open_store(settings)
    with session_scope(engine) as session:
        if args.budget is not KEEP:
            _check_budget(settings, engine, rule_store.get_rule(session=session, rule_id=args.id).network, args.budget)
            rule_store.set_budget(session=session, rule_id=args.id, monthly_budget=args.budget)
        rule = rule_store.set_triage(session=session, rule_id=args.id, ignore_spam=args.ignore_spam, routes=routes)
        summary = _triage_summary(rule.ignore_spam, rule.routes)
        budget_now = rule.monthly_budget
    if args.ignore_spam is not None or routes is not None:
        print(f"rule {args.id}: " + (summary or "likely spam opens normal cases; no routes"))
    if args.budget is not KEEP:
        print(f"rule {args.id}: " + (f"budget ${budget_now:,.2f} a month" if budget_now is not None else "no budget"))
    return 0


def _check_budget(settings: Settings, engine: Engine, network: str, monthly_budget: float | None) -> None:
    """A budget only means something where the network bills per read."""
    from socialdesk.spend import unbilled

    if monthly_budget is None:
        return
    if (refused := unbilled(_networks(settings, engine).get(network), registry.label(network), monthly_budget)):
        raise CliError(f"{refused}; leave out --budget")


def cmd_rules_add(settings: Settings, args: argparse.Namespace) -> int:
    from socialdesk.spend import Meter
    from socialdesk.store import rules as rule_store
    from socialdesk.store.db import session_scope, utcnow

    if args.kind == "mentions":
        if args.query:
            raise CliError("a mentions rule takes no --query; it watches --account (or SOCIALDESK_OWN_HANDLES' first)")
        validate_schedule(args.every, args.channel)
        handle = own_account(settings, args)
        query = mentions_query(settings, args.network, handle)
        what = f"mentions of @{handle} ({query})"
    else:
        if not args.query:
            raise CliError("--query is required for a search rule (or use --kind mentions)")
        query, what = args.query, repr(args.query)
    validate(args.network, query, args.every, args.channel, kind=args.kind)
    sla_targets = _rule_sla(args.sla)
    routes = parse_routes(args.route or [])
    engine = open_store(settings)
    _check_budget(settings, engine, args.network, args.budget)
    networks = _networks(settings, engine)
    now = utcnow()
    with session_scope(engine) as session:
        if args.kind == "mentions":  # the account lookup was a billed read: the spend meter counts it (no rule's)
            Meter(networks).record(session=session, network=args.network, rule_id=None,
                                   reads=mentions_billed(args.network, query), now=now)
        if args.stream:
            validate_stream(args.network, query,
                            streamed=rule_store.streamed_count(session=session, network=args.network))
        rule = rule_store.add_rule(
            session=session, network=args.network, query=query, channel_id=args.channel,
            every_seconds=args.every, lang=args.lang, include_reposts=args.include_reposts, now=now,
            backfill=args.backfill, kind=args.kind,
            priority_keywords=parse_keywords(args.priority_keywords),
            priority_followers=args.priority_followers,
            sla_targets=sla_targets, stream=args.stream, ignore_spam=args.ignore_spam, routes=routes,
            monthly_budget=args.budget,
        )
    triage = _triage_summary(args.ignore_spam, routes)
    print(f"rule {rule.id} added: {args.network} {what} → {args.channel} every {args.every} s"
          + (", streamed" if args.stream else "") + (f"; {triage}" if triage else "")
          + (f"; budget ${args.budget:,.2f} a month" if args.budget is not None else ""))
    network = networks[args.network]
    if args.kind not in network.sources and network.stream is None:
        print(f"note: {network.missing(args.kind)}; the rule will not poll until then", file=sys.stderr)
    elif args.stream and network.stream is None:
        print(f"note: {network.info.label}'s stream is not configured; the rule is polled until it is",
              file=sys.stderr)
    return 0


def cmd_rules_stream(settings: Settings, args: argparse.Namespace) -> int:
    from socialdesk.store import rules as rule_store
    from socialdesk.store.db import session_scope

    on = args.state == "on"
    engine = open_store(settings)
    with session_scope(engine) as session:
        rule = rule_store.get_rule(session=session, rule_id=args.id)
        if on and not rule.stream:
            validate_stream(rule.network, rule.query, streamed=rule_store.streamed_count(
                session=session, network=rule.network, excluding=rule.id))
        rule_store.set_stream(session=session, rule_id=args.id, stream=on)
    print(f"rule {args.id}: " + ("streamed (polled only while the stream is down)" if on else "polled, not streamed"))
    return 0


def _networks(settings: Settings, engine: Engine) -> dict[str, Network]:
    import httpx

    from socialdesk.store.credentials import DatabaseCredentials
    from socialdesk.store.db import utcnow

    with httpx.Client(timeout=15) as http:  # nothing is fetched while building
        return registry.build(settings, http=http, clock=utcnow,
                              credentials=lambda name: DatabaseCredentials(engine, name))


def _rule_sla(text: str | None) -> str | None:
    try:
        return parse_rule_sla(text)
    except ValueError as exc:
        raise CliError(f"--sla: {exc}") from None


def cmd_rules_sla(settings: Settings, args: argparse.Namespace) -> int:
    targets = _rule_sla(args.targets)
    from socialdesk.store import rules as rule_store
    from socialdesk.store.db import session_scope

    engine = open_store(settings)
    with session_scope(engine) as session:
        rule_store.set_sla_targets(session=session, rule_id=args.id, sla_targets=targets)
    print(f"rule {args.id}: first-response targets {targets or 'from SOCIALDESK_SLA_TARGETS'}")
    return 0


def cmd_rules_list(settings: Settings, _args: argparse.Namespace) -> int:
    from socialdesk.health import BUDGET, OK, PAUSED, label_of, read_health
    from socialdesk.spend import Meter
    from socialdesk.store.db import session_scope, utcnow

    engine = open_store(settings)
    networks = _networks(settings, engine)
    with session_scope(engine) as session:
        # A rule its budget (or its network's) paused shows so, as the poller sees it (spend.Meter).
        health = read_health(session=session, networks=networks, now=utcnow(),
                             budget_paused=Meter(networks).paused_by_budget)
        session.expunge_all()
    if not health.rules:
        print(f"no rules yet; add one with: socialdesk rules add --network {registry.names()[0]} --query 'acme phone' "
              "--channel C0123ABCD")
        return 0
    print(f"{'id':>4}  {'network':7}  {'channel':11}  {'every':>6}  {'state':12}  {'last success':20}  query / last error")
    for r, state in health.rules:
        success = r.last_success_at.strftime("%Y-%m-%d %H:%M:%S") if r.last_success_at else "never"
        print(f"{r.id:>4}  {r.network:7}  {r.channel_id:11}  {r.every_seconds:>5}s  {state.state:12}  {success:20}  {without_controls(r.query)}")
        if state.state == BUDGET:
            print(f"{'':>4}  paused by budget: this month's billed reads reached it (`socialdesk usage`)")
        elif state.state not in (OK, PAUSED):
            print(f"{'':>4}  state: {state.text().split(': ', 1)[0]}")  # the error follows as `last error`
        if r.monthly_budget is not None:
            print(f"{'':>4}  budget: ${r.monthly_budget:,.2f} a month")
        if r.gap_from and r.gap_to:
            print(f"{'':>4}  missed posts from {r.gap_from:%Y-%m-%d %H:%M} to {r.gap_to:%Y-%m-%d %H:%M} UTC "
                  "(older than the network's search reaches)")
        if r.stream:
            print(f"{'':>4}  streamed" + (f" (refused: {r.stream_refused}; polled instead)" if r.stream_refused else ""))
        if r.sla_targets:
            print(f"{'':>4}  SLA: {r.sla_targets}")
        if r.ignore_spam:
            print(f"{'':>4}  likely spam filed as ignored")
        if r.routes:
            print(f"{'':>4}  routes: {routes_text(r.routes)}")
        if r.last_error:
            print(f"{'':>4}  last error: {without_controls(r.last_error)}")  # a network's words
    for row, state in health.streams:
        print(f"{label_of(networks, row.network)} stream: {without_controls(state.text())}")
    return 0


def _set_paused(settings: Settings, rule_id: int, paused: bool) -> int:
    from socialdesk.health import resume_notice
    from socialdesk.store import rules as rule_store
    from socialdesk.store.db import session_scope, utcnow

    engine = open_store(settings)
    now = utcnow()
    with session_scope(engine) as session:
        rule = rule_store.set_paused(session=session, rule_id=rule_id, paused=paused, now=now)
        lost = None if paused else resume_notice(rule, network=_networks(settings, engine).get(rule.network), now=now)
    print(f"rule {rule_id} {'paused' if paused else 'resumed'}" + (f"\n{lost}" if lost else ""))
    return 0


def cmd_rules_remove(settings: Settings, args: argparse.Namespace) -> int:
    from socialdesk.store import rules as rule_store
    from socialdesk.store.db import session_scope

    engine = open_store(settings)
    with session_scope(engine) as session:
        rule_store.remove_rule(session=session, rule_id=args.id)
    print(f"rule {args.id} removed; its cases stay")
    return 0


def cmd_rules_preview(settings: Settings, args: argparse.Namespace) -> int:
    import httpx

    from socialdesk.store.credentials import DatabaseCredentials
    from socialdesk.store.db import utcnow

    validate(args.network, args.query, DEFAULT_POLL_SECONDS, "C0")
    engine = open_store(settings)
    with httpx.Client(timeout=15) as http:
        network = registry.build(settings, http=http, clock=utcnow,
                                 credentials=lambda name: DatabaseCredentials(engine, name))[args.network]
        source = network.sources.get("search")
        if source is None:
            raise CliError(network.missing("search"))
        try:
            page = source.fetch(args.query, None)
        except (SourceUnavailable, RateLimited) as exc:
            raise Unavailable(f"{exc}; try again later") from None
        except SourceError as exc:
            raise CliError(str(exc)) from None
    from socialdesk.triage.triaged import fill_languages

    # A language guessed where the network gave none, before the filters: as the poller does.
    posts, guessed = fill_languages(page.posts[:args.limit])
    filters = Filters(lang=args.lang, include_reposts=args.include_reposts, own_handles=settings.own_handle_set)
    local = None
    if network.info.local_match:  # the stream matches the query itself; the network's search differs a little
        from socialdesk.matcher import parse, target_of

        local = parse(args.query)
    for post in posts:
        record = post.to_json()
        record["lang_detected"] = post.external_id in guessed
        record["skipped"] = rejection(post, filters) or (
            "does not match the query as the stream matches it" if local and not local.matches(target_of(post))
            else None)
        print(json.dumps(record, ensure_ascii=False))
    return 0
