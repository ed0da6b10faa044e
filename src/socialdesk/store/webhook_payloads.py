"""The JSON a webhook receives: the event, and the case as it stood when the event was queued.

Built once per event and stored as the delivery's body, so every attempt sends (and
signs) the same bytes. Keys are stable; new keys may be added, none removed or renamed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session, select

from socialdesk.store.models import AuthorRow, CaseEventRow, CaseRow, PostRow, RuleRow
from socialdesk.webhook_events import EVENT_NAME

SCHEMA_VERSION = 1
PING = "ping"


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def dumps(data: dict[str, Any]) -> str:
    """Compact, key-sorted JSON: the exact bytes signed and sent."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"), sort_keys=True, default=str)


def event_bodies(session: Session, events: Sequence[CaseEventRow]) -> dict[int, str]:
    """The body for each event (by event id); cases are read in bulk."""
    cases = _cases_json(session, {e.case_id for e in events})
    return {
        e.id: dumps({  # type: ignore[misc]
            "schema": SCHEMA_VERSION,
            "type": EVENT_NAME[e.kind],
            "event": {"id": e.id, "kind": e.kind, "actor": e.actor, "at": iso(e.at), "data": e.payload or {}},
            "case": cases.get(e.case_id),
        })
        for e in events
    }


def ping_body(*, webhook_id: int, now: datetime) -> str:
    return dumps({
        "schema": SCHEMA_VERSION,
        "type": PING,
        "event": {"id": None, "kind": PING, "actor": "system", "at": iso(now), "data": {"webhook_id": webhook_id}},
        "case": None,
        "message": "A test delivery from socialdesk: answer 2xx to confirm the endpoint works.",
    })


def _cases_json(session: Session, case_ids: set[int]) -> dict[int, dict[str, Any]]:
    if not case_ids:
        return {}
    cases = list(session.exec(select(CaseRow).where(CaseRow.id.in_(case_ids))))  # type: ignore[union-attr]
    post_ids = {c.first_post_id for c in cases if c.first_post_id}
    posts = {p.id: p for p in session.exec(select(PostRow).where(PostRow.id.in_(post_ids)))} if post_ids else {}  # type: ignore[union-attr]
    author_ids = {p.author_id for p in posts.values()}
    authors = {a.id: a for a in session.exec(select(AuthorRow).where(AuthorRow.id.in_(author_ids)))} if author_ids else {}  # type: ignore[union-attr]
    rule_ids = {c.rule_id for c in cases if c.rule_id}
    rules = {r.id: r for r in session.exec(select(RuleRow).where(RuleRow.id.in_(rule_ids)))} if rule_ids else {}  # type: ignore[union-attr]
    out = {}
    for case in cases:
        post = posts.get(case.first_post_id)
        author = authors.get(post.author_id) if post else None
        rule = rules.get(case.rule_id)
        out[case.id] = {
            "id": case.id,
            "status": case.status,
            "version": case.version,  # grows with every change: a receiver keeps the highest it saw
            "priority": case.priority,
            "assignee": case.assignee,
            "tags": list(case.tags or []),
            "sentiment": case.sentiment,
            "ignored_reason": case.ignored_reason,
            "outcome": case.outcome,  # how it was resolved (None while open); "duplicate" names duplicate_of
            "duplicate_of": case.duplicate_of,
            "network": case.network,
            "slack": {"channel_id": case.channel_id, "message_ts": case.message_ts},
            "rule": {"id": rule.id, "query": rule.query} if rule else None,
            "post": _post_json(post),
            "customer": _author_json(author),
            "opened_at": iso(case.opened_at),
            "claimed_at": iso(case.claimed_at),
            "first_response_at": iso(case.first_response_at),
            "resolved_at": iso(case.resolved_at),
            "updated_at": iso(case.updated_at),
        }
    return out  # type: ignore[return-value]


def _post_json(post: PostRow | None) -> dict[str, Any] | None:
    if post is None:
        return None
    removed = post.removed_at is not None
    return {
        "id": post.external_id,
        "url": post.url,
        # Deleted or withheld at the source: the network's terms say its text goes no further.
        "text": None if removed else post.text,
        "lang": post.lang,
        "created_at": iso(post.created_at),
        "removed": post.removed_reason if removed else None,
    }


def _author_json(author: AuthorRow | None) -> dict[str, Any] | None:
    if author is None:
        return None
    return {"id": author.external_id, "handle": author.handle, "name": author.name,
            "followers": author.followers, "verified": author.verified}
