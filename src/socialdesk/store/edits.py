"""Posts edited at the source: the stored text becomes the new version (streams report edits).

Only the text, language and metrics change; the post keeps its case, its place in the
thread and its first-seen time. A post removed at the source stays removed (its text is
the notice). An edit that changes nothing visible (a poll's counts, a media description
elsewhere) is not recorded. Each real edit gets an `edited_at_source` case event.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlmodel import Session

from socialdesk.domain import EventKind, Post
from socialdesk.store import storable
from socialdesk.store.events import record_event
from socialdesk.store.models import CaseRow, PostRow

SYSTEM = "system"


@dataclass(frozen=True)
class EditedPost:
    """A stored post whose text changed, with where its Slack message is."""

    post_id: int
    external_id: str
    case_id: int | None
    first_post: bool  # the case's first post: its card shows it; else a follow-up message in the thread
    channel_id: str | None
    card_ts: str | None
    thread_ts: str | None


def record_edit(*, session: Session, post: Post, now: datetime) -> EditedPost | None:
    """Store `post` (the new version) over the stored one; None when not stored, removed or unchanged."""
    post = storable.post(post)  # as stored: compared with the stored text, an unchanged edit is no edit
    row = session.execute(
        select(PostRow.id, PostRow.text, PostRow.case_id, PostRow.thread_ts, PostRow.removed_at,
               CaseRow.first_post_id, CaseRow.channel_id, CaseRow.message_ts)
        .outerjoin(CaseRow, CaseRow.id == PostRow.case_id)
        .where(PostRow.network == post.network, PostRow.external_id == post.external_id)
    ).first()
    if row is None or row.removed_at is not None or row.text == post.text:
        return None
    session.execute(update(PostRow).where(PostRow.id == row.id, PostRow.removed_at.is_(None)).values(
        text=post.text, lang=post.lang, metrics=dict(post.metrics) or None, raw=post.raw or None, edited_at=now))
    if row.case_id is not None:
        record_event(session, row.case_id, EventKind.EDITED_AT_SOURCE, SYSTEM, now, post=post.external_id)
    return EditedPost(post_id=row.id, external_id=post.external_id, case_id=row.case_id,
                      first_post=row.first_post_id == row.id, channel_id=row.channel_id, card_ts=row.message_ts,
                      thread_ts=row.thread_ts)
