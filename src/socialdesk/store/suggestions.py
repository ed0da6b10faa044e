"""Answers at hand: the best known answers for a case, and the case's thread for a drafted reply.

`suggest` ranks the cases whose posts and replies share the most telling words with
the case's post, by the full-text index (SQLite: FTS5 `search_index` with bm25, migration
0004; PostgreSQL: to_tsvector('simple', …) with ts_rank, over the same GIN expression
indexes `/social search` uses). Only cases with an answer worth reusing take part: an
active FAQ entry ("Save as FAQ"), or a resolved case with a reply that went out with its
text. A FAQ entry ranks above a plain answered case of about the same relevance (it was
curated on purpose). Two queries: the ranking, then the answers of the best cases.

Words are matched with OR (any shared word counts, rarer words count more), never as
FTS or tsquery syntax: each is a run of letters and digits, quoted. Mentions, links,
very common words and the words of the case's rule are left out: they match (nearly)
everything, tell nothing, and are the costliest to read. The search reaches back over
the last RECENT_DOCUMENTS posts and replies (and every FAQ case's, however old), so its
cost stays bounded however big the database grows: on two cores, 300,000 posts that all
share a word answer in 0.1-0.4 s on SQLite (a few hundred ms on PostgreSQL over 50,000).
The reply modal asks after it has opened, so that time never delays the opening.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Integer, String, bindparam, text
from sqlmodel import Session, col, select
from sqlmodel.sql.sqltypes import UTCDateTime

from socialdesk.domain import CaseStatus, EventKind
from socialdesk.store.curated import ACTIVE, without_leading_mentions
from socialdesk.store.models import AuthorRow, CaseEventRow, CaseRow, CuratedEntryRow, PostRow, ReplyRow

MAX_WORDS = 16  # the most telling words of a post are enough; more only makes the OR longer
RECENT_DOCUMENTS = 100_000  # posts, and replies, searched back (FAQ cases' always): the cost stays bounded
POOL = 12  # cases ranked before answers are deduplicated (several cases may share one saved reply)
FAQ_BOOST = 1.5  # a curated answer outranks an answered case unless that one matches clearly better
Source = Literal["faq", "case"]

_MENTION_OR_LINK = re.compile(r"(?i)(?:https?://|www\.)\S+|[@＠][\w.-]+")
_WORD = re.compile(r"[^\W_]+")
# Words in nearly every post to a care team (and the usual English function words).
STOP_WORDS = frozenset("""
a about after again all also am an and any are as at be been before but by can could did do does doing don
for from get got had has have having he her hers him his how i if in into is it its just me more most my
no not now of off on once only or our out over own same she should so some still such than that the their
them then there these they this those through to too under until up very was we were what when where which
while who whom why will with would you your yours hi hello hey please thanks thank help im ive dont cant
""".split())


@dataclass(frozen=True)
class Suggestion:
    """An answer the team gave before, for the agent to reuse. `key` names it in a button's value."""

    source: Source  # "faq": an active FAQ entry; "case": the last reply sent on a resolved case
    ref: int  # the FAQ entry's id, or the answered case's id
    case_id: int  # the case it was answered on
    answer: str
    question: str | None = None  # a FAQ entry's question

    @property
    def key(self) -> str:
        return f"{self.source}:{self.ref}"


def words(post_text: str, limit: int = MAX_WORDS) -> list[str]:
    """The post's telling words, lower-cased, first seen first: no mentions, links or stop words."""
    seen: dict[str, None] = {}
    for word in _WORD.findall(_MENTION_OR_LINK.sub(" ", post_text).casefold()):
        if (len(word) > 1 or not word.isascii()) and word not in STOP_WORDS:
            seen.setdefault(word, None)
            if len(seen) >= limit:
                break
    return list(seen)


def fts5_any(found: list[str]) -> str:
    """An FTS5 MATCH of any of the words, each a quoted string (no operators, no prefixes)."""
    return " OR ".join('"' + word.replace('"', '""') + '"' for word in found)


def tsquery_any(found: list[str]) -> str:
    """A to_tsquery of any of the words; each is letters and digits only, quoted as a lexeme."""
    return " | ".join("'" + word.replace("'", "''") + "'" for word in found)


# Cases worth suggesting: an active FAQ entry, or resolved with a reply sent with its text.
_CANDIDATE = f"""
    c.id <> :case_id AND (
        EXISTS (SELECT 1 FROM curated_entries AS f WHERE f.case_id = c.id AND f.status = '{ACTIVE}')
        OR (c.status = '{CaseStatus.RESOLVED.value}' AND EXISTS (
            SELECT 1 FROM replies AS r WHERE r.case_id = c.id AND r.status = 'sent' AND r.text <> ''))
    )
"""
# A document's score: higher is better (FTS5's bm25 is lower-is-better, hence the minus). Documents are
# the posts and replies of the last RECENT_DOCUMENTS of each, bounded by rowid (`id * 4 + kind`,
# migration 0004) so FTS5 reads only that stretch of each word's list, and those of every FAQ case.
_SQLITE_SCORES = """
    SELECT s.case_id AS case_id, -bm25(search_index) AS score
    FROM search_index AS s
    WHERE search_index MATCH :match AND s.doc_kind = 'post'
      AND s.rowid BETWEEN ((SELECT max(id) FROM posts) - :recent) * 4 + 1 AND (SELECT max(id) FROM posts) * 4 + 1
    UNION ALL
    SELECT s.case_id, -bm25(search_index)
    FROM search_index AS s
    WHERE search_index MATCH :match AND s.doc_kind = 'reply'
      AND s.rowid BETWEEN ((SELECT max(id) FROM replies) - :recent) * 4 + 3 AND (SELECT max(id) FROM replies) * 4 + 3
    UNION ALL
    SELECT s.case_id, -bm25(search_index)
    FROM search_index AS s
    WHERE search_index MATCH :match AND s.rowid IN (
        SELECT p.id * 4 + 1 FROM posts AS p JOIN curated_entries AS f ON f.case_id = p.case_id
        WHERE f.status = '{active}' AND p.id < (SELECT max(id) FROM posts) - :recent
        UNION ALL
        SELECT r.id * 4 + 3 FROM replies AS r JOIN curated_entries AS f ON f.case_id = r.case_id
        WHERE f.status = '{active}' AND r.id < (SELECT max(id) FROM replies) - :recent)
"""
# The to_tsvector expressions repeat those of the indexes in migration 0004.
_POSTGRES_SCORES = """
    SELECT p.case_id AS case_id, ts_rank(to_tsvector('simple', p.text), to_tsquery('simple', :query)) AS score
    FROM posts AS p
    WHERE to_tsvector('simple', p.text) @@ to_tsquery('simple', :query) AND p.removed_at IS NULL
      AND (p.id >= (SELECT max(id) FROM posts) - :recent
           OR p.case_id IN (SELECT f.case_id FROM curated_entries AS f WHERE f.status = '{active}'))
    UNION ALL
    SELECT r.case_id, ts_rank(to_tsvector('simple', r.text), to_tsquery('simple', :query))
    FROM replies AS r
    WHERE to_tsvector('simple', r.text) @@ to_tsquery('simple', :query)
      AND (r.id >= (SELECT max(id) FROM replies) - :recent
           OR r.case_id IN (SELECT f.case_id FROM curated_entries AS f WHERE f.status = '{active}'))
"""
# `m` is materialized: FTS5's bm25 works only where its MATCH is, not once SQLite folds it into the GROUP BY.
_RANKED = """
    WITH m AS {materialized} ({scores})
    SELECT ranked.case_id FROM (
        SELECT best.case_id AS case_id, best.score AS score,
               EXISTS (SELECT 1 FROM curated_entries AS f WHERE f.case_id = c.id AND f.status = '{active}') AS faq
        FROM (SELECT m.case_id AS case_id, MAX(m.score) AS score FROM m GROUP BY m.case_id) AS best
        JOIN cases AS c ON c.id = best.case_id
        WHERE {candidate}
    ) AS ranked
    ORDER BY ranked.score * (CASE WHEN ranked.faq THEN {boost} ELSE 1 END) DESC, ranked.case_id DESC
    LIMIT :pool
"""
_ANSWERS = text(f"""
    SELECT f.case_id AS case_id, 'faq' AS source, f.id AS ref, f.question AS question, f.answer AS answer,
           f.updated_at AS at
    FROM curated_entries AS f
    WHERE f.case_id IN :case_ids AND f.status = '{ACTIVE}'
    UNION ALL
    SELECT r.case_id, 'case', r.case_id, NULL, r.text, r.sent_at
    FROM replies AS r
    WHERE r.case_id IN :case_ids AND r.status = 'sent' AND r.text <> ''
""").bindparams(bindparam("case_ids", expanding=True, type_=Integer)).columns(at=UTCDateTime())


def suggest(*, session: Session, case_id: int, post_text: str, limit: int = 3, common: str = "",
            recent: int = RECENT_DOCUMENTS) -> list[Suggestion]:
    """The `limit` best answers for the case whose post is `post_text`, best first (maybe none).

    `common`: text whose words every candidate shares, left out of the search (the case's rule
    query: "acme" is in every post its rule found, tells nothing, and is the costliest word to read).
    """
    shared = set(words(common, limit=MAX_WORDS * 4))
    found = [w for w in words(post_text, limit=MAX_WORDS * 2) if w not in shared][:MAX_WORDS]
    if not found or limit < 1:
        return []
    sqlite = session.get_bind().dialect.name == "sqlite"
    scores = (_SQLITE_SCORES if sqlite else _POSTGRES_SCORES).format(active=ACTIVE)
    sql = _RANKED.format(scores=scores, candidate=_CANDIDATE, materialized="MATERIALIZED" if sqlite else "",
                         active=ACTIVE, boost=FAQ_BOOST)
    query = text(sql).bindparams(bindparam("case_id", type_=Integer), bindparam("pool", type_=Integer),
                                 bindparam("recent", type_=Integer),
                                 bindparam("match" if sqlite else "query", type_=String))
    params: dict[str, Any] = {"case_id": case_id, "pool": POOL, "recent": max(0, int(recent)),
                              ("match" if sqlite else "query"): fts5_any(found) if sqlite else tsquery_any(found)}
    order = list(session.execute(query, params).scalars())
    if not order:
        return []
    best: dict[int, tuple[Any, ...]] = {}  # case id -> its answer row: a FAQ entry, else the last reply sent
    for row in session.execute(_ANSWERS, {"case_ids": order}):
        held = best.get(row.case_id)
        if held is None or _preferred(row) > _preferred(held):
            best[row.case_id] = row
    chosen: list[Suggestion] = []
    shown: set[str] = set()
    for ranked_case in order:
        row = best.get(ranked_case)
        if row is None:
            continue
        answer = without_leading_mentions(row.answer) if row.source == "case" else row.answer.strip()
        same = " ".join(answer.casefold().split())
        if not same or same in shown:  # one saved reply used on many cases is one suggestion
            continue
        shown.add(same)
        chosen.append(Suggestion(source=row.source, ref=row.ref, case_id=row.case_id, answer=answer,
                                 question=row.question))
        if len(chosen) >= limit:
            break
    return chosen


def _preferred(row: Any) -> tuple[bool, float]:
    """A case's FAQ entry before its replies; of several, the newest."""
    return row.source == "faq", row.at.timestamp() if row.at is not None else 0.0


def answer_for(*, session: Session, key: str) -> Suggestion | None:
    """The suggestion a "Use this" button names ("faq:12", "case:34"), as it is now; None if gone."""
    source, _, ref_text = key.partition(":")
    ref = int(ref_text) if ref_text.isascii() and ref_text.isdigit() and len(ref_text) <= 10 else None
    if ref is None or ref > 2**31 - 1:
        return None
    if source == "faq":
        entry = session.get(CuratedEntryRow, ref)
        if entry is None or entry.status != ACTIVE:
            return None
        return Suggestion(source="faq", ref=ref, case_id=entry.case_id, answer=entry.answer.strip(),
                          question=entry.question)
    if source == "case":
        reply = session.exec(
            select(ReplyRow).where(ReplyRow.case_id == ref, ReplyRow.status == "sent", ReplyRow.text != "")
            .order_by(col(ReplyRow.sent_at).desc(), col(ReplyRow.id).desc())
        ).first()
        if reply is None:
            return None
        return Suggestion(source="case", ref=ref, case_id=ref, answer=without_leading_mentions(reply.text))
    return None


# --- the case's thread, for a drafted reply -----------------------------------------------------

ThreadKind = Literal["customer", "other", "reply", "note"]


@dataclass(frozen=True)
class ThreadItem:
    """One step of a case's conversation: a post (the customer's, or someone else's), a reply we
    sent, or an internal note (never for the customer's eyes)."""

    kind: ThreadKind
    text: str
    at: datetime
    who: str  # a handle, or the Slack user id of the agent


def thread(*, session: Session, case_id: int, limit: int = 12) -> list[ThreadItem]:
    """The case's posts (not removed at the source), replies that went out with text, and notes;
    oldest first, the newest `limit` of them."""
    case = session.get(CaseRow, case_id)
    if case is None:
        return []
    items: list[ThreadItem] = []
    posts = session.exec(
        select(PostRow.text, PostRow.created_at, PostRow.author_id, AuthorRow.handle)
        .join(AuthorRow, AuthorRow.id == PostRow.author_id)
        .where(PostRow.case_id == case_id, col(PostRow.removed_at).is_(None))
        .order_by(col(PostRow.created_at).desc()).limit(limit))
    for body, at, author_id, handle in posts:
        kind: ThreadKind = "customer" if author_id == case.customer_author_id else "other"
        items.append(ThreadItem(kind, body, at, handle))
    replies = session.exec(select(ReplyRow).where(ReplyRow.case_id == case_id, col(ReplyRow.status).in_(("sent", "marked")),
                                                  ReplyRow.text != "")
                           .order_by(col(ReplyRow.created_at).desc()).limit(limit))
    items += [ThreadItem("reply", r.text, r.sent_at or r.created_at, r.agent) for r in replies]
    notes = session.exec(select(CaseEventRow).where(CaseEventRow.case_id == case_id,
                                                    CaseEventRow.kind == EventKind.NOTE.value)
                         .order_by(col(CaseEventRow.id).desc()).limit(limit))
    for note in notes:
        body = str((note.payload or {}).get("text") or "").strip()
        if body:
            items.append(ThreadItem("note", body, note.at, note.actor))
    items.sort(key=lambda item: item.at)
    return items[-limit:]


__all__ = ["Suggestion", "ThreadItem", "answer_for", "suggest", "thread", "words"]
