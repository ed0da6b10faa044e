"""Conversations: a customer's later posts join their case instead of opening new ones.

A new post joins a case of the same (network, conversation) when it comes from that
case's customer, or when it answers us: a reply we sent (`replies.external_id`) or a
post by one of our own accounts. Anyone else in the conversation opens a case of
their own, like any post matching a rule.

What joining does to the case:
- `resolved`: reopened (status `reopened`, assignee kept), the customer wrote again;
- `ignored`: stays ignored (noise stays out of the queue) and nothing is threaded
  under its card while it is ignored; the follow-up is still attached and recorded,
  so reopening the case by hand brings it into the thread;
- otherwise: `customer_wrote_at` is set, so the card shows that the customer wrote.
The follow-up itself goes into the card's thread later (jobs.publish).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, func, or_, update
from sqlalchemy import case as sql_case
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from socialdesk.domain import Author, CaseStatus, EventKind, Post
from socialdesk.store.events import event_row, record_events
from socialdesk.store.lifecycle import rearmed
from socialdesk.store.models import AuthorRow, CaseRow, IncidentRow, PostRow, ReplyRow

SYSTEM = "system"


@dataclass(frozen=True)
class Opened:
    """A case opened by an earlier post of the page being stored (its index among them): no id yet."""

    index: int


CaseRef = int | Opened  # a stored case's id, or a case this page opens


# Through the posts (indexed on the conversation; cases are not): their cases, by primary key.
# Built once: each page's lookup is then a cache hit.
_CONVERSATION_CASES = (
    select(PostRow.conversation_id, CaseRow.id, CaseRow.customer_author_id)
    .distinct()
    .join(CaseRow, PostRow.case_id == CaseRow.id)
    .where(PostRow.network == bindparam("network"), col(PostRow.conversation_id).in_(bindparam("ids", expanding=True)))
)


class PageCases:
    """What `post` continues, for a whole page: the cases of its conversations read in one query.

    Posts are looked at oldest first, and what earlier posts of the page did (opened a case,
    joined one) counts for the later ones, exactly as if they had been stored one at a time.
    """

    def __init__(self, *, session: Session, network: str, posts: Sequence[Post], own_handles: Collection[str]) -> None:
        self._session, self._network, self._own = session, network, own_handles
        self._replied: dict[str, int] | None = None
        self._in_reply_to = {p.in_reply_to_id for p in posts if p.conversation_id and p.in_reply_to_id}
        self._cases: dict[str, set[CaseRef]] = {}  # by conversation: only one with posts can have cases
        self._customers: dict[CaseRef, int | None] = {}  # each case's customer (an authors row)
        conversation_ids = {p.conversation_id for p in posts if p.conversation_id}
        if conversation_ids:
            rows = session.connection().execute(_CONVERSATION_CASES, {"network": network, "ids": list(conversation_ids)})
            for conversation, case_id, customer in rows:
                self._cases.setdefault(conversation, set()).add(case_id)  # type: ignore[arg-type]
                self._customers[case_id] = customer  # type: ignore[index]
        self._opened = 0

    def case_for(self, post: Post, author_id: int | None) -> CaseRef | None:
        """The case `post` continues, or None when it is not a follow-up (`author_id`: its authors row)."""
        if not post.conversation_id or not (known := self._cases.get(post.conversation_id)):
            return None
        cases = sorted(known, key=_newest_first)
        for case in cases:
            if author_id is not None and self._customers[case] == author_id:
                return case
        if not post.in_reply_to_id:
            return None
        replied = self._replies().get(post.in_reply_to_id)
        if replied is not None:
            return replied
        if _answers_own_account(post, self._own):
            return cases[0]  # an answer to one of our posts: the conversation's latest case
        return None

    def open(self, post: Post, author_id: int | None) -> Opened:
        """`post` opens a case of its own: later posts of its conversation may join it."""
        case = Opened(self._opened)
        self._opened += 1
        self._customers[case] = author_id
        if post.conversation_id:
            self._cases.setdefault(post.conversation_id, set()).add(case)
        return case

    def join(self, post: Post, case: CaseRef) -> None:
        """`post` joins `case`: later posts of its conversation find the case there."""
        if not post.conversation_id:
            return
        if case not in self._customers:  # a case of another conversation, found by our reply
            self._customers[case] = self._session.exec(
                select(CaseRow.customer_author_id).where(CaseRow.id == case)).one()
        self._cases.setdefault(post.conversation_id, set()).add(case)

    def _replies(self) -> dict[str, int]:
        """Our replies the page's posts answer, by the reply's post id: its case (the newest reply's)."""
        if self._replied is None:
            rows = self._session.exec(
                select(ReplyRow.external_id, ReplyRow.case_id)
                .where(col(ReplyRow.external_id).in_(self._in_reply_to)).order_by(ReplyRow.id)
            ) if self._in_reply_to else []
            self._replied = {external_id: case_id for external_id, case_id in rows}  # type: ignore[misc]
        return self._replied


def _newest_first(case: CaseRef) -> tuple[int, int]:
    # Cases this page opens get ids above every stored case, in the order they are opened.
    return (-1, -case.index) if isinstance(case, Opened) else (0, -case)


def _answers_own_account(post: Post, own_handles: Collection[str]) -> bool:
    """Whether `post` replies to one of our accounts (our own posts are never stored)."""
    return bool(post.in_reply_to_account) and post.in_reply_to_account.lower() in own_handles


def attach(*, session: Session, follow_ups: Sequence[tuple[int, str]], now: datetime) -> None:
    """What follow-ups do to their cases (`follow_ups`: case id and post id, oldest first; the
    posts are stored with their case already): the customer wrote; a resolved case is reopened."""
    if not follow_ups:
        return
    case_ids = sorted({case_id for case_id, _ in follow_ups})
    session.execute(
        update(CaseRow)
        .where(col(CaseRow.id).in_(case_ids), CaseRow.status != CaseStatus.IGNORED.value)
        .values(customer_wrote_at=now, updated_at=now)
    )
    # Conditional: an agent resolving or reopening it at this moment wins or loses cleanly.
    reopened = set(session.execute(
        update(CaseRow)
        .where(col(CaseRow.id).in_(case_ids), CaseRow.status == CaseStatus.RESOLVED.value)
        .values(status=CaseStatus.REOPENED.value, resolved_at=None, updated_at=now,
                version=CaseRow.version + 1, last_action="reopened: the customer wrote again",
                **rearmed(now))  # the owner is kept (and told); a reply is due again
        .returning(CaseRow.id)
    ).scalars())
    events = []
    for case_id, post in follow_ups:
        events.append(event_row(case_id, EventKind.FOLLOW_UP, SYSTEM, now, post=post))
        if case_id in reopened:  # by its first follow-up in the page
            reopened.discard(case_id)
            events.append(event_row(case_id, EventKind.REOPENED, SYSTEM, now, post=post))
    record_events(session, events)


def watched(*, session: Session, rule_id: int, network: str, active_since: datetime, limit: int,
            is_newer: Callable[[str, str], bool]) -> dict[str, str]:
    """Conversations of the rule's cases active since then (not ignored), newest activity first,
    each with the newest post id stored from it: where a search for follow-ups starts."""
    ids = session.exec(
        select(CaseRow.conversation_id)
        .where(CaseRow.rule_id == rule_id, CaseRow.network == network, CaseRow.conversation_id.is_not(None),
               CaseRow.status != CaseStatus.IGNORED.value, CaseRow.updated_at >= active_since)
        .order_by(col(CaseRow.updated_at).desc())
        .limit(limit)
    ).all()
    floors: dict[str, str] = dict.fromkeys(ids, "")  # type: ignore[arg-type]
    if not floors:
        return floors
    rows = session.exec(
        select(PostRow.conversation_id, PostRow.external_id)
        .where(PostRow.network == network, col(PostRow.conversation_id).in_(list(floors)))
    )
    for conversation, external_id in rows:
        if not floors[conversation] or is_newer(external_id, floors[conversation]):  # type: ignore[index]
            floors[conversation] = external_id  # type: ignore[index]
    return floors


# --- threading follow-ups under the card: see jobs.publish for the crash-safety steps ---


@dataclass(frozen=True)
class FollowUp:
    """A follow-up waiting to go into its card's thread."""

    post_id: int
    case_id: int
    channel_id: str
    card_ts: str
    post: Post
    attempted_at: datetime | None  # an earlier try may have posted it: look it up first


def unthreaded(*, session: Session, now: datetime, lease: timedelta, limit: int, newest: int | None = None) -> list[FollowUp]:
    """Follow-ups whose card exists and that nobody tried in the last `lease`, oldest first.

    `newest`: look only among the newest that many posts (a primary-key range, not a
    scan of every post); follow-ups are recent, and a full look now and then finds the rest.
    """
    floor = 0
    if newest is not None:
        floor = (session.exec(select(func.max(PostRow.id))).one() or 0) - newest
    # A member of an incident has its message in the incident card's thread: its follow-ups go there too.
    anchor = aliased(CaseRow)
    thread = sql_case((IncidentRow.anchor_case_id != CaseRow.id, anchor.message_ts), else_=CaseRow.message_ts)
    rows = session.exec(
        select(
            PostRow.id, PostRow.case_id, CaseRow.channel_id, thread, PostRow.thread_attempted_at,
            PostRow.network, PostRow.external_id, PostRow.url, PostRow.text, PostRow.created_at,
            AuthorRow.external_id, AuthorRow.handle, AuthorRow.name,
        )
        .join(CaseRow, CaseRow.id == PostRow.case_id)
        .join(AuthorRow, AuthorRow.id == PostRow.author_id)
        .outerjoin(IncidentRow, IncidentRow.id == CaseRow.incident_id)
        .outerjoin(anchor, anchor.id == IncidentRow.anchor_case_id)
        .where(
            PostRow.id > floor,
            PostRow.thread_ts.is_(None),
            PostRow.id != CaseRow.first_post_id,
            CaseRow.message_ts.is_not(None),
            CaseRow.status != CaseStatus.IGNORED.value,
            or_(PostRow.thread_attempted_at.is_(None), PostRow.thread_attempted_at <= now - lease),
        )
        .order_by(PostRow.id)
        .limit(limit)
    ).all()
    follow_ups = []
    for (post_id, case_id, channel, card_ts, attempted, network, ext_id, url, text, created,
         author_ext, handle, name) in rows:
        net = network
        post = Post(network=net, external_id=ext_id, url=url, author=Author(net, author_ext, handle, name),
                    text=text, created_at=created)
        follow_ups.append(FollowUp(post_id, case_id, channel, card_ts, post, attempted))
    return follow_ups


def take_thread_attempt(*, session: Session, post_id: int, seen: datetime | None, now: datetime) -> bool:
    """Note the attempt before posting; also a lease: of two workers, one wins."""
    attempted = PostRow.thread_attempted_at
    result = session.execute(
        update(PostRow)
        .where(PostRow.id == post_id, PostRow.thread_ts.is_(None),
               attempted.is_(None) if seen is None else attempted == seen)
        .values(thread_attempted_at=now)
    )
    return result.rowcount == 1


def give_back_attempt(*, session: Session, post_id: int, taken: datetime, previous: datetime | None) -> None:
    """Slack said no (rate limit): the attempt posted nothing; restore what was there."""
    session.execute(
        update(PostRow)
        .where(PostRow.id == post_id, PostRow.thread_attempted_at == taken, PostRow.thread_ts.is_(None))
        .values(thread_attempted_at=previous)
    )


def record_thread(*, session: Session, post_id: int, thread_ts: str) -> None:
    session.execute(update(PostRow).where(PostRow.id == post_id).values(thread_ts=thread_ts))
