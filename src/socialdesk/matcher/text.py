"""Posts prepared for matching: the normalization shared with queries, and `MatchTarget`.

See the package docstring for the matching rules (normalization, words, unspaced
scripts). Pure: stdlib only.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from socialdesk.domain import Post


# --- normalization and tokenizing ---------------------------------------------------

# Scripts written without spaces between words (and Hangul, whose particles attach).
_UNSPACED_RANGES = (
    (0x0E00, 0x0EFF), (0x1000, 0x109F), (0x1100, 0x11FF), (0x1780, 0x17FF),
    (0x2E80, 0x2FDF), (0x3005, 0x3007), (0x3021, 0x3029), (0x3031, 0x3035),
    (0x3041, 0x309F), (0x30A1, 0x30FA), (0x30FC, 0x30FF), (0x3100, 0x312F),
    (0x3131, 0x318F), (0x31F0, 0x31FF), (0x3400, 0x4DBF), (0x4E00, 0x9FFF),
    (0xA000, 0xA4CF), (0xAC00, 0xD7AF), (0xF900, 0xFAFF), (0x20000, 0x323AF),
)


def _char_class(ranges: Iterable[tuple[int, int]]) -> str:
    return "".join(re.escape(chr(a)) + ("-" + re.escape(chr(b)) if b > a else "") for a, b in ranges)


def _mark_ranges() -> list[tuple[int, int]]:
    # Python's \w leaves out combining marks, which split Indic, Arabic and Hebrew words.
    # Scanning the first two planes takes ~15 ms once; no marks live beyond them except
    # the variation selectors supplement. ZWNJ/ZWJ join letters in Persian and Indic text.
    ranges: list[tuple[int, int]] = [(0x200C, 0x200D), (0xE0100, 0xE01EF)]
    for cp in range(0x20000):
        if unicodedata.category(chr(cp))[0] == "M":
            if ranges[-1][1] == cp - 1:
                ranges[-1] = (ranges[-1][0], cp)
            else:
                ranges.append((cp, cp))
    return ranges


_UNSPACED = _char_class(_UNSPACED_RANGES)
_MARKS = _char_class(_mark_ranges())
_WORD_CHAR = rf"[^\W{_UNSPACED}]"
# A segment is a run of an unspaced script, or a word (marks may continue, not start, it).
_SEGMENT = re.compile(rf"[{_UNSPACED}]+|{_WORD_CHAR}(?:{_WORD_CHAR}|[{_MARKS}])*")
_UNSPACED_RUN = re.compile(rf"[{_UNSPACED}]+")
# Most posts hold neither unspaced scripts nor combining marks; for them a segment is
# just \w+, which the re engine finds three times faster than _SEGMENT.
_PLAIN_WORD = re.compile(r"\w+")
_NEEDS_SEGMENT = re.compile(rf"[{_UNSPACED}{_MARKS}]")
_HASHTAG_BODY = rf"\w(?:\w|[{_MARKS}])*"
_HASHTAG = re.compile(rf"(?<![\w#&])#({_HASHTAG_BODY})")
# Handles hold dots and hyphens (acme.example.social) and may carry a server (@a@b.c);
# they end on a letter or digit, so a full stop after a mention is not part of it.
_HANDLE_BODY = r"\w(?:[\w.\-]*\w)?(?:@\w(?:[\w.\-]*\w)?)?"
_MENTION = re.compile(rf"(?<![\w@.\-])@({_HANDLE_BODY})")
_HANDLE = re.compile(_HANDLE_BODY)


def normalize(text: str) -> str:
    """NFKC + casefold, with Turkish İ folded to plain i; used on posts and queries alike."""
    if text.isascii():
        return text.lower()  # the same as NFKC + casefold for ASCII, ~10x faster
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
    # casefold("İ") is "i" + COMBINING DOT ABOVE; people typing "istanbul" mean that word.
    return folded.replace("i\u0307", "i") if "\u0307" in folded else folded


def _is_unspaced(segment: str) -> bool:
    return _UNSPACED_RUN.match(segment) is not None


# --- the post side ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MatchTarget:
    """One post, prepared once for every rule: normalized text, tokens, tags, runs."""

    text: str  # normalized
    joined: str  # " " + segments joined by one space + " ": phrases are substrings of it
    words: frozenset[str]
    hashtags: frozenset[str]  # without "#"
    mentions: frozenset[str]  # without "@"
    runs: tuple[str, ...]  # runs of unspaced scripts, in order
    lang: str  # normalized ("en-us"), "" when unknown
    author: str  # normalized handle without "@", "" when unknown
    anchor_keys: frozenset[str]  # what RuleIndex looks up (see index._anchor)

    @classmethod
    def of(cls, text: str, *, lang: str | None = None, author_handle: str | None = None) -> MatchTarget:
        norm = normalize(text)
        special = not norm.isascii() and _NEEDS_SEGMENT.search(norm) is not None
        segments = (_SEGMENT if special else _PLAIN_WORD).findall(norm)
        words = frozenset(segments)  # runs in it are harmless: no query word equals a run
        hashtags = frozenset(_HASHTAG.findall(norm)) if "#" in norm else frozenset()
        mentions = frozenset(_MENTION.findall(norm)) if "@" in norm else frozenset()
        runs = tuple(s for s in segments if _is_unspaced(s)) if special else ()
        author = normalize(author_handle or "").removeprefix("@")
        extra = ["#" + h for h in hashtags] + ["@" + m for m in mentions]
        if author:
            extra.append("from:" + author)
        for run in runs:  # unspaced terms are indexed by their first bigram, or their one char
            extra.extend(run)
            extra.extend(run[i:i + 2] for i in range(len(run) - 1))
        return cls(text=norm, joined=" " + " ".join(segments) + " ", words=words,
                   hashtags=hashtags, mentions=mentions, runs=runs,
                   lang=normalize(lang or "").replace("_", "-"), author=author,
                   anchor_keys=words.union(extra) if extra else words)


def target_of(post: Post) -> MatchTarget:
    """The target for a normalized post: its text, language and author's handle."""
    return MatchTarget.of(post.text, lang=post.lang, author_handle=post.author.handle)
