"""`/social digest …`: post a digest now, and manage the scheduled ones.

Targets can be written as Slack sends them when the command escapes mentions
(`<#C123|social-care>`, `<@U123|mia>`), as plain ids (`C123`, `U123`), or as plain
names (`#social-care`, `@mia`), which are looked up with conversations.list /
users.list (a few pages at most, so the answer stays within Slack's 3 seconds).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from socialdesk.jobs.digest import DigestResult, post_digest
from socialdesk.listeners.deps import Deps
from socialdesk.schedules import parse_schedule
from socialdesk.slack.blocks.lookup import Reply, plain
from socialdesk.slack.text import escape
from socialdesk.store import digests as digest_store
from socialdesk.store.db import read_scope, session_scope
from socialdesk.store.figures import PeriodKind, period_info

log = logging.getLogger(__name__)

HELP = (
    "• `/social digest now [day|week|today] [#channel|@person …]` — post the figures of the last complete day "
    "(or week, or today so far) and the backlog now; here by default\n"
    "• `/social digest schedule daily 09:00 [#channel|@person …]` — post a digest every day "
    "(or `weekly mon 09:00`) in the team's time zone; here by default (admins)\n"
    "• `/social digest list` — the scheduled digests\n"
    "• `/social digest pause|resume|remove <n>` — stop, restart or delete scheduled digest n (admins)\n"
)
USAGE = {
    "now": "Usage: `/social digest now [day|week|today] [#channel|@person …]`, e.g. `/social digest now week #managers` "
           "or `/social digest now today` (so far today).",
    "schedule": "Usage: `/social digest schedule daily 09:00 [#channel|@person …]` or "
                "`/social digest schedule weekly mon 09:00 @mia` (times in the team's time zone).",
    "list": "Usage: `/social digest list` (no arguments).",
    "manage": "Usage: `/social digest {verb} <n>`, where n is a number from `/social digest list`.",
}
OVERVIEW = "What should socialdesk do with digests?\n" + HELP
KINDS: dict[str, PeriodKind] = {"day": "day", "daily": "day", "yesterday": "day", "week": "week", "weekly": "week",
                                "today": "today"}
PERIOD_WORDS = {"day": "yesterday", "week": "last week", "today": "so far today"}
_ESCAPED = re.compile(r"^<([#@])([A-Z0-9]{2,30})(?:\|[^>]*)?>$")
_PLAIN_ID = re.compile(r"^[CGUW][A-Z0-9]{2,30}$")
_NAME = re.compile(r"^([#@])([\w.\-]{1,80})$")
LOOKUP_PAGES = 3  # name lookups: at most this many pages of 1000
MAX_SCHEDULE_ID = 2**31 - 1


class TargetError(ValueError):
    """A target the command cannot use; the message is fit to show (already escaped)."""


def run(deps: Deps, client: WebClient | None, *, user_id: str, args: list[str], text: str,
        channel_id: str = "") -> Reply:
    if not args:
        return plain(OVERVIEW)
    verb, rest = args[0].lower(), args[1:]
    if verb == "now":
        return now_cmd(deps, client, user_id=user_id, args=rest, channel_id=channel_id)
    if verb == "schedule":
        return schedule_cmd(deps, client, user_id=user_id, args=rest, channel_id=channel_id)
    if verb == "list":
        return plain(USAGE["list"]) if rest else list_cmd(deps)
    if verb in ("pause", "resume", "remove", "delete"):
        return manage_cmd(deps, user_id=user_id, verb="remove" if verb == "delete" else verb, args=rest)
    return plain(f"`/social digest {escape(args[0][:40])}` is not a digest command.\n{HELP}")


# -- targets -------------------------------------------------------------------------------------


def mention(target: str) -> str:
    return f"<@{target}>" if target[:1] in ("U", "W") else f"<#{target}>"


def mentions(targets: Iterable[str]) -> str:
    return ", ".join(mention(t) for t in targets)


def here(channel_id: str, user_id: str) -> str:
    """The default target: the channel the command was typed in; a DM with the bot means the person."""
    return channel_id if channel_id[:1] in ("C", "G") else user_id


def parse_targets(client: WebClient | None, words: list[str]) -> list[str]:
    targets = [parse_target(client, word) for word in words]
    return list(dict.fromkeys(targets))


def parse_target(client: WebClient | None, word: str) -> str:
    escaped = _ESCAPED.match(word)
    if escaped and _PLAIN_ID.match(escaped[2]):
        return escaped[2]
    if _PLAIN_ID.match(word):
        return word
    named = _NAME.match(word)
    if named and client is not None:
        found = find_channel(client, named[2]) if named[1] == "#" else find_user(client, named[2])
        if found:
            return found
        what = "channel socialdesk can see" if named[1] == "#" else "person in this workspace"
        hint = " (invite @socialdesk to a private channel first)" if named[1] == "#" else ""
        raise TargetError(f"`{escape(word[:80])}` is not a {what}{hint}.")
    raise TargetError(f"`{escape(word[:80])}` is not a channel or a person: write `#channel` or `@person`.")


def find_channel(client: WebClient, name: str) -> str | None:
    cursor = ""
    for _ in range(LOOKUP_PAGES):
        page = client.conversations_list(types="public_channel,private_channel", exclude_archived=True,
                                         limit=1000, cursor=cursor or None)
        for channel in page.get("channels") or []:
            if channel.get("name") == name.lower():
                return channel["id"]
        cursor = (page.get("response_metadata") or {}).get("next_cursor") or ""
        if not cursor:
            return None
    return None


def find_user(client: WebClient, name: str) -> str | None:
    wanted = name.lower()
    cursor = ""
    for _ in range(LOOKUP_PAGES):
        page = client.users_list(limit=1000, cursor=cursor or None)
        for user in page.get("members") or []:
            profile = user.get("profile") or {}
            names = {user.get("name"), profile.get("display_name"), profile.get("display_name_normalized")}
            if not user.get("deleted") and wanted in {str(n).lower() for n in names if n}:
                return user["id"]
        cursor = (page.get("response_metadata") or {}).get("next_cursor") or ""
        if not cursor:
            return None
    return None


# -- admins --------------------------------------------------------------------------------------


def refusal(deps: Deps, action: str) -> Reply:
    admins = sorted(deps.settings.admin_set) if deps.settings is not None else []
    whom = (", ".join(f"<@{a}>" for a in admins) + " or a workspace admin") if admins else "a workspace admin"
    return plain(f"Only socialdesk admins can {action}: ask {whom}.")


# -- now -----------------------------------------------------------------------------------------


def now_cmd(deps: Deps, client: WebClient | None, *, user_id: str, args: list[str], channel_id: str) -> Reply:
    kind: PeriodKind = "day"
    if args and args[0].lower() in KINDS:
        kind, args = KINDS[args[0].lower()], args[1:]
    try:
        targets = parse_targets(client, args) or [here(channel_id, user_id)]
    except TargetError as exc:
        return plain(f"{exc}\n{USAGE['now']}")
    except SlackApiError as exc:
        return plain(f"Slack did not answer the name lookup ({escape(str(exc.response.get('error')))}); "
                     f"try again, or pick the channel from Slack's #-menu.\n{USAGE['now']}")
    elsewhere = [t for t in targets if t not in (channel_id, user_id)]
    if elsewhere and not deps.is_admin(user_id):
        return refusal(deps, "post a digest to other channels or people; without naming any, it is posted here")
    if client is None:
        return plain("socialdesk cannot reach Slack right now; try again in a minute.")
    info, _, _ = period_info(kind, now=deps.clock(), tz=deps.tz)
    label = f"{PERIOD_WORDS[kind]} ({escape(info.label)})"

    def post() -> None:
        try:
            result = post_digest(engine=deps.engine, slack=client, clock=deps.clock, tz=deps.tz, targets=targets,
                                 kind=kind, meter=deps.spend_meter())
        except Exception:  # noqa: BLE001 - the person hears about it, the log gets the trace
            log.exception("digest now for %s failed", targets)
            text = "Sorry, the digest could not be made. Try again in a minute; if it keeps failing, check the app's log."
        else:
            text = outcome(result, label)
        tell(client, channel_id=channel_id, user_id=user_id, text=text)

    answer = plain(f"Posting the digest for {label} to {mentions(targets)}…")
    return Reply(text=answer.text, blocks=answer.blocks, after=post)


def outcome(result: DigestResult, label: str) -> str:
    lines = []
    if result.posted:
        lines.append(f"The digest for {label} is posted to {mentions(result.posted)}.")
    for target, error in result.failed.items():
        hint = {
            "not_in_channel": "invite @socialdesk to the channel (`/invite @socialdesk`) and try again",
            "channel_not_found": "socialdesk cannot see that channel; invite @socialdesk to it",
            "is_archived": "the channel is archived; pick another one",
            "user_not_found": "that person is not in the workspace any more",
            "cannot_dm_bot": "bots cannot get digests; pick a person",
        }.get(error, "try again in a minute; if it keeps failing, check the app's log")
        lines.append(f"Could not post it to {mention(target)} ({escape(error)}): {hint}.")
    return "\n".join(lines) or "There was nobody to post the digest to."


def tell(client: WebClient, *, channel_id: str, user_id: str, text: str) -> None:
    """An ephemeral note where the command was typed; a DM when that is not possible."""
    if channel_id:
        try:
            client.chat_postEphemeral(channel=channel_id, user=user_id, text=text)
            return
        except SlackApiError as exc:
            log.info("no ephemeral in %s: %s", channel_id, exc.response.get("error"))
    dm = client.conversations_open(users=user_id)["channel"]["id"]
    client.chat_postMessage(channel=dm, text=text)


# -- schedules -----------------------------------------------------------------------------------


def schedule_cmd(deps: Deps, client: WebClient | None, *, user_id: str, args: list[str], channel_id: str) -> Reply:
    if not deps.is_admin(user_id):
        return refusal(deps, "schedule digests")
    words = 2 if args and args[0].lower() == "daily" else 3 if args and args[0].lower() == "weekly" else 0
    if not words or len(args) < words:
        return plain(USAGE["schedule"])
    spec = " ".join(args[:words])
    try:
        parse_schedule(spec, tz=deps.tz)
        targets = parse_targets(client, args[words:]) or [here(channel_id, user_id)]
        with session_scope(deps.engine) as session:
            row = digest_store.add_schedule(session=session, spec=spec, targets=targets, created_by=user_id,
                                            now=deps.clock())
            schedule_id, canonical = row.id, row.spec
    except TargetError as exc:
        return plain(f"{exc}\n{USAGE['schedule']}")
    except ValueError as exc:
        return plain(f"That is {escape(str(exc))}.\n{USAGE['schedule']}")
    except SlackApiError as exc:
        return plain(f"Slack did not answer the name lookup ({escape(str(exc.response.get('error')))}); "
                     f"try again.\n{USAGE['schedule']}")
    when = next_fire(canonical, deps)
    return plain(f"Scheduled digest {schedule_id}: {canonical} ({escape(deps.tz.key)}) to {mentions(targets)}. "
                 f"The first one comes {when} ({escape(deps.tz.key)}). `/social digest list` shows the schedules; "
                 f"channels need @socialdesk in them.")


def next_fire(spec: str, deps: Deps) -> str:
    fire = parse_schedule(spec, tz=deps.tz).trigger.get_next_fire_time(None, deps.clock())
    if fire is None:
        return "never"
    return fire.astimezone(deps.tz).strftime("%a %-d %b %H:%M")


def list_cmd(deps: Deps) -> Reply:
    with read_scope(deps.engine) as session:
        rows = digest_store.list_schedules(session=session)
    if not rows:
        return plain("No digests are scheduled. An admin can add one: `/social digest schedule daily 09:00`.")
    lines = [f"*Scheduled digests* (times in {escape(deps.tz.key)})"]
    for row in rows:
        state = "paused" if row.paused else f"next {next_fire(row.spec, deps)}"
        lines.append(f"• *{row.id}* · {escape(row.spec)} → {mentions(row.targets)} · {state} · "
                     f"added by <@{row.created_by}>")
    lines.append("Admins: `/social digest pause|resume|remove <n>`.")
    return plain("\n".join(lines))


def manage_cmd(deps: Deps, *, user_id: str, verb: str, args: list[str]) -> Reply:
    usage = USAGE["manage"].format(verb=verb)
    if len(args) != 1:
        return plain(usage)
    raw = args[0].lstrip("#")
    if not raw.isascii() or not raw.isdigit() or int(raw) > MAX_SCHEDULE_ID:
        return plain(f"`{escape(args[0][:40])}` is not a schedule number.\n{usage}")
    if not deps.is_admin(user_id):
        return refusal(deps, f"{verb} scheduled digests")
    schedule_id = int(raw)
    with session_scope(deps.engine) as session:
        if verb == "remove":
            done = digest_store.remove_schedule(session=session, schedule_id=schedule_id)
        else:
            done = digest_store.set_paused(session=session, schedule_id=schedule_id, paused=verb == "pause")
    if not done:
        return plain(f"There is no scheduled digest {schedule_id}; `/social digest list` shows them.")
    said = {"remove": "removed", "pause": "paused; `/social digest resume {n}` restarts it",
            "resume": "running again"}[verb].format(n=schedule_id)
    return plain(f"Scheduled digest {schedule_id} is {said}.")
