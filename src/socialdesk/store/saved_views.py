"""A person's saved App Home view (their queue's filters), kept across visits and restarts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from socialdesk.store.models import SavedViewRow

MAX_TEXT = 500  # as queue_filter.MAX_TEXT: longer text was refused before it got here


def queue_filter(*, session: Session, user_id: str) -> str:
    """The filter text `user_id` saved for their queue; "" when none."""
    row = session.get(SavedViewRow, user_id)
    return row.queue_filter if row is not None else ""


def save_queue_filter(*, session: Session, user_id: str, text: str, now: datetime) -> None:
    """Keep `text` (canonical filter text, "" for the whole queue) as `user_id`'s queue filter.

    One statement that inserts or replaces: two saves at once (two tabs) leave the later one,
    never a duplicate-key error."""
    values = {"user_id": user_id[:32], "queue_filter": text[:MAX_TEXT], "updated_at": now}
    module = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = module.insert(SavedViewRow.__table__).values(values)
    session.execute(statement.on_conflict_do_update(
        index_elements=["user_id"], set_={"queue_filter": values["queue_filter"], "updated_at": now}))
