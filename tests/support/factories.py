"""Domain objects for tests, shaped like what the X parser produces."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import count

from socialdesk.domain import Author, Post

_ids = count(1_600_000_000_000_000_000)


def x_post(text: str = "my Acme phone broke", *, handle: str = "customer", author_id: str | None = None,
           when: datetime | None = None, post_id: str | None = None, **fields) -> Post:
    post_id = post_id or str(next(_ids))
    author = Author("x", author_id or f"u-{handle}", handle, handle.title(), 100)
    return Post(
        network="x",
        external_id=post_id,
        url=f"https://x.com/{handle}/status/{post_id}",
        author=author,
        text=text,
        created_at=when or datetime(2026, 11, 27, 12, 0, tzinfo=UTC) + timedelta(seconds=int(post_id) % 1000),
        conversation_id=post_id,
        **fields,
    )
