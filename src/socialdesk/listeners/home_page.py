"""Drawing App Home for one person: read what it shows, then `views.publish` it.

Apart from listeners.home (the Home's buttons and forms) so that other listeners (a queue
row's Claim, an assignment made from the Home) can re-publish it without importing them.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time
from typing import Any

from slack_sdk import WebClient

from socialdesk import queue_filter
from socialdesk.health import IDLE, OK, PAUSED, Health, label_of, read_health
from socialdesk.listeners.commands import permalinks
from socialdesk.listeners.deps import Deps
from socialdesk.slack.blocks.home import Home, HomeSettings, home_view
from socialdesk.slack.text import escape
from socialdesk.store import digests as digest_store
from socialdesk.store import figures as figure_store
from socialdesk.store import lookups, saved_views
from socialdesk.store import sla as sla_store
from socialdesk.store import webhooks as webhook_store
from socialdesk.store.db import read_scope
from socialdesk.store.views import SourceView, digest_view, rule_view, webhook_view

LIST_LIMIT = 10


def today_start(now: datetime, deps: Deps) -> datetime:
    """Midnight of the team's local day, in UTC."""
    return datetime.combine(now.astimezone(deps.tz).date(), time(0), tzinfo=deps.tz).astimezone(UTC)


def stale_filter(saved: str, problem: queue_filter.FilterError) -> str:
    return (f"Your saved queue filter `{escape(saved[:200])}` no longer works ({str(problem).split('. ')[0]}), "
            "so every waiting case is shown. *Filter…* sets another.")


def load_home(deps: Deps, client: WebClient | None, user_id: str, *, notice: str | None = None) -> Home:
    now = deps.clock()
    admin = deps.is_admin(user_id)
    with read_scope(deps.engine) as session:
        saved = saved_views.queue_filter(session=session, user_id=user_id)
        try:
            filters = queue_filter.parse(saved, tags=deps.case_tags)
        except queue_filter.FilterError as exc:  # e.g. a tag taken out of SOCIALDESK_TAGS since it was saved
            filters, notice = queue_filter.QueueFilter(), notice or stale_filter(saved, exc)
        mine = lookups.my_cases(session=session, user_id=user_id, limit=LIST_LIMIT, offset=0)
        queue = lookups.queue(session=session, limit=LIST_LIMIT, offset=0, policy=deps.sla_policy, filters=filters)
        at_risk = sla_store.at_risk(session=session, now=now, policy=deps.sla_policy) if deps.sla_policy else []
        today = figure_store.figures(session=session, start=today_start(now, deps), end=now, tz=deps.tz)
        health = read_health(session=session, networks=deps.networks, now=now, budget_paused=deps.budget_paused)
        sources = source_views(health, deps)
        managed: dict[str, Any] = {}
        if admin:
            managed = dict(rules=[replace(rule_view(r), health=state.text(), healthy=state.state in FINE)
                                  for r, state in health.rules],
                           digests=[digest_view(d) for d in digest_store.list_schedules(session=session)],
                           webhooks=[webhook_view(w) for w in webhook_store.list_webhooks(session=session)])
    links = permalinks(client, [*mine.items, *queue.items, *at_risk[:LIST_LIMIT]])
    settings = None
    if admin and deps.settings is not None:
        settings = HomeSettings.from_settings(deps.settings, saved_replies=[s.name for s in deps.saved_replies],
                                              tags=list(deps.tags))
    return Home(user_id=user_id, now=now, mine=mine, queue=queue, at_risk=at_risk, today=today, permalinks=links,
                timezone=deps.tz.key, is_admin=admin, settings=settings, notice=notice, queue_filter=filters.text(),
                sources=sources, **managed)


FINE = (OK, PAUSED)  # a rule in these states needs nobody (paused: an admin chose it)


def source_views(health: Health, deps: Deps) -> list[SourceView]:
    """Every rule and stream with its state, for the Sources section (names only: no queries)."""
    views = []
    for row, state in health.streams:
        if state.state != IDLE or row.last_error:
            views.append(SourceView(name=f"{label_of(deps.networks, row.network)} stream", state=state.state,
                                    text=state.text()))
    for rule, state in health.rules:
        views.append(SourceView(name=f"Rule {rule.id} · {label_of(deps.networks, rule.network)} {rule.kind}",
                                state=state.state, text=state.text()))
    return views


def publish(deps: Deps, client: WebClient, user_id: str, *, notice: str | None = None) -> None:
    """Show `user_id` their Home as it is now (and `notice`, safe mrkdwn, at the top)."""
    client.views_publish(user_id=user_id, view=home_view(load_home(deps, client, user_id, notice=notice)))
