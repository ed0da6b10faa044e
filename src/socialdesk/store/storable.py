"""Values from outside (a network's posts, authors, payloads) made storable, the same on both databases.

PostgreSQL refuses what SQLite takes: a string longer than its VARCHAR(n) (counted in
characters), NUL in text and in JSON it reads (->>, jsonb), and both drivers refuse a lone
surrogate (no UTF-8 for it). One such value fails the whole page's transaction, so the page,
and every other post on it, would fail on every retry. Here, before any row is built:

- NUL is dropped, everywhere (JSON keys and values too: store.jsonfmt calls `json_value`);
- a lone surrogate becomes U+FFFD (a pair split in two code points is joined);
- a string longer than its column is cut to the column's length, read from the table
  definitions, not before a combining mark or a joiner (the cut character would change).
  Ids are cut too: two ids alike up to their column's length would be one post, rather
  than a page that never stores.

Values that need none of it (nearly all) are returned as they are, after a few cheap checks.
"""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from typing import Any

from sqlalchemy import Column

from socialdesk.domain import Author, Post
from socialdesk.store.tables.cases import CaseRow
from socialdesk.store.tables.sources import AuthorRow, PostRow

_SURROGATE = re.compile("[\ud800-\udfff]")
_JOINER = "\u200d"


def _length(*columns: Column[Any]) -> int | None:
    """The shortest of the columns' lengths (None: no limit, as TEXT)."""
    lengths = [n for c in columns if (n := getattr(c.type, "length", None)) is not None]
    return min(lengths) if lengths else None


_P, _A, _C = PostRow.__table__.c, AuthorRow.__table__.c, CaseRow.__table__.c  # type: ignore[attr-defined]
# Each field as it is written: a post's conversation goes into its case too.
_POST_FIELDS = (("external_id", _length(_P.external_id)), ("url", _length(_P.url)), ("text", _length(_P.text)),
                ("lang", _length(_P.lang)), ("conversation_id", _length(_P.conversation_id, _C.conversation_id)),
                ("in_reply_to_id", _length(_P.in_reply_to_id)))
_AUTHOR_FIELDS = (("external_id", _length(_A.external_id)), ("handle", _length(_A.handle)),
                  ("name", _length(_A.name)), ("avatar_url", _length(_A.avatar_url)))


def _fits(value: str, length: int | None) -> bool:
    # isascii() is a flag lookup: only other strings are searched for surrogates.
    return ((length is None or len(value) <= length) and "\x00" not in value
            and (value.isascii() or _SURROGATE.search(value) is None))


def text(value: str) -> str:
    """`value` without NUL, and with U+FFFD for each lone surrogate."""
    if "\x00" in value:
        value = value.replace("\x00", "")
    if not value.isascii() and _SURROGATE.search(value) is not None:
        value = value.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return value


def cut(value: str | None, length: int | None) -> str | None:
    """`text(value)`, at most `length` characters (None: any length)."""
    if value is None or _fits(value, length):
        return value
    value = text(value)
    if length is None or len(value) <= length:
        return value
    end = length
    while end > 0 and _continues(value, end):
        end -= 1
    return value[:end or length]  # all marks: a plain cut


def _continues(value: str, at: int) -> bool:
    """Whether value[at] belongs to the character before it (an accent, an emoji's joiner or skin tone)."""
    char = value[at]
    return (unicodedata.category(char)[0] == "M" or char == _JOINER or value[at - 1] == _JOINER
            or "\U0001f3fb" <= char <= "\U0001f3ff")


def json_value(value: Any) -> Any:
    """`value` with `text` applied to every string in it, keys included."""
    if isinstance(value, str):
        return text(value)
    if isinstance(value, dict):
        return {text(k) if isinstance(k, str) else k: json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_value(v) for v in value]
    return value


def _changes(obj: Any, fields: tuple[tuple[str, int | None], ...], search: Any = _SURROGATE.search) -> dict[str, Any]:
    changes = {}
    for name, length in fields:
        value = getattr(obj, name)
        # _fits, inlined: every stored post passes here, most fields of most posts need nothing.
        if value is None or ((length is None or len(value) <= length) and "\x00" not in value
                             and (value.isascii() or search(value) is None)):
            continue
        changes[name] = cut(value, length)
    return changes


def author(value: Author) -> Author:
    """`value` as its authors row can hold it (the same object when it fits)."""
    changes = _changes(value, _AUTHOR_FIELDS)
    return dataclasses.replace(value, **changes) if changes else value


def post(value: Post) -> Post:
    """`value` and its author as their rows can hold them (the same object when they fit); its
    JSON (metrics, raw) is cleaned as it is written (store.jsonfmt)."""
    changes = _changes(value, _POST_FIELDS)
    by = author(value.author)
    if by is not value.author:
        changes["author"] = by
    return dataclasses.replace(value, **changes) if changes else value
