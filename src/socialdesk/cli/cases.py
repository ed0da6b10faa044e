"""`socialdesk case show ID`: a case with its posts and full history."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from socialdesk.cli.common import CliError, open_store, record_id
from socialdesk.domain import without_controls

if TYPE_CHECKING:
    from socialdesk.config import Settings

# Payload fields that hold a Slack user id (an assignment's "to"…): shown as names too.
PEOPLE_KEYS = frozenset({"to", "assignee", "approver", "approved_by", "agent", "by", "owner"})


def add_parser(commands) -> None:  # type: ignore[no-untyped-def]
    case = commands.add_parser("case", help="look at cases", description="Look at cases: what was posted, and everything done about it.").add_subparsers(dest="case_command", required=True, metavar="ACTION")
    show = case.add_parser("show", help="a case with its posts and full history",
                           description="Print a case: its customer, rule and card, its posts, and its full history.")
    show.add_argument("id", type=record_id, metavar="ID", help="the case's number, as its card shows it (\"case #12\")")
    show.add_argument("--prompts", action="store_true",
                      help="print drafted replies' prompts in full (otherwise: how many messages and characters)")
    show.set_defaults(func=cmd_case_show)


def cmd_case_show(settings: Settings, args: argparse.Namespace) -> int:
    from socialdesk.slack.names import for_cli
    from socialdesk.store import cases as case_store
    from socialdesk.store.db import session_scope

    engine = open_store(settings)
    try:
        with session_scope(engine) as session:
            view = case_store.case_view(session=session, case_id=args.id)
            history = case_store.events(session=session, case_id=args.id)
            posts = case_store.posts_of(session=session, case_id=args.id)
    except case_store.CaseNotFound as exc:
        raise CliError(f"{exc}; cases are numbered on their cards (\"case #12\")") from None
    finally:
        engine.dispose()
    names = for_cli(settings)  # people as "@alice" (with SLACK_BOT_TOKEN), else their Slack ids
    author = view.post.author
    print(f"case #{view.case_id} · {view.status.value} · {view.priority} priority"
          + (f" · owner {names(view.assignee)}" if view.assignee else "") + (f" · tags {', '.join(view.tags)}" if view.tags else ""))
    # A customer's text (and handle, name, link) is printed without control characters: a post could
    # otherwise clear the operator's screen or rename their terminal.
    print(without_controls(f"  {view.post.network} @{author.handle} ({author.name}, {author.followers} followers) · "
                           f"{view.post.url}"))
    print(f"  rule: {without_controls(view.rule_query or '(removed)')} · channel {view.channel_id} · card ts {view.message_ts or '(not posted yet)'}")
    for line in outcome_lines(view):
        print(f"  {line}")
    print("posts:")
    for post in posts:
        print(f"  {post.created_at:%Y-%m-%d %H:%M} " + without_controls(f"{post.url}\n    " + post.text.replace("\n", "\n    ")))
    print("history:")
    for event in history:
        payload = dict(event.payload or {})
        if event.kind == "reply_drafted" and isinstance(payload.get("prompt"), list):
            messages = [m for m in payload["prompt"] if isinstance(m, dict)]
            if getattr(args, "prompts", False):
                payload.pop("prompt")
                prompt = "".join(f"\n    [{m.get('role')}] " + str(m.get("content", "")).replace("\n", "\n    ")
                                 for m in messages)
            else:
                chars = sum(len(str(m.get("content", ""))) for m in messages)
                payload["prompt"] = f"{len(messages)} messages, {chars:,} characters (--prompts prints them)"
                prompt = ""
        else:
            prompt = ""
        for key in PEOPLE_KEYS & payload.keys():
            if isinstance(payload[key], str):
                payload[key] = names(payload[key])
        details = " ".join(f"{k}={v!r}" for k, v in payload.items() if v is not None)
        print(without_controls(f"  {event.at:%Y-%m-%d %H:%M:%S} {event.kind:<16} {names(event.actor):<12} {details}".rstrip()
                               + prompt))
    return 0


def outcome_lines(view) -> list[str]:  # type: ignore[no-untyped-def]
    """How it was resolved, and the duplicates it is linked with (both ways)."""
    from socialdesk.domain import outcome_label

    lines = []
    label = outcome_label(view.outcome, view.duplicate_of)
    if label and view.status.value == "resolved":
        see = f" (socialdesk case show {view.duplicate_of})" if view.duplicate_of else ""
        lines.append(f"outcome: {label}{see}")
    if view.duplicates:
        lines.append("duplicates: " + ", ".join(f"case #{d}" for d in view.duplicates))
    return lines
