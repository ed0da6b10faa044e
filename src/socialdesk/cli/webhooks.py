"""`socialdesk webhooks …`: outbound webhooks for CRMs, and their delivery log."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from socialdesk.cli.common import EXIT_ENVIRONMENT, CliError, int_in, open_store, record_id
from socialdesk.domain import without_controls
from socialdesk.webhook_events import EVENT_KINDS

if TYPE_CHECKING:
    from socialdesk.config import Settings

WEBHOOK_ID_HELP = "the webhook's number, as `socialdesk webhooks list` shows it"
ADD_RESOLVE_SECONDS = 5.0  # how long `add` waits for DNS to check where the URL's name points


def add_parser(subparsers) -> None:  # type: ignore[no-untyped-def]
    hooks = subparsers.add_parser(
        "webhooks", help="send case events to a CRM or any URL (signed JSON POSTs)",
        description="Case events (" + ", ".join(EVENT_KINDS) + ") are POSTed as JSON, signed with "
                    "HMAC-SHA256 in X-Socialdesk-Signature, retried with backoff for about 3 h 40 min.",
    ).add_subparsers(dest="webhooks_command", required=True, metavar="ACTION")
    add = hooks.add_parser("add", help="add a webhook; prints its signing secret once",
                           description="Add a webhook and print its signing secret (once: give it to the receiver).")
    add.add_argument("url", help="https:// address that receives the POSTs; public addresses only (a local "
                                 "receiver, over http:// too, with SOCIALDESK_WEBHOOKS_ALLOW_LOOPBACK=1)")
    add.add_argument("--events", metavar="NAMES",
                     help="comma-separated events to send, e.g. case.opened,case.resolved (default: all)")
    add.add_argument("--secret", help="the signing secret to use (default: a new random one)")
    add.set_defaults(func=_guarded(cmd_add))
    hooks.add_parser("list", help="webhooks, their state and last delivery",
                     description="List the webhooks: state, pending and failed deliveries, the last delivery.").set_defaults(func=_guarded(cmd_list))
    for name, what, func in (("remove", "delete a webhook and its delivery log", cmd_remove),
                             ("pause", "stop sending (events are kept and sent on resume)", cmd_pause),
                             ("resume", "send again, starting with what happened while paused", cmd_resume),
                             ("test", "send a test ping now and print the outcome", cmd_test),
                             ("retry", "queue the failed deliveries again (a running app sends them)", cmd_retry)):
        p = hooks.add_parser(name, help=what, description=what[:1].upper() + what[1:] + ".")
        p.add_argument("id", type=record_id, metavar="ID", help=WEBHOOK_ID_HELP)
        p.set_defaults(func=_guarded(func))
    log = hooks.add_parser("deliveries", help="the delivery log, newest first",
                           description="Print a webhook's delivery log, newest first: event, status, tries, "
                                       "HTTP code, last error.")
    log.add_argument("id", type=record_id, metavar="ID", help=WEBHOOK_ID_HELP)
    log.add_argument("--limit", type=int_in(1, 1000), default=20, metavar="N",
                     help="print the newest N deliveries, from 1 to 1000 (default 20)")
    log.set_defaults(func=_guarded(cmd_deliveries))


def _guarded(func):  # type: ignore[no-untyped-def]
    """Bad input and unknown ids are one line and exit 2, like every user error (cli/common.py)."""
    def run(settings: Settings, args: argparse.Namespace) -> int:
        from socialdesk.store import webhooks as store

        try:
            return func(settings, args)
        except (store.WebhookInvalid, store.WebhookNotFound) as exc:
            raise CliError(str(exc)) from None
    return run


def _when(value) -> str:  # type: ignore[no-untyped-def]
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else "-"


def cmd_add(settings: Settings, args: argparse.Namespace) -> int:
    from socialdesk.store import webhooks as store
    from socialdesk.store.db import session_scope, utcnow

    with session_scope(open_store(settings)) as session:
        hook = store.add_webhook(session=session, url=args.url, events=args.events, secret=args.secret,
                                 created_by="cli", now=utcnow(), allow_loopback=settings.webhooks_allow_loopback,
                                 resolve_timeout=ADD_RESOLVE_SECONDS)
    print(f"webhook {hook.id} added: {hook.url} (events: {', '.join(hook.events) or 'all'})")
    print(f"signing secret (shown once; give it to the receiver): {hook.secret}")
    print(f"check it with: socialdesk webhooks test {hook.id}")
    return 0


def cmd_list(settings: Settings, _args: argparse.Namespace) -> int:
    from socialdesk.store import webhook_deliveries as outbox
    from socialdesk.store.db import session_scope

    with session_scope(open_store(settings)) as session:
        rows = outbox.summaries(session=session)
    if not rows:
        print("no webhooks yet; add one with: socialdesk webhooks add https://crm.example.com/hooks/socialdesk")
        return 0
    print(f"{'id':>4}  {'state':6}  {'pending':>7}  {'failed':>6}  {'last delivery':40}  url / events")
    for s in rows:
        w, last = s.webhook, s.last
        latest = f"{last.status} {last.kind} {_when(last.created_at)}" if last else "none yet"
        print(f"{w.id:>4}  {'active' if w.active else 'paused':6}  {s.pending:>7}  {s.failed:>6}  {latest:40}  {w.url}")
        print(f"{'':>4}  events: {', '.join(w.events) or 'all'}")
    return 0


def cmd_remove(settings: Settings, args: argparse.Namespace) -> int:
    from socialdesk.store import webhooks as store
    from socialdesk.store.db import session_scope

    with session_scope(open_store(settings)) as session:
        store.remove_webhook(session=session, webhook_id=args.id)
    print(f"webhook {args.id} removed, with its delivery log")
    return 0


def _set_active(settings: Settings, webhook_id: int, active: bool) -> int:
    from socialdesk.store import webhooks as store
    from socialdesk.store.db import session_scope

    with session_scope(open_store(settings)) as session:
        store.set_active(session=session, webhook_id=webhook_id, active=active)
    print(f"webhook {webhook_id} {'resumed' if active else 'paused'}")
    return 0


def cmd_pause(settings: Settings, args: argparse.Namespace) -> int:
    return _set_active(settings, args.id, False)


def cmd_resume(settings: Settings, args: argparse.Namespace) -> int:
    return _set_active(settings, args.id, True)


def cmd_test(settings: Settings, args: argparse.Namespace) -> int:
    from socialdesk.jobs.webhooks import send_test_ping
    from socialdesk.store.db import utcnow

    result = send_test_ping(engine=open_store(settings), clock=utcnow, webhook_id=args.id,
                            allow_loopback=settings.webhooks_allow_loopback)
    print(f"webhook {args.id} test ping (delivery {result.delivery_id}): {result.describe()}")
    return 0 if result.outcome == "delivered" else EXIT_ENVIRONMENT  # the receiver failed, not the command


def cmd_retry(settings: Settings, args: argparse.Namespace) -> int:
    from socialdesk.store import webhook_deliveries as outbox
    from socialdesk.store.db import session_scope, utcnow

    with session_scope(open_store(settings)) as session:
        count = outbox.retry_failed(session=session, webhook_id=args.id, now=utcnow())
    if not count:
        print(f"webhook {args.id} has no failed deliveries")
    else:
        print(f"webhook {args.id}: {count} failed deliver{'y' if count == 1 else 'ies'} queued again; "
              f"the running app sends them within seconds (`socialdesk webhooks deliveries {args.id}` shows how it went)")
    return 0


def cmd_deliveries(settings: Settings, args: argparse.Namespace) -> int:
    from socialdesk.store import webhook_deliveries as outbox
    from socialdesk.store.db import session_scope

    with session_scope(open_store(settings)) as session:
        rows = outbox.deliveries(session=session, webhook_id=args.id, limit=args.limit)
    if not rows:
        print(f"webhook {args.id} has no deliveries yet; `socialdesk webhooks test {args.id}` sends one")
        return 0
    print(f"{'id':>6}  {'queued':19}  {'event':15}  {'case':>5}  {'status':9}  {'tries':>5}  {'code':>4}  "
          f"{'delivered / next try':20}  last error")
    for d in rows:
        when = _when(d.delivered_at) if d.status == "delivered" else (_when(d.next_attempt_at) if d.status == "pending" else "-")
        print(f"{d.id:>6}  {_when(d.created_at):19}  {d.kind:15}  {d.case_id or '-':>5}  {d.status:9}  {d.attempts:>5}  "
              f"{d.last_status_code or '-':>4}  {when:20}  {without_controls(d.last_error or '')[:100]}")
    return 0
