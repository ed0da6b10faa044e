"""A status's HTML `content` → the plain text an agent reads (pure).

Mastodon sanitizes what its own users write, but content federated from other servers
is only as tidy as they make it, so this reads any HTML with BeautifulSoup's
`html.parser` backend and keeps only text:

- paragraphs become blank lines, `<br>` a line break, other blocks (lists, quotes,
  headings) start a new line; spaces collapse as a browser collapses them
- a hashtag link reads `#tag`; a mention reads `@user@server` (its handle from the
  status's `mentions`, else the name shown and the host of its link)
- a link whose text is its address, or a shortened form of it (Mastodon hides
  `https://` and shows `example.com/long…`), reads as the full `href`; a link with
  other words reads `words (href)`, so a disguised address stays visible
- scripts, styles and other non-text elements are dropped with everything inside
  them, comments too; entities are decoded; images read as their alt text
- deeply nested or oversized markup is walked without recursion and cut at `MAX_HTML`
- it never raises: markup BeautifulSoup rejects (an unfinished `<![`, which it raises
  ParserRejectedMarkup for) is read as text with its tags stripped (`_plain`), and lone
  surrogates (valid JSON, not valid text) read as U+FFFD

The result is plain text: escaping it for Slack is the card builder's job.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from html import unescape
from urllib.parse import urlsplit

from bs4 import (
    BeautifulSoup,
    Comment,
    Declaration,
    Doctype,
    NavigableString,
    ProcessingInstruction,
    Tag,
)

MAX_HTML = 100_000  # characters of markup read; a 500-character post is under 10,000
_DROPPED = {"script", "style", "template", "noscript", "iframe", "object", "embed", "head", "title", "svg",
            "math", "canvas", "audio", "video", "picture", "source", "button", "select", "textarea", "input",
            "form", "frameset", "frame", "meta", "link"}
_PARAGRAPHS = {"p", "blockquote", "pre", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "table", "figure",
               "section", "article", "header", "footer", "details", "hr"}
_LINES = {"div", "li", "tr", "dt", "dd", "figcaption", "summary", "aside", "nav", "main", "address"}
_SKIPPED = (Comment, Declaration, Doctype, ProcessingInstruction)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SPACES = re.compile(r"\s+")
_AROUND_BREAK = re.compile(r"[ \t]*\n[ \t]*")
_BLANK_LINES = re.compile(r"\n{3,}")
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://(www\.)?", re.IGNORECASE)
_ELLIPSES = ("…", "...")
_SURROGATES = re.compile("[\ud800-\udfff]")
_TAG = re.compile(r"<[^<>]*>")  # only whole tags: a stray "<" and the words after it stay


class _End:
    """Marks where an element's children end in the walk."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name


def html_to_text(html: str, *, mentions: Mapping[str, str] | None = None) -> str:
    """`html` as plain text; `mentions` maps a mention link's href to the handle it names. Never raises."""
    if not html or not isinstance(html, str):
        return ""
    markup = _SURROGATES.sub("\ufffd", html[:MAX_HTML])
    try:
        return _read(markup, mentions or {})
    except Exception:  # noqa: BLE001 - any markup at all is someone's post: read it plainer rather than lose it
        return _plain(markup)


def without_surrogates(text: str) -> str:
    """`text` with lone surrogates (JSON allows "\\ud800", UTF-8 does not) as U+FFFD."""
    return _SURROGATES.sub("\ufffd", text)


def _plain(markup: str) -> str:
    """The text with tags stripped and entities decoded, for markup the parser rejects."""
    text = _CONTROL.sub("", unescape(_TAG.sub(" ", markup)))
    return _SURROGATES.sub("\ufffd", _SPACES.sub(" ", text)).strip()


def _read(html: str, mentions: Mapping[str, str]) -> str:
    soup = BeautifulSoup(html, "html.parser")
    for dropped in soup.find_all(sorted(_DROPPED)):
        dropped.decompose()  # with everything inside: a script's text is not the post's
    pieces: list[str | int] = []  # text, or how many line breaks a block edge needs
    preformatted = 0
    stack: list[object] = [soup]
    while stack:  # an explicit stack: thousands of nested tags must not exhaust the recursion
        node = stack.pop()
        if isinstance(node, _End):
            if node.name == "pre":
                preformatted -= 1
            pieces.append(2 if node.name in _PARAGRAPHS else 1)
            continue
        if isinstance(node, _SKIPPED):
            continue
        if isinstance(node, NavigableString):
            if type(node) is NavigableString or node.__class__.__name__ == "CData":
                pieces.append(str(node) if preformatted else _SPACES.sub(" ", str(node)))
            continue  # Script, Stylesheet and template strings are not text
        if not isinstance(node, Tag):
            continue
        name = (node.name or "").lower()
        if name in _DROPPED:
            continue
        if name == "br":
            pieces.append("\n")
        elif name == "a":
            pieces.append(_link(node, mentions))
        elif name == "img":
            alt = node.get("alt")
            pieces.append(_SPACES.sub(" ", alt) if isinstance(alt, str) else "")
        else:
            if name in _PARAGRAPHS or name in _LINES:
                pieces.append(2 if name in _PARAGRAPHS else 1)
                if name == "li":
                    pieces.append("- ")
                if name == "pre":
                    preformatted += 1
                stack.append(_End(name))
            stack.extend(reversed(node.contents))
    text = _CONTROL.sub("", _joined(pieces))
    text = _AROUND_BREAK.sub("\n", text)
    return _BLANK_LINES.sub("\n\n", text).strip()


def _joined(pieces: list[str | int]) -> str:
    """The pieces as one text; adjacent block edges give the most breaks any of them asks for, not the sum."""
    out: list[str] = []
    breaks = 0
    for piece in pieces:
        if isinstance(piece, int):
            breaks = max(breaks, piece)
        elif breaks and not piece.strip(" \t"):
            continue  # spaces between two blocks
        else:
            if breaks:
                out.append("\n" * breaks)
                breaks = 0
            out.append(piece)
    return "".join(out)


def _text_inside(tag: Tag) -> str:
    """The visible words of a link (hidden spans included: Mastodon hides parts of long URLs)."""
    words = [str(s) for s in tag.find_all(string=True) if type(s) is NavigableString]
    return _SPACES.sub(" ", "".join(words)).strip()


def _link(tag: Tag, mentions: Mapping[str, str]) -> str:
    href = tag.get("href")
    href = href.strip() if isinstance(href, str) else ""
    shown = _text_inside(tag)
    classes = {c.lower() for c in (tag.get("class") or []) if isinstance(c, str)}
    if "hashtag" in classes or (shown.startswith("#") and "mention" in classes):
        return shown if shown.startswith("#") else "#" + shown
    if href in mentions:
        return "@" + mentions[href]
    if "mention" in classes or (shown.startswith("@") and " " not in shown):
        name = shown.lstrip("@")
        host = urlsplit(href).netloc if href.startswith(("https://", "http://")) else ""
        if name and "@" not in name and host:
            return f"@{name}@{host}"
        return f"@{name}" if name else shown
    if not href.lower().startswith(("https://", "http://")):
        return shown  # javascript:, mailto: and relative links: only their words
    if not shown or _is_form_of(shown, href):
        return href
    return f"{shown} ({href})"


def _is_form_of(shown: str, href: str) -> bool:
    """Whether the link text is the address itself, maybe without its scheme or cut short."""
    stem = shown
    for mark in _ELLIPSES:
        stem = stem.removesuffix(mark)
    cut = stem != shown
    had_scheme = _SCHEME.match(stem) is not None
    stem, bare = _SCHEME.sub("", stem).lower(), _SCHEME.sub("", href).lower()
    if not stem or not (cut or had_scheme or "." in stem.split("/", 1)[0]):
        return False  # plain words ("click here") are not an address
    return bare.rstrip("/") == stem.rstrip("/") or bare.startswith(stem)
