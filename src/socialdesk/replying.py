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

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from socialdesk.networks import registry
from socialdesk.networks.base import Network
from socialdesk.spend import Meter
from socialdesk.store import replies as reply_store
from socialdesk.store.db import read_scope, session_scope
from socialdesk.store.replies import Decision, Reply

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
                 approvers: frozenset[str], meter: Meter | None = None) -> None:
        self._engine = engine
        self._networks = networks
        self._meter = meter if meter is not None else Meter(networks)  # a reply posted may be billed (spend)
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
                reply_id = reply_store.create_request(session=session, case_id=case_id, key=key, agent=agent,
                                                      text=text, status=status, now=self._now())
        except IntegrityError:
            log.info("reply %s was already submitted; not sending it again", key)
            return Outcome("duplicate", case_id=case_id)
        if status == "awaiting_approval":
            return Outcome("awaiting_approval", reply_id=reply_id, case_id=case_id, text=text)
        return self._send(reply_id, actor=agent, since=since)

    def approve(self, *, reply_id: int, approver: str, text: str | None = None) -> Outcome:
        with session_scope(self._engine) as session:
            decision = reply_store.approve(session=session, reply_id=reply_id, approver=approver, text=text,
                                           now=self._now())
        if not decision.won:
            return _stale(reply_id, decision)
        return self._send(reply_id, actor=approver)

    def reject(self, *, reply_id: int, approver: str) -> Outcome:
        with session_scope(self._engine) as session:
            decision = reply_store.reject(session=session, reply_id=reply_id, approver=approver, now=self._now())
        if not decision.won:
            return _stale(reply_id, decision)
        row = decision.reply
        return Outcome("rejected", reply_id=reply_id, case_id=row.case_id, text=row.text)  # type: ignore[union-attr]

    def mark_replied(self, *, case_id: int, agent: str, url: str, via: str) -> Outcome:
        """The agent replied on the network itself; keep the link and count it as the response."""
        with read_scope(self._engine) as session:
            network = reply_store.case_network(session=session, case_id=case_id) or ""
        info = registry.info(network) if network in registry.names() else None
        post_id = info.reply_link_id(url) if info is not None else None
        if info is None or post_id is None:
            label, example = (info.label, info.post_url_example) if info else ("its network", "")
            return Outcome("failed", case_id=case_id, kind="bad_url",
                           error=f"That is not a link to a post on {label} (like {example}).")
        try:
            with session_scope(self._engine) as session:
                reply_id = reply_store.mark_replied(session=session, case_id=case_id, agent=agent, post_id=post_id,
                                                    url=url.strip(), via=via, now=self._now())
        except IntegrityError:
            return Outcome("duplicate", case_id=case_id, url=url.strip())
        return Outcome("marked", reply_id=reply_id, case_id=case_id, url=url.strip())

    def _send(self, reply_id: int, *, actor: str, since: datetime | None = None) -> Outcome:
        with session_scope(self._engine) as session:
            reply = reply_store.get_reply(session=session, reply_id=reply_id)
            case_id = reply.case_id  # type: ignore[union-attr]
            locked = reply_store.take_send_lock(session=session, case_id=case_id, reply_id=reply_id)
            # Holding the case's send lock, look for a reply that went out while this one was written.
            overtaken = locked and since is not None and reply_store.answered_since(
                session=session, case_id=case_id, since=since, other_than=reply_id,
                agent=reply.agent)  # type: ignore[union-attr]
            if locked and not overtaken:
                reply_store.mark_sending(session=session, reply_id=reply_id)
            else:
                reason = "a teammate's reply went out first" if overtaken else "another reply to this case was being sent"
                reply_store.record_refused(session=session, reply_id=reply_id, reason=reason)
                if locked:
                    reply_store.release_send_lock(session=session, case_id=case_id)
            target = reply_store.reply_target(session=session, case_id=case_id)
            text, agent = reply.text, reply.agent  # type: ignore[union-attr]
            network = self._networks.get(reply_store.case_network(session=session, case_id=case_id) or "")
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
                reply_store.record_failed(session=session, reply_id=reply_id, case_id=case_id, status=failed_status,
                                          kind=kind, error=message, actor=actor, now=self._now())
            return Outcome("failed", reply_id=reply_id, case_id=case_id, error=message, kind=kind, text=text,
                           in_reply_to=target)
        with session_scope(self._engine) as session:
            reply_store.record_sent(session=session, reply_id=reply_id, case_id=case_id, agent=agent,
                                    approver=actor if actor != agent else None, external_id=sent.id, url=sent.url,
                                    now=self._now())
            if sent.billed and network is not None:
                self._meter.record(session=session, network=network.name, now=self._now(), reads=sent.billed,
                                   rule_id=reply_store.case_rule(session=session, case_id=case_id))
        return Outcome("sent", reply_id=reply_id, case_id=case_id, url=sent.url, text=text)

    def replies_since(self, *, case_id: int, since: datetime) -> list[Reply]:
        with read_scope(self._engine) as session:
            return reply_store.replies_since(session=session, case_id=case_id, since=since)

    def reply(self, reply_id: int) -> Reply | None:
        with read_scope(self._engine) as session:
            return reply_store.get_reply(session=session, reply_id=reply_id)


def _stale(reply_id: int, decision: Decision) -> Outcome:
    """Someone decided first (or the reply is gone): say what it is now."""
    row = decision.reply
    return Outcome("stale", reply_id=reply_id, case_id=row.case_id if row else None,
                   error=f"this reply is already {row.status}" if row else "this reply no longer exists")
