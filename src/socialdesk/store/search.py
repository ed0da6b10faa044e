"""`/social search`: cases whose posts, notes or replies contain every search word.

SQLite searches the FTS5 table `search_index` (migration 0004); PostgreSQL the GIN
indexes over to_tsvector('simple', …). The user's words are never SQL or FTS syntax:
on SQLite each whitespace-separated term becomes an FTS5 string ("tok", inner quotes
doubled) and the terms are ANDed; on PostgreSQL they go to plainto_tsquery. Both are
bound parameters, as are all filters.

One hit per case: its newest matching document. Hits are newest first. With no
words, the filters alone list cases (each by its first post).

A very common word must not cost a sort of everything it matches: words are first
searched among the documents of the last day, then 7 days, then 30 (WINDOWS), and only when that
does not fill the page (past `offset + limit`) among all of them. A case whose newest
matching document is inside a window ranks above every case outside it, so a full page
from a window is exactly the page a search of everything gives; its total is then
unknown (None: "more than this page"), and has_more is True. Windows find their start by
the time indexes of migration 0007; on SQLite each kind of document (post, note, reply) is
also bounded by rowid (`id * 4 + kind`, migration 0004), which FTS5 seeks to directly, so
only the window's part of a word's document list is read. When no document is older
than a window, that window is everything and the search is exact (totals included).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import JSON, Integer, String, bindparam, func, text
from sqlmodel import Session, select
from sqlmodel.sql.sqltypes import UTCDateTime

from socialdesk.search_query import Query
from socialdesk.store.models import CaseEventRow, PostRow, ReplyRow

MAX_TERMS = 32  # FTS5 caps expression depth; 32 ANDed words is already very specific
MAX_LIMIT = 100
SNIPPET_CHARS = 160
# Then everything. The first is short because PostgreSQL checks a window's posts one by one
# (its time index first, then to_tsvector on each) when a word is too common for the GIN
# index to pay: a day of posts is a few thousand checks.
WINDOWS = (timedelta(days=1), timedelta(days=7), timedelta(days=30))

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
# A window on SQLite: one FTS5 query per kind of document, each bounded by rowid
# (id * 4 + kind: 1 post, 2 note, 3 reply) so FTS5 reads only that stretch of the word's list.
_SQLITE_WINDOW_KIND = """
    SELECT s.case_id AS case_id, s.doc_kind AS kind, s.doc_id AS doc_id, s.at AS at
    FROM search_index AS s
    WHERE search_index MATCH :match AND s.rowid BETWEEN :lo_{kind} AND :hi_{kind}
      AND s.doc_kind = '{kind}' AND s.at >= :window
"""
_POSTGRES_WINDOW = """
    SELECT p.case_id AS case_id, 'post' AS kind, p.id AS doc_id, p.created_at AS at
    FROM posts AS p
    WHERE to_tsvector('simple', p.text) @@ plainto_tsquery('simple', :words) AND p.created_at >= :window
    UNION ALL
    SELECT e.case_id, 'note', e.id, e.at
    FROM case_events AS e
    WHERE e.kind = 'note' AND to_tsvector('simple', e.payload ->> 'text') @@ plainto_tsquery('simple', :words)
      AND e.at >= :window
    UNION ALL
    SELECT r.case_id, 'reply', r.id, r.created_at
    FROM replies AS r
    WHERE to_tsvector('simple', r.text) @@ plainto_tsquery('simple', :words) AND r.created_at >= :window
"""
_KIND_NUMBER = {"post": 1, "note": 2, "reply": 3}
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
    since_cutoff = None
    if query.since is not None:
        doc_where = "WHERE m.at >= :cutoff"
        since_cutoff = params["cutoff"] = now - query.since
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
    else:
        page = _windowed(session, dialect, now=now, since=since_cutoff, doc_where=doc_where, case_where=case_where,
                         params=params, binds=binds, words=query.words, offset=offset, limit=limit)
        if page is not None:
            return page

    statement = _statement(matches, doc_where, case_where, binds)
    rows = session.execute(statement, params).all()
    if not rows:
        total = _count_only(session, statement, params) if offset else 0
        return SearchPage(hits=[], total=total, has_more=False)
    total = int(rows[0].total)
    hits = [_hit(session, row, query.words) for row in rows]
    return SearchPage(hits=hits, total=total, has_more=offset + len(hits) < total)


def _statement(matches: str, doc_where: str, case_where: list[str], binds: list[Any]) -> Any:
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
    return text(sql).bindparams(*binds).columns(at=UTCDateTime())


def _windowed(session: Session, dialect: str, *, now: datetime, since: datetime | None, doc_where: str,
              case_where: list[str], params: dict[str, Any], binds: list[Any], words: str, offset: int,
              limit: int) -> SearchPage | None:
    """The page from the narrowest window that holds more than `offset + limit` cases, or None
    when no window short of everything (or of `since:`) does."""
    oldest = _oldest_document(session)
    if oldest is None:
        return None
    for window in WINDOWS:
        cutoff = now - window
        if cutoff <= oldest or (since is not None and cutoff <= since):
            return None  # this window already holds everything asked for: the plain search is as cheap
        window_params = {**params, "window": cutoff}
        window_binds = [*binds, bindparam("window", type_=UTCDateTime())]
        if dialect == "sqlite":
            parts = []
            for kind, (lo, hi) in _id_ranges(session, cutoff).items():
                parts.append(_SQLITE_WINDOW_KIND.format(kind=kind))
                n = _KIND_NUMBER[kind]
                window_params[f"lo_{kind}"], window_params[f"hi_{kind}"] = lo * 4 + n, hi * 4 + n
                window_binds += [bindparam(f"lo_{kind}", type_=Integer), bindparam(f"hi_{kind}", type_=Integer)]
            if not parts:
                continue  # nothing at all in this window: try the next
            matches = " UNION ALL ".join(parts)
        else:
            matches = _POSTGRES_WINDOW
        rows = session.execute(_statement(matches, doc_where, case_where, window_binds), window_params).all()
        if rows and int(rows[0].total) > offset + limit:
            return SearchPage(hits=[_hit(session, row, words) for row in rows], total=None, has_more=True)
    return None


def _oldest_document(session: Session) -> datetime | None:
    """The time of the oldest searchable document (each an index's first entry, migration 0007)."""
    times = [
        session.exec(select(func.min(PostRow.created_at))).one(),
        session.exec(select(func.min(CaseEventRow.at)).where(CaseEventRow.kind == "note")).one(),
        session.exec(select(func.min(ReplyRow.created_at))).one(),
    ]
    present = [t for t in times if t is not None]
    return min(present) if present else None


def _id_ranges(session: Session, cutoff: datetime) -> dict[str, tuple[int, int]]:
    """Per kind, the lowest and highest id of the documents at or after `cutoff` (kinds with none left out).

    Ids need not follow time: the range is every id a document in the window has, and the
    query still checks each document's time.
    """
    found = {
        "post": session.exec(select(func.min(PostRow.id), func.max(PostRow.id))
                             .where(PostRow.created_at >= cutoff)).one(),
        "note": session.exec(select(func.min(CaseEventRow.id), func.max(CaseEventRow.id))
                             .where(CaseEventRow.kind == "note", CaseEventRow.at >= cutoff)).one(),
        "reply": session.exec(select(func.min(ReplyRow.id), func.max(ReplyRow.id))
                              .where(ReplyRow.created_at >= cutoff)).one(),
    }
    return {kind: (lo, hi) for kind, (lo, hi) in found.items() if lo is not None}


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
