"""Who posted the same text lately: one query per page, for the spam score's "same text from N accounts"."""

from __future__ import annotations

import functools
from collections.abc import Collection
from datetime import datetime

from sqlalchemy import TextClause, bindparam, text
from sqlmodel import Session
from sqlmodel.sql.sqltypes import UTCDateTime


def accounts_by_text(*, session: Session, keys: Collection[str], since: datetime,
                     at_most: int) -> dict[str, set[tuple[str, str]]]:
    """Up to `at_most` accounts (network, external id) per text digest in `keys` (posts.text_key,
    see triage.triaged.text_digest) with a post since `since`.

    One statement for the page: a part per digest (on PostgreSQL, a lateral join over them), each
    reading at most `at_most` distinct authors from the (text_key, created_at, author_id) index,
    so a text thousands of accounts posted costs as little as one a few did (the count is exact
    below `at_most`)."""
    if not keys:
        return {}
    ordered = sorted(keys)
    found: dict[str, set[tuple[str, str]]] = {}
    if session.get_bind().dialect.name == "postgresql":
        # The same parts as one short statement over an array: PostgreSQL plans it once (prepared
        # after a few pages) instead of planning a UNION of a part per digest for every page.
        rows = session.connection().execute(_LATERAL, {"keys": ordered, "since": since, "at_most": at_most})
    else:
        binds = {f"k{i}": key for i, key in enumerate(ordered)}
        rows = session.connection().execute(_statement(len(ordered)), {**binds, "since": since, "at_most": at_most})
    for key, network, external_id in rows:
        found.setdefault(key, set()).add((network, external_id))
    return found


@functools.lru_cache(maxsize=128)
def _statement(parts: int) -> TextClause:
    """The statement for `parts` digests, written once per size (a page has at most a few hundred posts).

    Plain SQL both databases read: building it as expressions for every page cost more than running it."""
    sample = ("SELECT x.text_key, a.network, a.external_id FROM (SELECT DISTINCT text_key, author_id FROM posts "
              "WHERE text_key = :k{i} AND created_at >= :since LIMIT :at_most) x JOIN authors a ON a.id = x.author_id")
    sql = " UNION ALL ".join(sample.format(i=i) for i in range(parts))
    return text(sql).bindparams(bindparam("since", type_=UTCDateTime()))


_LATERAL = text(
    "SELECT k.text_key, a.network, a.external_id FROM unnest(CAST(:keys AS text[])) AS k(text_key) "
    "CROSS JOIN LATERAL (SELECT DISTINCT author_id FROM posts WHERE posts.text_key = k.text_key "
    "AND created_at >= :since LIMIT :at_most) x JOIN authors a ON a.id = x.author_id"
).bindparams(bindparam("since", type_=UTCDateTime()))
