"""`socialdesk faq list [--all]` and `socialdesk faq withdraw ID`: curated entries ("Save as FAQ")."""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import TYPE_CHECKING

from socialdesk.cli.common import CliError, open_store, record_id
from socialdesk.domain import without_controls

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from socialdesk.config import Settings
    from socialdesk.store.models import CuratedEntryRow

QUESTION_WIDTH = 60


def add_parser(subparsers) -> None:  # type: ignore[no-untyped-def]
    faq = subparsers.add_parser("faq", help="FAQ entries curated from resolved cases",
                                description="FAQ entries agents saved from resolved cases (the 📖 Save as FAQ button).")
    actions = faq.add_subparsers(dest="faq_command", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="list active FAQ entries (--all: withdrawn ones too)",
                                 description="List the active FAQ entries, newest first (--all: withdrawn ones too).")
    listing.add_argument("--all", action="store_true", help="also list withdrawn entries")
    listing.set_defaults(func=cmd_faq_list)
    withdraw = actions.add_parser("withdraw", help="withdraw a FAQ entry (its case and history stay)",
                                  description="Withdraw a FAQ entry: exports leave it out; its case and history stay. "
                                              "With SLACK_BOT_TOKEN set, the case's card shows it.")
    withdraw.add_argument("id", type=record_id, metavar="ID", help="the entry's number, as `socialdesk faq list` shows it")
    withdraw.set_defaults(func=cmd_faq_withdraw)


def _one_line(text: str, width: int) -> str:
    flat = " ".join(without_controls(text).split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def cmd_faq_list(settings: Settings, args: argparse.Namespace) -> int:
    from socialdesk.slack.names import for_cli
    from socialdesk.store import curated
    from socialdesk.store.db import session_scope

    engine = open_store(settings)
    try:
        with session_scope(engine) as session:
            entries = curated.list_entries(session=session, status=None if args.all else curated.ACTIVE)
    finally:
        engine.dispose()
    if not entries:
        print("no FAQ entries" + ("" if args.all else " active (--all shows withdrawn ones)")
              + "; save one with the 📖 Save as FAQ button on a resolved case's card")
        return 0
    names = for_cli(settings)  # "@alice" (with SLACK_BOT_TOKEN), else the Slack id
    print(f"{'id':>4}  {'case':>5}  {'status':9}  {'updated':16}  {'by':16}  {'tags':20}  question")
    for e in entries:
        tags = _one_line(",".join(e.tags or ()), 20)
        by = _one_line(names(e.updated_by) or "", 16)
        print(f"{e.id:>4}  {e.case_id:>5}  {e.status:9}  {e.updated_at:%Y-%m-%d %H:%M}  {by:16}  "
              f"{tags:20}  {_one_line(e.question, QUESTION_WIDTH)}")
    return 0


def _operator() -> str:
    """Who ran the command, for the case history (the CLI has no Slack user)."""
    try:
        return f"cli:{getpass.getuser()}"[:64]
    except (KeyError, OSError):
        return "cli"


def cmd_faq_withdraw(settings: Settings, args: argparse.Namespace) -> int:
    from socialdesk.store import curated
    from socialdesk.store.db import session_scope, utcnow

    engine = open_store(settings)
    try:
        with session_scope(engine) as session:
            entry = curated.withdraw_entry(session=session, entry_id=args.id, actor=_operator(), now=utcnow())
        print(f"FAQ entry #{entry.id} withdrawn (case #{entry.case_id})")
        if settings.slack_bot_token:
            _show_in_slack(settings, engine, entry)
    except (curated.EntryNotFound, curated.EntryWithdrawn) as exc:
        raise CliError(str(exc)) from None
    finally:
        engine.dispose()
    return 0


def _show_in_slack(settings: Settings, engine: Engine, entry: CuratedEntryRow) -> None:
    """Update the case's card and the entry's thread line, as a withdrawal from Slack does.
    The entry is withdrawn already: a Slack failure only leaves them stale, and says so."""
    from slack_sdk import WebClient
    from slack_sdk.errors import SlackApiError

    from socialdesk.listeners.faq import show_entry
    from socialdesk.slack import cards
    from socialdesk.store import cases as case_store
    from socialdesk.store.db import session_scope

    try:
        with session_scope(engine) as session:
            view = case_store.case_view(session=session, case_id=entry.case_id, policy=settings.sla_policy)
        client = WebClient(token=settings.slack_bot_token.get_secret_value(),  # type: ignore[union-attr]
                           base_url=settings.slack_api_url, timeout=15)
        cards.update_card(client, view)
        show_entry(client, view, entry)
    except (case_store.CaseNotFound, SlackApiError, OSError) as exc:
        print(f"note: Slack was not updated ({exc}); the card shows 📖 Save as FAQ again the next time the "
              "case changes, and the entry's thread buttons answer that it was withdrawn", file=sys.stderr)
