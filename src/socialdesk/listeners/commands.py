"""The `/social` slash command.

Slack wants a slash command answered within 3 seconds. Every lookup here is a few
indexed reads (which never wait for a writer) plus at most PAGE_SIZE `chat.getPermalink`
calls (made in parallel, each bounded), so the answer is computed first and goes back *in
the ack itself* (`ack(response_type="ephemeral", blocks=..., text=...)`): the HTTP response
to Slack's request. That needs no `response_url`, which is also why the end-to-end tests
can see the answer. An answer not ready within ANSWER_BUDGET (a command that writes while
the database is locked) is acked as coming, and sent through the response_url when ready. Prev/Next buttons on lists ack at once and
then replace the ephemeral message through `respond(replace_original=True, ...)`, the
only way to change an ephemeral message.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from socialdesk import queue_filter, search_query
from socialdesk.listeners import digest_commands, export_commands, rule_commands, usage_commands, webhook_commands
from socialdesk.listeners.binding import Replayed, awaited_by_ack, with_deps
from socialdesk.listeners.common import action_value
from socialdesk.listeners.deps import Deps
from socialdesk.listeners.subcommand import HELP_WORDS, Subcommand, asks_for_help
from socialdesk.slack import ids
from socialdesk.slack.blocks import incident as incident_blocks
from socialdesk.slack.blocks import lookup as blocks
from socialdesk.slack.blocks import queue as queue_blocks
from socialdesk.slack.blocks.lookup import PAGE_SIZE, Reply, long_plain, plain
from socialdesk.slack.text import escape
from socialdesk.slack.verify import replay_harmless
from socialdesk.store import cases as case_store
from socialdesk.store import figures, incidents
from socialdesk.store import lookups, saved_views
from socialdesk.store import search as search_store
from socialdesk.store.db import read_scope

log = logging.getLogger(__name__)

INTRO = (
    "*socialdesk* — social posts as cases you can work from Slack.\n"
    "• `/social help` — this message; `/social <command> help` (or `/social help <command>`) — one command's help\n"
)
# Each built-in subcommand's lines in `/social help`, which are also its own help.
LINES = {
    "search": "• `/social search <text>` — find posts and cases by their text; `/social search \"help\"` "
              "looks for the word help itself\n",
    "case": "• `/social case <id>` — one case: status, owner, the post, its card, recent history\n",
    "mine": "• `/social mine` — the open cases you hold, newest activity first\n",
    "queue": "• `/social queue [filters]` — cases nobody has claimed yet, most urgent first (SLA due, then priority, "
             f"then age), each with *Claim* and *Assign…*. {queue_filter.usage()} App Home keeps your filters as your "
             "view, and `/social queue` alone shows it; `/social queue all` shows every waiting case.\n",
    "author": "• `/social author <handle>` — one customer's cases and posts (`@` optional, but needed for a "
              "customer called help; as the card shows it, `dana@example.social` included)\n",
    "stats": "• `/social stats [today|7d|30d]` — team figures for the period (default: today, team time zone)\n",
    "incidents": "• `/social incidents` — open incidents: storms of near-identical posts, one card each\n",
}
OUTRO = (
    "Cards for new posts appear in the channels named by the rules "
    "(`socialdesk rules list` on the server). On a card: *Claim* takes the case, *Reply* answers "
    "publicly as the brand, *Note* adds an internal note, *Resolve* closes it; the ⋯ menu assigns, "
    "ignores, tags or opens the post. The card's thread holds the case's history; "
    "a storm's posts are cases in its incident card's thread (*Reply to all*, *Split out*…).\n"
    "The card says what the post asks for (complaint, question, praise, other) and marks likely spam; "
    "a rule may file likely spam as ignored (*Not spam* on its card opens it again) or route intents "
    "and tags to other channels (`/social rules help`)."
)

USAGE = {
    "case": "Usage: `/social case <id>`, e.g. `/social case 42`.",
    "mine": "Usage: `/social mine` (no arguments).",
    "author": "Usage: `/social author <handle>`, e.g. `/social author @dana_k` or `/social author dana@example.social`.",
    "stats": "Usage: `/social stats [today|7d|30d]` (default: today, in the team's time zone).",
    "incidents": "Usage: `/social incidents` (no arguments): the open incidents.",
    "search": "Usage: `/social search <words> [status:…] [rule:3] [network:x] [from:@handle] [since:7d]`, "
              "e.g. `/social search battery status:new`.",
}
PERIODS = {"today", "7d", "30d"}

# Subcommands that live in their own modules: name -> (run, help lines).
MORE: dict[str, tuple[Subcommand, str]] = {
    name: (module.run, module.HELP)
    for name, module in (("rules", rule_commands), ("digest", digest_commands),
                         ("export", export_commands), ("webhooks", webhook_commands), ("usage", usage_commands))
}
HELP = INTRO + "".join(LINES.values()) + "".join(help_lines for _, help_lines in MORE.values()) + OUTRO
# `/social <name> help`: the lines `/social help` has for it, then how it is typed.
SUBCOMMAND_HELP = {name: (lines + USAGE.get(name, "")).rstrip("\n") for name, lines in LINES.items()} | {
    name: help_lines.rstrip("\n") for name, (_, help_lines) in MORE.items()}
MAX_CASE_ID = 2**31 - 1  # an INTEGER column: a bigger number is no case, not a database error
# A handle, or user@server where a network has servers (as cards show it): @dana, dana@example.social.
HANDLE = re.compile(r"^@?[A-Za-z0-9_.\-]{1,64}(?:@[A-Za-z0-9.\-]{1,253})?$")
NAV_VIEWS = ("mine", "queue", "author", "search")  # what Prev/Next buttons page through
MAX_OFFSET = 100_000  # a Prev/Next offset past this was not made by us (and would overflow the database's OFFSET)
INCIDENTS_LISTED = 20
PERMALINK_TIMEOUT = 1.5
ANSWER_BUDGET = 2.0  # seconds an answer may take and still go back in the ack (Slack's deadline is 3 s)
_permalink_pool = ThreadPoolExecutor(max_workers=PAGE_SIZE, thread_name_prefix="permalink")


def permalink(client: WebClient | None, channel: str, ts: str | None) -> str | None:
    if client is None or not ts:
        return None
    try:
        return client.chat_getPermalink(channel=channel, message_ts=ts).get("permalink")
    except Exception as exc:  # noqa: BLE001 - a missing link must not cost the whole answer
        log.info("no permalink for %s/%s: %s", channel, ts, exc)
        return None


def permalinks(client: WebClient | None, items: Sequence[Any]) -> dict[int, str | None]:
    """Card links for a page of cases, fetched in parallel; slow or failed ones are left out."""
    wanted = [i for i in items if i.message_ts]
    if client is None or not wanted:
        return {}
    futures = {i.case_id: _permalink_pool.submit(permalink, client, i.channel_id, i.message_ts) for i in wanted}
    wait(futures.values(), timeout=PERMALINK_TIMEOUT)
    return {cid: f.result() for cid, f in futures.items() if f.done()}


def period_bounds(period: str, now: datetime, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """[local midnight, now): today, or today and the 6 (29) local days before it.

    Whole local days, like the digests: a week's figures are the daily digests' plus today so far.
    """
    today = now.astimezone(tz).date()
    first = today if period == "today" else today - timedelta(days=int(period[:-1]) - 1)
    return datetime.combine(first, time(0), tzinfo=tz).astimezone(UTC), now.astimezone(UTC)


def usage(name: str, problem: str | None = None) -> Reply:
    return plain((f"{problem}\n" if problem else "") + USAGE[name])


# --- the subcommands: each returns a Reply, none raises on bad input ---


def case_cmd(deps: Deps, client: WebClient | None, args: list[str]) -> Reply:
    if len(args) != 1:
        return usage("case")
    raw = args[0].lstrip("#")
    if not raw.isascii() or not raw.isdigit() or int(raw) > MAX_CASE_ID:
        return usage("case", f"`{escape(args[0][:40])}` is not a case number.")
    case_id = int(raw)
    try:
        with read_scope(deps.engine) as session:
            view = case_store.case_view(session=session, case_id=case_id, policy=deps.sla_policy)
            history = case_store.events(session=session, case_id=case_id)
    except case_store.CaseNotFound:
        return plain(f"There is no case #{case_id}.")
    link = permalink(client, view.channel_id, view.message_ts)
    return blocks.case_reply(view, history, permalink=link, now=deps.clock())


def list_page(deps: Deps, client: WebClient | None, *, view: str, arg: str, user_id: str, offset: int) -> Reply:
    """One page of `mine`, `queue` or `author <handle>` (also what Prev/Next ask for)."""
    if view == "queue":
        return queue_page(deps, client, arg=arg, offset=offset)
    now = deps.clock()
    with read_scope(deps.engine) as session:
        if view == "mine":
            page = lookups.my_cases(session=session, user_id=user_id, limit=PAGE_SIZE, offset=offset)
        elif view == "author":
            page = lookups.author_cases(session=session, handle=arg, limit=PAGE_SIZE, offset=offset)
        else:
            return plain("That list is no longer available; run the command again.")
    links = permalinks(client, page.items)
    if view == "mine":
        return blocks.case_list_reply(page, title=f"*Cases held by <@{user_id}>*", empty="You hold no open cases.",
                                      view="mine", permalinks=links, now=now, show_owner=False)
    return blocks.author_reply(page, asked=arg, permalinks=links, now=now)  # type: ignore[arg-type]


def queue_page(deps: Deps, client: WebClient | None, *, arg: str, offset: int, notice: str | None = None) -> Reply:
    """One page of `/social queue [filters]`, most urgent first (also Prev/Next and a row's Claim redraw it)."""
    try:
        filters = queue_filter.parse(arg, tags=deps.case_tags)
    except queue_filter.FilterError as exc:
        return plain(str(exc)[:2900])
    return _queue(deps, client, filters, offset=offset, notice=notice)


def _queue(deps: Deps, client: WebClient | None, filters: queue_filter.QueueFilter, *, offset: int,
           notice: str | None) -> Reply:
    with read_scope(deps.engine) as session:
        page = lookups.queue(session=session, limit=PAGE_SIZE, offset=offset, policy=deps.sla_policy, filters=filters)
    return queue_blocks.queue_reply(page, filters=filters.text(), permalinks=permalinks(client, page.items),
                                    now=deps.clock(), notice=notice)


def queue_cmd(deps: Deps, client: WebClient | None, args: list[str], user_id: str) -> Reply:
    """`/social queue [filters|all]`: no filters shows the person's saved view (App Home's Filter…), if any."""
    if [a.lower() for a in args] == ["all"]:
        return queue_page(deps, client, arg="", offset=0)
    if args:
        return queue_page(deps, client, arg=" ".join(args), offset=0)
    with read_scope(deps.engine) as session:
        saved = saved_views.queue_filter(session=session, user_id=user_id)
    if not saved:
        return queue_page(deps, client, arg="", offset=0)
    try:
        filters = queue_filter.parse(saved, tags=deps.case_tags)
    except queue_filter.FilterError:  # a tag removed since it was saved: the whole queue, and why
        return queue_page(deps, client, arg="", offset=0, notice=(
            f"Your saved view {queue_blocks.filter_label(saved)} no longer reads as filters (a tag or rule it names "
            "may be gone), so this is every waiting case; change it with *Filter…* on App Home."))
    return _queue(deps, client, filters, offset=0, notice=(
        f"Your saved view from App Home: {queue_blocks.filter_label(saved)}. `/social queue all` shows every "
        "waiting case."))


def author_cmd(deps: Deps, client: WebClient | None, args: list[str], user_id: str) -> Reply:
    if len(args) != 1 or not HANDLE.match(args[0]):
        return usage("author")
    return list_page(deps, client, view="author", arg=lookups.normalize_handle(args[0]), user_id=user_id, offset=0)


def stats_cmd(deps: Deps, args: list[str]) -> Reply:
    if len(args) > 1:
        return usage("stats")
    period = args[0].lower() if args else "today"
    if period not in PERIODS:
        return usage("stats", f"`{escape(args[0][:40])}` is not a period socialdesk knows.")
    since, until = period_bounds(period, deps.clock(), deps.tz)
    with read_scope(deps.engine) as session:
        counted = figures.figures(session=session, start=since, end=until, tz=deps.tz)
    label = {"today": "today", "7d": "last 7 days", "30d": "last 30 days"}[period] + f" ({deps.tz.key})"
    return blocks.stats_reply(counted, period=label)


def incidents_cmd(deps: Deps, client: WebClient | None, args: list[str]) -> Reply:
    if args:
        return usage("incidents")
    with read_scope(deps.engine) as session:
        items = incidents.open_incidents(session=session, limit=INCIDENTS_LISTED)
    return incident_blocks.incidents_reply(items, permalinks=permalinks(client, items), limit=INCIDENTS_LISTED)


def search_page(deps: Deps, client: WebClient | None, *, text: str, offset: int) -> Reply:
    """One page of `/social search <text>` (also what Prev/Next ask for)."""
    if not text.strip():
        return usage("search")
    try:
        query = search_query.parse(text)
    except search_query.QueryError as exc:
        return plain(escape(str(exc)[:500]))
    now = deps.clock()
    with read_scope(deps.engine) as session:
        page = search_store.search(session=session, query=query, now=now, limit=PAGE_SIZE, offset=offset)
    links = permalinks(client, page.hits[:PAGE_SIZE])
    return blocks.search_reply(page, text=text, offset=offset, limit=PAGE_SIZE, permalinks=links, now=now)


def subcommand_help(name: str) -> Reply:
    return long_plain(f"{SUBCOMMAND_HELP[name]}\n`/social help` lists every command.")


def answer(deps: Deps, client: WebClient | None, *, user_id: str, text: str, channel_id: str = "") -> Reply:
    words = text.split()
    if not words or words[0].lower() in HELP_WORDS:
        topic = words[1].lower() if len(words) == 2 else ""
        return subcommand_help(topic) if topic in SUBCOMMAND_HELP else long_plain(HELP)
    name, args = words[0].lower(), words[1:]
    if name in SUBCOMMAND_HELP and asks_for_help(args, words_are_data=name == "search"):
        return subcommand_help(name)
    if name == "case":
        return case_cmd(deps, client, args)
    if name == "mine":
        if args:
            return usage("mine")
        return list_page(deps, client, view=name, arg="", user_id=user_id, offset=0)
    if name == "queue":
        return queue_cmd(deps, client, args, user_id)
    if name == "author":
        return author_cmd(deps, client, args, user_id)
    if name == "stats":
        return stats_cmd(deps, args)
    if name == "incidents":
        return incidents_cmd(deps, client, args)
    if name == "search":
        return search_page(deps, client, text=text.strip()[len(words[0]):].strip(), offset=0)
    if name in MORE:
        run, _ = MORE[name]
        return run(deps, client, user_id=user_id, args=args, text=text.strip()[len(words[0]):].strip(),
                   channel_id=channel_id)
    return long_plain(f"`/social {escape(words[0][:40])}` is not a command socialdesk knows yet.\n\n{HELP}")


def safely(what: str, build: Callable[[], Reply]) -> Reply:
    try:
        return build()
    except Exception:  # noqa: BLE001 - the person gets a short apology, the log gets the trace
        log.exception("/social %s failed", what)
        return plain("Sorry, that did not work. Try again in a moment.")


def social(ack: Ack, command: dict[str, Any], client: WebClient, respond: Respond, *, deps: Deps) -> None:
    """`/social …`: the answer goes back in the ack when it is ready within ANSWER_BUDGET
    (lookups are reads, which never wait for a writer); otherwise the ack says it is coming
    and the answer follows through the command's response_url."""
    text = command.get("text") or ""
    words = text.split()
    what = words[0][:40] if words else "help"
    # A lookup or a help only reads: it is answered in the ack even while the database is locked, without
    # waiting for the replay check (which writes). Anything else waits for it, and a replay does nothing.
    reads_only = what.lower() not in MORE or asks_for_help(words[1:])
    with replay_harmless() if reads_only else contextlib.nullcontext(), awaited_by_ack():
        pending = deps.later(safely, what, lambda: answer(deps, client, user_id=command.get("user_id", ""),
                                                          text=text, channel_id=command.get("channel_id", "")))
    try:
        reply = pending.result(timeout=ANSWER_BUDGET)
    except FutureTimeout:
        ack(response_type="ephemeral", text=f"Working on `/social {escape(what)}`; the answer follows here.")
        pending.add_done_callback(lambda done: answer_late(done, respond, deps, what))
        return
    except Replayed:  # another replica answered it: an empty ack, as for any replay
        ack()
        return
    ack(response_type="ephemeral", **reply.as_kwargs())
    if reply.after is not None:  # slow work (an upload, a digest) runs after the ack
        deps.later(reply.after)  # tells the person itself how it went (chat.postEphemeral or a DM)


def answer_late(done: Future[Reply], respond: Respond, deps: Deps, what: str) -> None:
    if isinstance(done.exception(), Replayed):
        return
    reply = done.result()  # `safely` turned any failure into an apology
    try:
        respond(response_type="ephemeral", **reply.as_kwargs())
    except Exception:  # noqa: BLE001 - the response_url may have expired (30 minutes); the log says so
        log.exception("the answer to /social %s could not be delivered", what)
        return
    if reply.after is not None:
        deps.later(reply.after)


def page_clicked(ack: Ack, body: dict[str, Any], respond: Respond, client: WebClient, *, deps: Deps) -> None:
    ack()
    deps.later(show_page, body, respond, client, deps)


def show_page(body: dict[str, Any], respond: Respond, client: WebClient, deps: Deps) -> None:
    """Prev/Next on a list: the page replaces the ephemeral message (only response_url can)."""
    parsed = blocks.parse_nav_value(action_value(body))
    if parsed is None or not (parsed[0] in NAV_VIEWS and 0 <= parsed[2] <= MAX_OFFSET
                              and len(parsed[1]) <= blocks.BUTTON_VALUE_LIMIT):
        reply = plain("That list is no longer available; run the command again.")
    else:
        view, arg, offset = parsed
        user_id = (body.get("user") or {}).get("id", "")
        if view == "search":
            reply = safely(view, lambda: search_page(deps, client, text=arg, offset=offset))
        else:
            reply = safely(view, lambda: list_page(deps, client, view=view, arg=arg, user_id=user_id,
                                                   offset=offset))
    respond(replace_original=True, response_type="ephemeral", **reply.as_kwargs())


def register(app: App, deps: Deps) -> None:
    app.command("/social")(with_deps(social, deps))
    app.action(re.compile(f"^({ids.LOOKUP_PREV}|{ids.LOOKUP_NEXT})$"))(with_deps(page_clicked, deps))
