"""Case reads and transitions. Every transition is one conditional UPDATE."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, or_, update
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from socialdesk import sla
from socialdesk.domain import Author, CaseStatus, CaseView, EventKind, Post
from socialdesk.store.events import record_event
from socialdesk.store.incident_views import incident_view
from socialdesk.store.models import (
    AuthorRow,
    CaseEventRow,
    CaseRow,
    CuratedEntryRow,
    IncidentRow,
    PostRow,
    RuleRow,
)
from socialdesk.triage.spam import LIKELY_SPAM_AT


class CaseNotFound(LookupError):
    def __init__(self, case_id: int) -> None:
        super().__init__(f"there is no case {case_id}")
        self.case_id = case_id


def get_case(*, session: Session, case_id: int) -> CaseRow:
    case = session.get(CaseRow, case_id, populate_existing=True)
    if case is None:
        raise CaseNotFound(case_id)
    return case


def case_view(*, session: Session, case_id: int, policy: sla.Policy | None = None) -> CaseView:
    """What the card shows; with an SLA `policy`, `sla_due` is when the first reply is due."""
    case = get_case(session=session, case_id=case_id)
    post_row = session.get(PostRow, case.first_post_id)
    author_row = session.get(AuthorRow, post_row.author_id) if post_row else None
    rule = session.get(RuleRow, case.rule_id) if case.rule_id else None
    if post_row is None or author_row is None:
        raise CaseNotFound(case_id)
    author = Author(
        network=author_row.network,
        external_id=author_row.external_id,
        handle=author_row.handle,
        name=author_row.name,
        followers=author_row.followers,
        verified=author_row.verified,
        avatar_url=author_row.avatar_url,
        created_at=author_row.created_at,
    )
    post = Post(
        network=post_row.network,
        external_id=post_row.external_id,
        url=post_row.url,
        author=author,
        text=post_row.text,
        created_at=post_row.created_at,
        lang=post_row.lang,
        conversation_id=post_row.conversation_id,
        in_reply_to_id=post_row.in_reply_to_id,
        is_repost=post_row.is_repost,
        is_reply=post_row.is_reply,
        metrics=dict(post_row.metrics or {}),
    )
    return CaseView(
        case_id=case.id,  # type: ignore[arg-type]
        status=CaseStatus(case.status),
        post=post,
        channel_id=case.channel_id,
        opened_at=case.opened_at,
        rule_id=case.rule_id,
        rule_query=rule.query if rule else None,
        assignee=case.assignee,
        claimed_at=case.claimed_at,
        priority=case.priority,
        message_ts=case.message_ts,
        version=case.version,
        sentiment=case.sentiment,
        tags=tuple(case.tags or ()),
        ignored_reason=case.ignored_reason,
        last_action=case.last_action,
        customer_wrote_at=case.customer_wrote_at,
        replying_user=case.replying_user,
        first_response_at=case.first_response_at,
        updated_at=case.updated_at,
        sla_due=_sla_due(session, case, policy),
        faq_entry_id=_active_faq_entry(session, case_id),
        post_removed=post_row.removed_reason,
        post_edited_at=post_row.edited_at,
        sla_state="breached" if case.sla_breached_at else "at_risk" if case.sla_at_risk_at else None,
        intent=case.intent,
        spam_score=case.spam_score,
        spam_reasons=tuple(case.spam_reasons or ()),
        likely_spam=case.spam_score is not None and case.spam_score >= LIKELY_SPAM_AT,
        lang_detected=post_row.lang_detected,
        **_routed(session, case_id),
        incident=incident_view(session=session, incident_id=case.incident_id) if case.incident_id else None,
        outcome=case.outcome,
        duplicate_of=case.duplicate_of,
        duplicates=duplicates_of(session=session, case_id=case_id),
    )


DUPLICATES_SHOWN = 20  # a card names this many of its duplicates at most


def duplicates_of(*, session: Session, case_id: int, limit: int = DUPLICATES_SHOWN) -> tuple[int, ...]:
    """The cases resolved as duplicates of `case_id` (still resolved so), oldest first."""
    return tuple(session.exec(select(CaseRow.id).where(
        CaseRow.duplicate_of == case_id, CaseRow.status == CaseStatus.RESOLVED.value)
        .order_by(CaseRow.id).limit(limit)).all())


def _routed(session: Session, case_id: int) -> dict[str, str | None]:
    """Where a route took the case from, and why (its `routed` event); nothing when it opened in its rule's channel."""
    payload = session.exec(select(CaseEventRow.payload).where(
        CaseEventRow.case_id == case_id, CaseEventRow.kind == EventKind.ROUTED.value)
        .order_by(CaseEventRow.id.desc()).limit(1)).first()  # type: ignore[union-attr]
    if not isinstance(payload, dict):
        return {}
    source, because = payload.get("from"), payload.get("because")
    return {"routed_from": source if isinstance(source, str) else None,
            "routed_because": because if isinstance(because, str) else None}


def _sla_due(session: Session, case: CaseRow, policy: sla.Policy | None) -> datetime | None:
    if policy is None or case.responded_at is not None or case.status not in sla.OPEN_STATUSES:
        return None
    rule = session.get(RuleRow, case.rule_id) if case.rule_id is not None else None
    if rule is not None and rule.sla_targets:
        try:
            policy = policy.with_rule_targets({rule.id: rule.sla_targets})  # type: ignore[dict-item]
        except ValueError:
            pass  # validated when set; a hand-edited row falls back to the global targets
    return sla.case_deadline(case, policy)  # from the last reopen, if any


def _active_faq_entry(session: Session, case_id: int) -> int | None:
    """The case's active curated entry: its card offers "Edit FAQ" instead of "Save as FAQ"."""
    return session.exec(select(CuratedEntryRow.id).where(
        CuratedEntryRow.case_id == case_id, CuratedEntryRow.status == "active")).first()


def events(*, session: Session, case_id: int) -> list[CaseEventRow]:
    return list(session.exec(select(CaseEventRow).where(CaseEventRow.case_id == case_id).order_by(CaseEventRow.id)))


# --- publishing: see jobs.publish for why each step is its own transaction ---


def unpublished(*, session: Session, now: datetime, limit: int) -> list[CaseRow]:
    """Cases whose card is not in Slack yet, oldest first, that nobody is publishing.

    A member of an incident waits for the incident card (its message goes in that card's thread).
    """
    anchor = aliased(CaseRow)
    return list(
        session.exec(
            select(CaseRow)
            .outerjoin(IncidentRow, col(IncidentRow.id) == col(CaseRow.incident_id))
            .outerjoin(anchor, col(anchor.id) == col(IncidentRow.anchor_case_id))
            .where(
                CaseRow.message_ts.is_(None),
                or_(CaseRow.publish_lease_until.is_(None), CaseRow.publish_lease_until <= now),
                or_(CaseRow.incident_id.is_(None), IncidentRow.anchor_case_id == CaseRow.id,
                    anchor.message_ts.is_not(None)),
            )
            .order_by(CaseRow.id)
            .limit(limit)
        )
    )


def count_unpublished(*, session: Session) -> int:
    """How many cases have no card in Slack yet (waiting, being posted, or held back by a failure)."""
    return int(session.exec(select(func.count()).select_from(CaseRow).where(CaseRow.message_ts.is_(None))).one())


def lease_publish(*, session: Session, case_id: int, now: datetime, seconds: float) -> CaseRow | None:
    """Take the right to post this case's card; None when it is posted or leased elsewhere."""
    result = session.execute(
        update(CaseRow)
        .where(
            CaseRow.id == case_id,
            CaseRow.message_ts.is_(None),
            or_(CaseRow.publish_lease_until.is_(None), CaseRow.publish_lease_until <= now),
        )
        .values(publish_lease_until=now + timedelta(seconds=seconds))
    )
    return get_case(session=session, case_id=case_id) if result.rowcount == 1 else None


def mark_publish_attempt(*, session: Session, case_id: int, now: datetime) -> None:
    session.execute(update(CaseRow).where(CaseRow.id == case_id).values(publish_attempted_at=now))


def record_card(*, session: Session, case_id: int, message_ts: str, now: datetime, found_after_crash: bool = False) -> None:
    session.execute(
        update(CaseRow)
        .where(CaseRow.id == case_id)
        .values(message_ts=message_ts, publish_lease_until=None, publish_error=None)
    )
    record_event(session, case_id, EventKind.CARD_POSTED, "system", now, ts=message_ts, recovered=found_after_crash or None)


def record_publish_failure(*, session: Session, case_id: int, error: str, retry_at: datetime | None) -> None:
    """Keep the case queued; `retry_at` holds it back (rate limit, backoff)."""
    session.execute(
        update(CaseRow)
        .where(CaseRow.id == case_id)
        .values(
            publish_failures=CaseRow.publish_failures + 1,
            publish_error=error[:2000],
            publish_lease_until=retry_at,
        )
    )


def posts_of(*, session: Session, case_id: int) -> list[PostRow]:
    """The case's posts, oldest first: the first post and the customer's follow-ups."""
    return list(session.exec(select(PostRow).where(PostRow.case_id == case_id).order_by(PostRow.created_at, PostRow.id)))
