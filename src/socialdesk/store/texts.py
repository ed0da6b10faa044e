"""Who posted the same text lately: one query per page, for the spam score's "same text from N accounts"."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import select
from sqlmodel import Session, col

from socialdesk.store.models import AuthorRow, PostRow


def accounts_by_text(*, session: Session, keys: Collection[str], since: datetime) -> dict[str, set[tuple[str, str]]]:
    """The accounts (network, external id) with a post since `since` whose text digest is one of
    `keys` (posts.text_key, see triage.triaged.text_digest), by digest. Read by the
    (text_key, created_at) index."""
    if not keys:
        return {}
    rows = session.connection().execute(
        select(PostRow.text_key, AuthorRow.network, AuthorRow.external_id).distinct()
        .join(AuthorRow, AuthorRow.id == PostRow.author_id)
        .where(col(PostRow.text_key).in_(sorted(keys)), PostRow.created_at >= since))
    found: dict[str, set[tuple[str, str]]] = {}
    for key, network, external_id in rows:
        found.setdefault(key, set()).add((network, external_id))
    return found
