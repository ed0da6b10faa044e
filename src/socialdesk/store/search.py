"""`/social search`: cases whose posts, notes or replies contain every search word.

SQLite searches the FTS5 table `search_index` (migration 0004); PostgreSQL the GIN
indexes over to_tsvector('simple', …). The user's words are never SQL or FTS syntax:
on SQLite each whitespace-separated term becomes an FTS5 string ("tok", inner quotes
doubled) and the terms are ANDed; on PostgreSQL they go to plainto_tsquery. Both are
bound parameters, as are all filters.

One hit per case: its newest matching document. Hits are newest first. With no
words, the filters alone list cases (each by its first post).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import JSON, Integer, String, bindparam, text
from sqlmodel import Session
from sqlmodel.sql.sqltypes import UTCDateTime

from socialdesk.search_query import Query

MAX_TERMS = 32  # FTS5 caps expression depth; 32 ANDed words is already very specific
MAX_LIMIT = 100
SNIPPET_CHARS = 160

DocKind = Literal["post", "note", "reply"]


@dataclass(frozen=True)
class Hit:
    case_id: int
    status: str
    kind: DocKind
    snippet: str
    author_handle: str | None
    created_at: datetime
    post_url: str | None
    channel_id: str
    message_ts: str | None


@dataclass(frozen=True)
class SearchPage:
    hits: list[Hit]
    total: int | None
    has_more: bool


def terms(words: str) -> list[str]:
    """Whitespace-separated terms that hold at least one character the index keeps."""
    seen: dict[str, None] = {}
    for chunk in words.split():
        if any(_token_char(ch) for ch in chunk):
            seen.setdefault(chunk, None)
        if len(seen) >= MAX_TERMS:
            break
    return list(seen)


def _token_char(ch: str) -> bool:
    # unicode61 keeps letters, numbers, marks, private use, and anything outside the BMP (emoji).
    return ord(ch) > 0xFFFF or unicodedata.category(ch)[0] in "LNM" or unicodedata.category(ch) == "Co"


def fts5_match(words: str) -> str:
    """An FTS5 MATCH expression where every term is a quoted string: no operators, no prefixes."""
    return " AND ".join('"' + term.replace('"', '""') + '"' for term in terms(words))


_SQLITE_MATCHES = """
    SELECT s.case_id AS case_id, s.doc_kind AS kind, s.doc_id AS doc_id, s.at AS at
    FROM search_index AS s
    WHERE search_index MATCH :match
"""
# The to_tsvector expressions repeat those of the indexes in migration 0004.
_POSTGRES_MATCHES = """
    SELECT p.case_id AS case_id, 'post' AS kind, p.id AS doc_id, p.created_at AS at
    FROM posts AS p
    WHERE to_tsvector('simple', p.text) @@ plainto_tsquery('simple', :words)
    UNION ALL
    SELECT e.case_id, 'note', e.id, e.at
    FROM case_events AS e
    WHERE e.kind = 'note' AND to_tsvector('simple', e.payload ->> 'text') @@ plainto_tsquery('simple', :words)
    UNION ALL
    SELECT r.case_id, 'reply', r.id, r.created_at
    FROM replies AS r
    WHERE to_tsvector('simple', r.text) @@ plainto_tsquery('simple', :words)
"""
_FIRST_POSTS = """
    SELECT c.id AS case_id, 'post' AS kind, p.id AS doc_id, p.created_at AS at
    FROM cases AS c JOIN posts AS p ON p.id = c.first_post_id
"""


def search(*, session: Session, query: Query, now: datetime, limit: int = 10, offset: int = 0) -> SearchPage:
    limit = max(1, min(int(limit), MAX_LIMIT))
    offset = max(0, int(offset))
    dialect = session.get_bind().dialect.name
    params: dict[str, Any] = {"limit": limit, "offset": offset}
    binds = [bindparam("limit", type_=Integer), bindparam("offset", type_=Integer)]

    if query.words.strip():
        found = terms(query.words)
        if not found:  # only punctuation: nothing the index can hold
            return SearchPage(hits=[], total=0, has_more=False)
        if dialect == "sqlite":
            matches = _SQLITE_MATCHES
            params["match"] = fts5_match(query.words)
            binds.append(bindparam("match", type_=String))
        else:
            matches = _POSTGRES_MATCHES
            params["words"] = " ".join(found)
            binds.append(bindparam("words", type_=String))
    else:
        matches = _FIRST_POSTS  # the case filters are added below, inside it too, so indexes drive it

    doc_where = ""
    if query.since is not None:
        doc_where = "WHERE m.at >= :cutoff"
        params["cutoff"] = now - query.since
        binds.append(bindparam("cutoff", type_=UTCDateTime()))

    case_where = ["b.rn = 1"]
    if query.status:
        case_where.append("c.status IN :status")
        params["status"] = sorted(query.status)
        binds.append(bindparam("status", expanding=True, type_=String))
    if query.rule_ids:
        case_where.append("c.rule_id IN :rule_ids")
        params["rule_ids"] = sorted(query.rule_ids)
        binds.append(bindparam("rule_ids", expanding=True, type_=Integer))
    if query.networks:
        case_where.append("c.network IN :networks")
        params["networks"] = sorted(query.networks)
        binds.append(bindparam("networks", expanding=True, type_=String))
    if query.authors:
        handles = sorted(h.lower().lstrip("@") for h in query.authors)
        author_ids = session.execute(
            text("SELECT id FROM authors WHERE lower(handle) IN :handles").bindparams(
                bindparam("handles", expanding=True, type_=String)),
            {"handles": handles},
        ).scalars().all()
        if not author_ids:
            return SearchPage(hits=[], total=0, has_more=False)
        case_where.append("c.customer_author_id IN :author_ids")
        params["author_ids"] = sorted(author_ids)
        binds.append(bindparam("author_ids", expanding=True, type_=Integer))

    if matches is _FIRST_POSTS:
        inner_where = [w.replace("b.rn = 1", "1 = 1") for w in case_where]
        matches = f"{_FIRST_POSTS} WHERE {' AND '.join(inner_where)}"

    sql = f"""
        WITH m AS ({matches}),
        b AS (
            SELECT m.case_id, m.kind, m.doc_id, m.at,
                   ROW_NUMBER() OVER (PARTITION BY m.case_id ORDER BY m.at DESC, m.doc_id DESC) AS rn
            FROM m {doc_where}
        )
        SELECT b.case_id, b.kind, b.doc_id, b.at, COUNT(*) OVER () AS total
        FROM b JOIN cases AS c ON c.id = b.case_id
        WHERE {" AND ".join(case_where)}
        ORDER BY b.at DESC, b.case_id DESC
        LIMIT :limit OFFSET :offset
    """
    statement = text(sql).bindparams(*binds).columns(at=UTCDateTime())
    rows = session.execute(statement, params).all()
    if not rows:
        total = _count_only(session, statement, params) if offset else 0
        return SearchPage(hits=[], total=total, has_more=False)
    total = int(rows[0].total)
    hits = [_hit(session, row, query.words) for row in rows]
    return SearchPage(hits=hits, total=total, has_more=offset + len(hits) < total)


def _count_only(session: Session, statement: Any, params: dict[str, Any]) -> int:
    """Past the last page there is no row to carry the window count: ask again from the start."""
    rows = session.execute(statement, {**params, "offset": 0, "limit": 1}).all()
    return int(rows[0].total) if rows else 0


_CASE = text("""
    SELECT c.id, c.status, c.channel_id, c.message_ts, p.url AS first_url, a.handle AS customer
    FROM cases AS c
    LEFT JOIN posts AS p ON p.id = c.first_post_id
    LEFT JOIN authors AS a ON a.id = c.customer_author_id
    WHERE c.id = :id
""")
_POST = text("SELECT p.text, p.url, a.handle FROM posts AS p LEFT JOIN authors AS a ON a.id = p.author_id WHERE p.id = :id")
_NOTE = text("SELECT payload FROM case_events WHERE id = :id").columns(payload=JSON())
_REPLY = text("SELECT text FROM replies WHERE id = :id")


def _hit(session: Session, row: Any, words: str) -> Hit:
    # Named columns only, so a model column added later cannot break search.
    case = session.execute(_CASE, {"id": row.case_id}).one()
    kind: DocKind = row.kind
    body = ""
    handle, url = case.customer, case.first_url
    if kind == "post":
        post = session.execute(_POST, {"id": row.doc_id}).first()
        if post is not None:
            body, url, handle = post.text, post.url, post.handle or handle
    elif kind == "note":
        payload = session.execute(_NOTE, {"id": row.doc_id}).scalar()
        body = str(payload.get("text") or "") if isinstance(payload, dict) else ""
    else:
        body = session.execute(_REPLY, {"id": row.doc_id}).scalar() or ""
    return Hit(
        case_id=case.id,
        status=case.status,
        kind=kind,
        snippet=snippet(body, words),
        author_handle=handle,
        created_at=row.at,
        post_url=url,
        channel_id=case.channel_id,
        message_ts=case.message_ts,
    )


_WORD = re.compile(r"\w+")


def snippet(body: str, words: str, width: int = SNIPPET_CHARS) -> str:
    """About `width` characters of `body` around the first search word found, on one line."""
    flat = " ".join(body.split())
    if len(flat) <= width:
        return flat
    lowered = flat.casefold()
    at = -1
    for term in terms(words):
        for piece in _WORD.findall(term.casefold()):
            at = lowered.find(piece)
            if at >= 0:
                break
        if at >= 0:
            break
    start = max(0, at - width // 3) if at >= 0 else 0
    end = min(len(flat), start + width)
    start = max(0, end - width)
    return ("…" if start > 0 else "") + flat[start:end].strip() + ("…" if end < len(flat) else "")


__all__ = ["Hit", "SearchPage", "search", "snippet", "terms", "fts5_match"]
