"""`socialdesk forget` (remove everything about one person) and `socialdesk purge` (retention now).

`forget` first shows what it would remove (the same deletion, rolled back), then asks;
`--yes` skips the question. The database is changed in one transaction; then, when
SLACK_BOT_TOKEN is set, the cards that showed the person are deleted from Slack (or,
where Slack refuses, replaced with "Removed at the customer's request.") and each
message's fate is printed, so nothing is left unaccounted for.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from socialdesk.cli.common import EXIT_USAGE, CliError, open_store
from socialdesk.domain import without_controls
from socialdesk.networks import registry

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from socialdesk.config import Settings
    from socialdesk.jobs.retention import RetentionCounts
    from socialdesk.store import forget as store


def add_parser(subparsers) -> None:  # type: ignore[no-untyped-def]
    forget = subparsers.add_parser(
        "forget", help="remove everything stored about one person (a privacy request)",
        description="Remove an author, all their posts, every case they are the customer of (with notes, replies, "
                    "FAQ entries and webhook deliveries), redact their @handle elsewhere, and delete the Slack "
                    "cards that showed them. Shows what it would remove and asks first, unless --yes. Exits 2 "
                    "when nothing was removed: not confirmed, or no terminal to ask on and no --yes.")
    forget.add_argument("--network", required=True, choices=registry.names(), help="the network of their account")
    forget.add_argument("--author", required=True, metavar="HANDLE",
                        help="their handle ('@' optional, any case) or their account id on the network")
    forget.add_argument("--yes", action="store_true", help="remove without asking")
    forget.set_defaults(func=cmd_forget)
    purge = subparsers.add_parser(
        "purge", help="apply the retention settings now (SOCIALDESK_RETENTION_RAW_DAYS, …_CLOSED_DAYS)",
        description="Drop raw payloads older than SOCIALDESK_RETENTION_RAW_DAYS and delete resolved or ignored "
                    "cases quiet for longer than SOCIALDESK_RETENTION_CLOSED_DAYS, as the running app does every six "
                    "hours.")
    purge.add_argument("--dry-run", action="store_true", help="only count what would be removed")
    purge.set_defaults(func=cmd_purge)


def _counts(counts: dict[str, int]) -> str:
    return "\n".join(f"  {table:<20} {n:>7}" for table, n in counts.items())


def _describe(report: store.ForgetReport, *, done: bool) -> None:
    verb = "Removed" if done else "Would remove"
    print(without_controls(f"{verb} everything about @{report.handle} ({report.name}, {report.network} account "
                           f"{report.external_id}):"))
    print("rows deleted per table:" if done else "rows to delete per table:")
    print(_counts(report.deleted))
    if report.redacted:
        print(f"rows that stay, with their @handle or post ids {'redacted' if done else 'to redact'}:")
        print(_counts(report.redacted))
    cards = [m for m in report.messages if m.what == "card"]
    follow_ups = [m for m in report.messages if m.what == "follow-up"]
    print(f"In Slack, {len(cards)} card{'s' if len(cards) != 1 else ''} and {len(follow_ups)} follow-up "
          f"message{'s' if len(follow_ups) != 1 else ''} in other cards' threads showed them"
          + (f"; {len(report.cards_to_refresh)} other card(s) show their handle" if report.cards_to_refresh else ""))
    for rule_id in report.rules_naming_them:
        print(f"note: rule #{rule_id}'s query names @{report.handle}; it is not changed: edit it or "
              f"`socialdesk rules remove {rule_id}`")


def cmd_forget(settings: Settings, args: argparse.Namespace) -> int:
    from sqlmodel import Session

    from socialdesk.store import forget as store
    from socialdesk.store.db import session_scope

    engine = open_store(settings)
    try:
        with Session(engine) as session:  # the real deletion, rolled back: exact counts, nothing changed
            preview = store.forget_author(session=session, network=args.network, handle=args.author)
            session.rollback()
    except (store.AuthorNotFound, store.AmbiguousAuthor) as exc:
        raise CliError(str(exc)) from None
    if not args.yes:
        _describe(preview, done=False)
        if not _confirmed():
            # Not 0: a script that ran it without --yes must not take it as done.
            print("Nothing was removed. Run again with --yes to remove it.")
            return EXIT_USAGE
    with session_scope(engine) as session:
        report = store.forget_author(session=session, network=args.network, handle=args.author)
    _checkpoint(engine)
    _describe(report, done=True)
    _slack(settings, engine, report)
    return 0


def _confirmed() -> bool:
    if not sys.stdin.isatty():
        return False
    try:
        return input("Remove all of this for good? Type yes: ").strip().lower() == "yes"
    except EOFError:  # Ctrl-D
        print()  # the prompt's line ends before what follows
        return False


def _checkpoint(engine: Engine) -> None:
    """SQLite: move the zeroed pages out of the write-ahead log into the file, and empty the log."""
    if engine.dialect.name != "sqlite":
        return
    conn = engine.raw_connection()  # outside any transaction: a checkpoint cannot run inside one
    try:
        conn.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)")
    except Exception as exc:  # noqa: BLE001 - the removal is committed; only the log's old pages remain
        print(f"note: the SQLite write-ahead log was not emptied ({exc}); it is, at the next checkpoint")
    finally:
        conn.close()


def _slack(settings: Settings, engine: Engine, report: store.ForgetReport) -> None:
    if not report.messages and not report.cards_to_refresh:
        return
    if settings.slack_bot_token is None:
        print("Slack is not configured (SLACK_BOT_TOKEN is not set), so these messages still show them; "
              "delete them in Slack:")
        for m in report.messages:
            print(f"  {m.what} of case #{m.case_id}: channel {m.channel_id}, ts {m.ts}")
        for case_id in report.cards_to_refresh:
            print(f"  card of case #{case_id} shows their handle: it is redacted at the card's next update")
        return
    from slack_sdk import WebClient

    from socialdesk.jobs.retention import refresh_cards, remove_messages

    slack = WebClient(token=settings.slack_bot_token.get_secret_value(), base_url=settings.slack_api_url, timeout=15)
    print("Slack:")
    for line in remove_messages(slack, report.messages) + refresh_cards(slack, engine, report.cards_to_refresh):
        print(f"  {line}")


def _purge_lines(settings: Settings, counts: RetentionCounts, *, dry_run: bool) -> list[str]:
    lines = []
    if settings.retention_raw_days:
        lines.append(f"raw payloads {'to drop' if dry_run else 'dropped'}: {counts.raw_payloads} posts fetched more "
                     f"than {settings.retention_raw_days} days ago")
    else:
        lines.append("raw payloads: kept (SOCIALDESK_RETENTION_RAW_DAYS=0)")
    if settings.retention_closed_days:
        lines.append(f"resolved/ignored cases quiet for more than {settings.retention_closed_days} days, rows "
                     f"{'to delete' if dry_run else 'deleted'} per table:")
        lines.append(_counts(counts.deleted))
    else:
        lines.append("closed cases: kept (SOCIALDESK_RETENTION_CLOSED_DAYS=0)")
    return lines


def cmd_purge(settings: Settings, args: argparse.Namespace) -> int:
    from socialdesk.jobs.retention import RetentionJob
    from socialdesk.store.db import utcnow

    job = RetentionJob.from_settings(settings, engine=open_store(settings), clock=utcnow)
    counts = job.run_once(dry_run=args.dry_run)
    for line in _purge_lines(settings, counts, dry_run=args.dry_run):
        print(line)
    if args.dry_run:
        print("Nothing was removed (--dry-run).")
    return 0
