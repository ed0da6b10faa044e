"""Public replies: ask, maybe wait for approval, send once, record how it went out.

One reply per submission (the modal's view id is the idempotency key: Slack's retries
find the row already there), and one reply in flight per case (a conditional UPDATE
on `cases.sending_reply_id`), so two agents answering at once send one reply.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from socialdesk.domain import EventKind
from socialdesk.networks import registry
from socialdesk.networks.base import Network
from socialdesk.store import lifecycle
from socialdesk.store.db import session_scope
from socialdesk.store.events import record_event
from socialdesk.store.models import CaseRow, PostRow, ReplyRow

log = logging.getLogger(__name__)


class ReplyError(Exception):
    """A reply was not sent; `kind` tells the listener which way forward to offer."""

    def __init__(self, message: str, *, kind: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class Outcome:
    status: str  # sent, awaiting_approval, failed, duplicate, busy, marked, rejected, stale
    reply_id: int | None = None
    case_id: int | None = None
    url: str | None = None
    error: str | None = None
    kind: str | None = None  # why it failed: not_allowed, auth, duplicate, …
    text: str | None = None
    in_reply_to: str | None = None


class ReplyDesk:
    def __init__(self, *, engine: Engine, networks: Mapping[str, Network], clock: Callable[[], datetime],
                 approvers: frozenset[str]) -> None:
        self._engine = engine
        self._networks = networks
        self._now = clock
        self._approvers = approvers

    @property
    def approvers(self) -> frozenset[str]:
        return self._approvers

    def needs_approval(self, agent: str) -> bool:
        return bool(self._approvers) and agent not in self._approvers

    def is_approver(self, user: str) -> bool:
        return user in self._approvers

    def request(self, *, case_id: int, agent: str, text: str, key: str, since: datetime | None = None) -> Outcome:
        """Send (or queue for approval) one reply. `since`: when the agent started writing;
        if someone else's reply went out after that, this one is not sent."""
        status = "awaiting_approval" if self.needs_approval(agent) else "queued"
        try:
            with session_scope(self._engine) as session:
                row = ReplyRow(case_id=case_id, key=key, agent=agent, text=text, status=status, created_at=self._now())
                session.add(row)
                session.flush()
                record_event(session, case_id, EventKind.REPLY_REQUESTED, agent, self._now(), reply_id=row.id,
                             text=text, approval=status == "awaiting_approval")
                reply_id = row.id
        except IntegrityError:
            log.info("reply %s was already submitted; not sending it again", key)
            return Outcome("duplicate", case_id=case_id)
        if status == "awaiting_approval":
            return Outcome("awaiting_approval", reply_id=reply_id, case_id=case_id, text=text)
        return self._send(reply_id, actor=agent, since=since)  # type: ignore[arg-type]

    def approve(self, *, reply_id: int, approver: str, text: str | None = None) -> Outcome:
        with session_scope(self._engine) as session:
            values = {"status": "queued", "approver": approver} | ({"text": text} if text else {})
            won = session.execute(update(ReplyRow).where(ReplyRow.id == reply_id, ReplyRow.status == "awaiting_approval")
                                  .values(**values)).rowcount == 1
            row = session.get(ReplyRow, reply_id, populate_existing=True)
            if won:
                record_event(session, row.case_id, EventKind.REPLY_APPROVED, approver, self._now(), reply_id=reply_id,
                             edited=bool(text))
        if not won:
            return Outcome("stale", reply_id=reply_id, case_id=row.case_id if row else None,
                           error=f"this reply is already {row.status}" if row else "this reply no longer exists")
        return self._send(reply_id, actor=approver)

    def reject(self, *, reply_id: int, approver: str) -> Outcome:
        with session_scope(self._engine) as session:
            won = session.execute(update(ReplyRow).where(ReplyRow.id == reply_id, ReplyRow.status == "awaiting_approval")
                                  .values(status="rejected", approver=approver)).rowcount == 1
            row = session.get(ReplyRow, reply_id, populate_existing=True)
            if won:
                record_event(session, row.case_id, EventKind.REPLY_REJECTED, approver, self._now(), reply_id=reply_id)
        if not won:
            return Outcome("stale", reply_id=reply_id, case_id=row.case_id if row else None,
                           error=f"this reply is already {row.status}" if row else "this reply no longer exists")
        return Outcome("rejected", reply_id=reply_id, case_id=row.case_id, text=row.text)

    def mark_replied(self, *, case_id: int, agent: str, url: str, via: str) -> Outcome:
        """The agent replied on the network itself; keep the link and count it as the response."""
        with session_scope(self._engine) as session:
            case = session.get(CaseRow, case_id)
            network = case.network if case is not None else ""
        info = registry.info(network) if network in registry.names() else None
        post_id = info.reply_link_id(url) if info is not None else None
        if info is None or post_id is None:
            label, example = (info.label, info.post_url_example) if info else ("its network", "")
            return Outcome("failed", case_id=case_id, kind="bad_url",
                           error=f"That is not a link to a post on {label} (like {example}).")
        now = self._now()
        try:
            with session_scope(self._engine) as session:
                row = ReplyRow(case_id=case_id, key=f"marked:{case_id}:{post_id}", agent=agent, text="",
                               status="marked", via=via, external_id=post_id, url=url.strip(),
                               created_at=now, sent_at=now)
                session.add(row)
                session.flush()
                lifecycle.replied(session=session, case_id=case_id, user_id=agent, now=now,
                                  kind=EventKind.MARKED_REPLIED, payload={"url": url.strip(), "via": via})
                return Outcome("marked", reply_id=row.id, case_id=case_id, url=url.strip())
        except IntegrityError:
            return Outcome("duplicate", case_id=case_id, url=url.strip())

    def _send(self, reply_id: int, *, actor: str, since: datetime | None = None) -> Outcome:
        with session_scope(self._engine) as session:
            reply = session.get(ReplyRow, reply_id)
            case_id = reply.case_id
            locked = session.execute(update(CaseRow).where(CaseRow.id == case_id, CaseRow.sending_reply_id.is_(None))
                                     .values(sending_reply_id=reply_id)).rowcount == 1
            # Holding the case's send lock, look for a reply that went out while this one was written.
            overtaken = locked and since is not None and session.exec(select(ReplyRow.id).where(
                ReplyRow.case_id == case_id, ReplyRow.id != reply_id, ReplyRow.status.in_(["sent", "marked"]),
                ReplyRow.created_at >= since)).first() is not None
            if locked and not overtaken:
                session.execute(update(ReplyRow).where(ReplyRow.id == reply_id).values(status="sending"))
            else:
                reason = "a teammate's reply went out first" if overtaken else "another reply to this case was being sent"
                session.execute(update(ReplyRow).where(ReplyRow.id == reply_id).values(status="failed", error=reason))
                if locked:
                    session.execute(update(CaseRow).where(CaseRow.id == case_id).values(sending_reply_id=None))
            target = self._reply_target(session, case_id)
            text, agent = reply.text, reply.agent
            network = self._networks.get(session.get(CaseRow, case_id).network)
        if not locked or overtaken:
            return Outcome("busy", reply_id=reply_id, case_id=case_id, text=text, kind="busy",
                           error="A teammate answered this customer at the same moment, so yours was not sent. "
                                 "Read the card's thread; reply again if something is still missing.")
        try:
            if network is None or network.replier is None:
                raise ReplyError(network.reply_not_configured if network else "This network is not set up here.",
                                 kind="auth")
            sent = network.replier.reply(text, target, idempotency_key=f"reply-{reply_id}")
        except Exception as exc:  # noqa: BLE001 - every failure is recorded and shown to the agent
            kind = getattr(exc, "kind", "unexpected")
            message = str(exc) if kind != "unexpected" else f"Unexpected error while sending ({type(exc).__name__}); nothing was recorded as sent. Check the brand account before trying again."
            if kind == "unexpected":
                log.exception("reply %s: unexpected error", reply_id)
            with session_scope(self._engine) as session:
                # An unknown outcome may have gone out: never resent on its own.
                failed_status = "unknown" if kind == "unknown_outcome" else "failed"
                session.execute(update(ReplyRow).where(ReplyRow.id == reply_id).values(status=failed_status, error=message[:2000]))
                session.execute(update(CaseRow).where(CaseRow.id == case_id, CaseRow.sending_reply_id == reply_id)
                                .values(sending_reply_id=None))
                record_event(session, case_id, EventKind.REPLY_FAILED, actor, self._now(), reply_id=reply_id,
                             kind=kind, error=message[:500])
            return Outcome("failed", reply_id=reply_id, case_id=case_id, error=message, kind=kind, text=text,
                           in_reply_to=target)
        with session_scope(self._engine) as session:
            session.execute(update(ReplyRow).where(ReplyRow.id == reply_id)
                            .values(status="sent", via="api", external_id=sent.id, url=sent.url, sent_at=self._now()))
            session.execute(update(CaseRow).where(CaseRow.id == case_id).values(sending_reply_id=None))
            lifecycle.replied(session=session, case_id=case_id, user_id=agent, now=self._now(),
                              kind=EventKind.REPLY_SENT, payload={"reply_id": reply_id, "url": sent.url, "via": "api",
                                                                  "approver": actor if actor != agent else None})
        return Outcome("sent", reply_id=reply_id, case_id=case_id, url=sent.url, text=text)

    @staticmethod
    def _reply_target(session, case_id: int) -> str:  # type: ignore[no-untyped-def]
        """Answer the customer's latest post in the case (a follow-up, or the first post)."""
        case = session.get(CaseRow, case_id)
        latest = session.exec(
            select(PostRow).where(PostRow.case_id == case_id, PostRow.author_id == case.customer_author_id)
            .order_by(PostRow.created_at.desc()).limit(1)
        ).first() if case.customer_author_id else None
        post = latest or session.get(PostRow, case.first_post_id)
        return post.external_id

    def replies_since(self, *, case_id: int, since: datetime) -> list[ReplyRow]:
        with session_scope(self._engine) as session:
            return list(session.exec(select(ReplyRow).where(
                ReplyRow.case_id == case_id, ReplyRow.status.in_(["sent", "marked", "sending", "queued"]),
                ReplyRow.created_at >= since)))

    def reply(self, reply_id: int) -> ReplyRow | None:
        with session_scope(self._engine) as session:
            return session.get(ReplyRow, reply_id)
