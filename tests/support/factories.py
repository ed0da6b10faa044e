"""Domain objects for tests, shaped like what the X parser produces."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import count

from socialdesk.domain import Author, Post

_FIRST_ID = 1_600_000_000_000_000_000
_ids = count(_FIRST_ID)
_FIRST_AT = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def x_post(text: str = "my Acme phone broke", *, handle: str = "customer", author_id: str | None = None,
           when: datetime | None = None, post_id: str | None = None, **fields) -> Post:
    if post_id is None:
        number = next(_ids)
        post_id = str(number)
        # A millisecond after the post made before it: posts made one after another are written in
        # that order (the store opens cases oldest first). The counter is the test process's, and
        # this never wraps (seconds of `id % 1000` did, and a test's cases swapped their ids).
        created_at = _FIRST_AT + timedelta(milliseconds=number - _FIRST_ID)
    else:
        created_at = _FIRST_AT + timedelta(seconds=int(post_id) % 1000) if post_id.isdigit() else _FIRST_AT
    author = Author("x", author_id or f"u-{handle}", handle, handle.title(), 100)
    return Post(
        network="x",
        external_id=post_id,
        url=f"https://x.com/{handle}/status/{post_id}",
        author=author,
        text=text,
        created_at=when or created_at,
        conversation_id=post_id,
        **fields,
    )
