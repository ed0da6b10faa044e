"""Bluesky post text: its length as Bluesky counts it, and the rich-text facets to send.

Length: a post's `text` may hold at most 300 graphemes (`app.bsky.feed.post`,
`maxGraphemes`), i.e. Unicode extended grapheme clusters: a ZWJ family emoji, a flag,
a letter with combining marks and a CJK character each count one. The `regex`
package's `\\X` implements UAX #29 clusters and follows new Unicode versions.

Facets (`app.bsky.richtext.facet`) say which part of the text is a link, a mention or
a hashtag. Their offsets count **bytes of the UTF-8 text** (byteStart inclusive,
byteEnd exclusive), not characters. The app detects them as follows, and so do we:

- links start a word (text start, whitespace or "(") and are either `http(s)://…` up
  to the next whitespace, or a bare domain (`example.com/path`) whose last label is a
  known TLD, sent as `https://…`. Trailing `.,;:!?` and unbalanced ")" are not part
  of the link.
- mentions start a word too: `@` and a handle that is a domain name; the facet names
  the account's DID, so it is only made when the handle resolves.
- hashtags: `#` (or the full-width `＃`) after the start or whitespace, up to the next
  whitespace, trailing punctuation trimmed; a tag of digits only (`#1`) is not a tag,
  nor one over 64 graphemes. The facet's `tag` has no `#`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import regex

MAX_GRAPHEMES = 300
MAX_TAG_GRAPHEMES = 64  # facet#tag maxGraphemes

LINK = "app.bsky.richtext.facet#link"
MENTION = "app.bsky.richtext.facet#mention"
TAG = "app.bsky.richtext.facet#tag"

_GRAPHEME = regex.compile(r"\X")

# The app checks bare domains against the IANA list; this short list (every two-letter
# ccTLD plus the common generic TLDs) keeps "file.txt" or "v1.2" from becoming links.
_GENERIC_TLDS = frozenset(
    ["com", "net", "org", "edu", "gov", "mil", "int", "info", "biz", "name", "pro", "mobi", "aero", "asia", "cat", "coop", "jobs", "museum", "tel", "travel", "app", "dev", "page", "blog", "shop", "store", "online", "site", "website", "tech", "cloud", "digital", "email", "link", "news", "media", "live", "life", "world", "today", "xyz", "top", "club", "space", "design", "studio", "agency", "company", "solutions", "services", "support", "help", "systems", "network", "group", "global", "team", "art", "games", "health", "care", "bank", "money", "finance", "social", "chat", "video", "ai", "io", "co", "me", "tv", "fm", "gg", "ly", "sh", "so", "to", "us", "uk", "eu"]
)

_URL = regex.compile(
    r"(?<![^\s(])"
    r"(?P<url>https?://\S+|(?P<domain>[a-z][a-z0-9-]*(?:\.[a-z0-9-]+)+)(?:[/?#]\S*)?)",
    regex.IGNORECASE,
)
_MENTION = regex.compile(r"(?<![^\s(])@(?P<handle>[a-zA-Z0-9.-]+)")
# Zero-width and soft-hyphen characters end a tag as whitespace does.
_INVISIBLE = "\u00ad\u2060\u200a\u200b\u200c\u200d\u20e2"
_TAG = regex.compile(rf"(?<!\S)[#＃](?P<tag>(?!\ufe0f)[^\s{_INVISIBLE}]+)")
_TRAILING_PUNCTUATION = regex.compile(r"\p{P}+$")
_HAS_WORD_CHAR = regex.compile(r"[^\d\p{P}\s]")
_HANDLE = regex.compile(r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]([a-z0-9-]{0,61}[a-z0-9])?$", regex.IGNORECASE)


def grapheme_length(text: str) -> int:
    """How many graphemes Bluesky counts in `text` (its 300 limit is in these)."""
    return len(_GRAPHEME.findall(text))


def graphemes_left(text: str, limit: int = MAX_GRAPHEMES) -> int:
    """How many graphemes may still be typed (negative: that many too many)."""
    return limit - grapheme_length(text)


def utf8_offset(text: str, index: int) -> int:
    """The UTF-8 byte offset of character `index` of `text`."""
    return len(text[:index].encode("utf-8"))


def facets(text: str, resolve_handle: Callable[[str], str | None]) -> list[dict[str, Any]]:
    """The `app.bsky.richtext.facet` list for `text`, ordered by position.

    `resolve_handle` turns a handle into a DID (None: no such account, no facet).
    """
    found: list[tuple[int, int, dict[str, Any]]] = []
    found += _links(text)
    found += _mentions(text, resolve_handle)
    found += _tags(text)
    found.sort(key=lambda item: item[0])
    result: list[dict[str, Any]] = []
    last_end = -1
    for start, end, feature in found:
        if start < last_end:
            continue  # overlapping (a "#" inside a link): the earlier facet wins
        last_end = end
        result.append({
            "$type": "app.bsky.richtext.facet",
            "index": {"byteStart": utf8_offset(text, start), "byteEnd": utf8_offset(text, end)},
            "features": [feature],
        })
    return result


def _trim_link(url: str) -> str:
    # Sentence punctuation right after a link belongs to the sentence.
    # "(see https://x.org/a_(b))." keeps the link's own parentheses, not the sentence's.
    while url:
        if url[-1] in ".,;:!?" or (url[-1] == ")" and url.count(")") > url.count("(")):
            url = url[:-1]
        else:
            return url
    return url


def _links(text: str) -> list[tuple[int, int, dict[str, Any]]]:
    found = []
    for match in _URL.finditer(text):
        url = _trim_link(match.group("url"))
        domain = match.group("domain")
        if domain:
            tld = domain.rsplit(".", 1)[-1].lower()
            if not (tld in _GENERIC_TLDS or (len(tld) == 2 and tld.isalpha())):
                continue
            uri = "https://" + url
        else:
            if len(url) <= len(match.group("url").split("://", 1)[0]) + 3:
                continue  # "https://" alone
            uri = url
        start = match.start("url")
        found.append((start, start + len(url), {"$type": LINK, "uri": uri}))
    return found


def _mentions(text: str, resolve_handle: Callable[[str], str | None]) -> list[tuple[int, int, dict[str, Any]]]:
    found = []
    for match in _MENTION.finditer(text):
        handle = match.group("handle").rstrip(".-")
        if not _HANDLE.match(handle):
            continue
        did = resolve_handle(handle.lower())
        if not did:
            continue
        start = match.start()
        found.append((start, start + 1 + len(handle), {"$type": MENTION, "did": did}))
    return found


def _tags(text: str) -> list[tuple[int, int, dict[str, Any]]]:
    found = []
    for match in _TAG.finditer(text):
        tag = _TRAILING_PUNCTUATION.sub("", match.group("tag"))
        if not tag or not _HAS_WORD_CHAR.search(tag) or grapheme_length(tag) > MAX_TAG_GRAPHEMES:
            continue
        start = match.start()
        found.append((start, start + 1 + len(tag), {"$type": TAG, "tag": tag}))
    return found
