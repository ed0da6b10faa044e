"""Public replies' rows: asked for, approved or rejected, sent once per case, recorded.

The conditional UPDATEs here are what keep a reply public only once: `approve` and
`reject` change a reply only while it still awaits approval (one decision wins), and
`take_send_lock` sets `cases.sending_reply_id` only when no other reply holds it (one
send in flight per case). The order of the steps, and which of them share a
transaction, belongs to `socialdesk.replying.ReplyDesk`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import update
from sqlmodel import Session, select

from socialdesk.domain import Author, EventKind, Post
from socialdesk.store import lifecycle
from socialdesk.store.events import record_event
from socialdesk.store.models import AuthorRow, CaseRow, PostRow, ReplyRow

ANSWERED = ("sent", "marked")  # went out through the API, or was sent by hand and recorded
GOING_OUT = (*ANSWERED, "sending", "queued")  # answered, or about to be
ERROR_LIMIT, EVENT_ERROR_LIMIT = 2000, 500  # how much of a network's error the row and the history keep


@dataclass(frozen=True)
class Reply:
    """A reply as the desk and the listeners read it (a copy: not bound to a session)."""

    id: int
    case_id: int
    agent: str
    text: str
    status: str
    created_at: datetime
    approver: str | None = None
    via: str | None = None
    url: str | None = None
    error: str | None = None
    sent_at: datetime | None = None


@dataclass(frozen=True)
class Decision:
    """An approval or rejection: `won` when this call decided; `reply` as it is now (None: gone)."""

    won: bool
    reply: Reply | None


def _view(row: ReplyRow) -> Reply:
    return Reply(id=row.id, case_id=row.case_id, agent=row.agent, text=row.text, status=row.status,
                 created_at=row.created_at, approver=row.approver, via=row.via, url=row.url, error=row.error,
                 sent_at=row.sent_at)


def get_reply(*, session: Session, reply_id: int) -> Reply | None:
    row = session.get(ReplyRow, reply_id)
    return _view(row) if row is not None else None


def case_network(*, session: Session, case_id: int) -> str | None:
    case = session.get(CaseRow, case_id)
    return case.network if case is not None else None


def case_rule(*, session: Session, case_id: int) -> int | None:
    """The rule that opened the case (its reply's cost is that rule's), None when it has none."""
    case = session.get(CaseRow, case_id)
    return case.rule_id if case is not None else None


def create_request(*, session: Session, case_id: int, key: str, agent: str, text: str, status: str,
                   now: datetime) -> int:
    """Add the reply (`queued` or `awaiting_approval`) and audit the request; returns its id.

    `key` is unique: a second submission raises IntegrityError here (on flush).
    """
    row = ReplyRow(case_id=case_id, key=key, agent=agent, text=text, status=status, created_at=now)
    session.add(row)
    session.flush()
    record_event(session, case_id, EventKind.REPLY_REQUESTED, agent, now, reply_id=row.id, text=text,
                 approval=status == "awaiting_approval")
    return row.id


def approve(*, session: Session, reply_id: int, approver: str, now: datetime, text: str | None = None) -> Decision:
    """Queue a reply awaiting approval (with the approver's edit, if any) for sending."""
    values = {"status": "queued", "approver": approver} | ({"text": text} if text else {})
    decision = _decide(session, reply_id, values)
    if decision.won:
        record_event(session, decision.reply.case_id, EventKind.REPLY_APPROVED, approver, now,
                     reply_id=reply_id, edited=bool(text))
    return decision


def reject(*, session: Session, reply_id: int, approver: str, now: datetime) -> Decision:
    decision = _decide(session, reply_id, {"status": "rejected", "approver": approver})
    if decision.won:
        record_event(session, decision.reply.case_id, EventKind.REPLY_REJECTED, approver, now,
                     reply_id=reply_id)
    return decision


def _decide(session: Session, reply_id: int, values: dict[str, str]) -> Decision:
    won = session.execute(update(ReplyRow).where(ReplyRow.id == reply_id, ReplyRow.status == "awaiting_approval")
                          .values(**values)).rowcount == 1
    row = session.get(ReplyRow, reply_id, populate_existing=True)  # the UPDATE bypassed the identity map
    return Decision(won, _view(row) if row is not None else None)


def mark_replied(*, session: Session, case_id: int, agent: str, post_id: str, url: str, via: str,
                 now: datetime) -> int:
    """Record a reply the agent posted on the network itself, counted as the case's response.

    One row per (case, post): marking the same link twice raises IntegrityError (on flush).
    """
    row = ReplyRow(case_id=case_id, key=f"marked:{case_id}:{post_id}", agent=agent, text="", status="marked",
                   via=via, external_id=post_id, url=url, created_at=now, sent_at=now)
    session.add(row)
    session.flush()
    lifecycle.replied(session=session, case_id=case_id, user_id=agent, now=now, kind=EventKind.MARKED_REPLIED,
                      payload={"url": url, "via": via})
    return row.id


def take_send_lock(*, session: Session, case_id: int, reply_id: int) -> bool:
    """Make `reply_id` the case's one reply in flight; False if another reply holds the case."""
    return session.execute(update(CaseRow).where(CaseRow.id == case_id, CaseRow.sending_reply_id.is_(None))
                           .values(sending_reply_id=reply_id)).rowcount == 1


def release_send_lock(*, session: Session, case_id: int) -> None:
    session.execute(update(CaseRow).where(CaseRow.id == case_id).values(sending_reply_id=None))


def answered_since(*, session: Session, case_id: int, since: datetime, other_than: int, agent: str) -> bool:
    """Whether a teammate's reply to the case was sent (or marked) after `since` (the agent's own
    earlier ones do not count: they read their own thread)."""
    return session.exec(select(ReplyRow.id).where(
        ReplyRow.case_id == case_id, ReplyRow.id != other_than, ReplyRow.status.in_(ANSWERED),
        ReplyRow.agent != agent, ReplyRow.created_at >= since)).first() is not None


def mark_sending(*, session: Session, reply_id: int) -> None:
    session.execute(update(ReplyRow).where(ReplyRow.id == reply_id).values(status="sending"))


def record_refused(*, session: Session, reply_id: int, reason: str) -> None:
    """The reply was not sent because of another one (no network call was made)."""
    session.execute(update(ReplyRow).where(ReplyRow.id == reply_id).values(status="failed", error=reason))


def record_failed(*, session: Session, reply_id: int, case_id: int, status: str, kind: str, error: str,
                  actor: str, now: datetime) -> None:
    """The network refused the reply, or its outcome is unknown (`status`); let go of the case's lock."""
    session.execute(update(ReplyRow).where(ReplyRow.id == reply_id).values(status=status, error=error[:ERROR_LIMIT]))
    # Only this reply's own lock: conditional, so it never frees another reply's.
    session.execute(update(CaseRow).where(CaseRow.id == case_id, CaseRow.sending_reply_id == reply_id)
                    .values(sending_reply_id=None))
    record_event(session, case_id, EventKind.REPLY_FAILED, actor, now, reply_id=reply_id, kind=kind,
                 error=error[:EVENT_ERROR_LIMIT])


def record_sent(*, session: Session, reply_id: int, case_id: int, agent: str, approver: str | None,
                external_id: str, url: str | None, now: datetime) -> None:
    """The network took the reply: keep its id and link, free the case, count it as the response."""
    session.execute(update(ReplyRow).where(ReplyRow.id == reply_id)
                    .values(status="sent", via="api", external_id=external_id, url=url, sent_at=now))
    release_send_lock(session=session, case_id=case_id)
    lifecycle.replied(session=session, case_id=case_id, user_id=agent, now=now, kind=EventKind.REPLY_SENT,
                      payload={"reply_id": reply_id, "url": url, "via": "api", "approver": approver})


def reply_target(*, session: Session, case_id: int) -> str:
    """The post to answer: the customer's latest in the case (a follow-up, or the first post)."""
    return _target_row(session, case_id).external_id


def answered_post(*, session: Session, case_id: int) -> Post | None:
    """The post a reply sent now answers (`reply_target`), for the reply modal to quote; None: no such case."""
    if session.get(CaseRow, case_id) is None:
        return None
    row = _target_row(session, case_id)
    author = session.get(AuthorRow, row.author_id)
    return Post(network=row.network, external_id=row.external_id, url=row.url, text=row.text,
                created_at=row.created_at, lang=row.lang, conversation_id=row.conversation_id,
                in_reply_to_id=row.in_reply_to_id, is_reply=row.is_reply,
                author=Author(network=author.network, external_id=author.external_id, handle=author.handle,
                              name=author.name, followers=author.followers, verified=author.verified,
                              avatar_url=author.avatar_url))


def _target_row(session: Session, case_id: int) -> PostRow:
    case = session.get(CaseRow, case_id)
    latest = session.exec(
        select(PostRow).where(PostRow.case_id == case_id, PostRow.author_id == case.customer_author_id)
        .order_by(PostRow.created_at.desc()).limit(1)
    ).first() if case.customer_author_id else None
    return latest or session.get(PostRow, case.first_post_id)


def replies_since(*, session: Session, case_id: int, since: datetime) -> list[Reply]:
    """The case's replies sent, marked or on their way since `since` (someone answered meanwhile)."""
    return [_view(row) for row in session.exec(select(ReplyRow).where(
        ReplyRow.case_id == case_id, ReplyRow.status.in_(GOING_OUT),
        ReplyRow.created_at >= since))]
