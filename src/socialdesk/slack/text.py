"""Untrusted text into Slack mrkdwn: escaped, and cut to fit."""

from __future__ import annotations

from urllib.parse import quote

_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
# Dropped from untrusted text: control characters (a terminal escape, a bell) and the
# bidirectional overrides and isolates that can make a post display as something it is
# not (U+202E turns "evil" around). Newlines and tabs stay; so do ordinary RTL letters.
_DROPPED = {chr(c): "" for c in (*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), *range(0x7F, 0xA0),
                                 *range(0x202A, 0x202F), *range(0x2066, 0x206A))}
_ESCAPES.update(_DROPPED)


def escape(text: str) -> str:
    """Escape the three characters Slack treats as control sequences (and drop control characters).

    After this, `<!channel>` or `<@U123>` in a post shows literally and pings nobody.
    """
    return "".join(_ESCAPES.get(ch, ch) for ch in text)


def escape_within(text: str, limit: int) -> tuple[str, bool]:
    """Escape `text` and cut it so the escaped result has at most `limit` characters.

    Cuts on the raw text, so an entity like `&amp;` is never split. Returns the
    escaped text and whether anything was cut.
    """
    out: list[str] = []
    used = 0
    for i, ch in enumerate(text):
        piece = _ESCAPES.get(ch, ch)
        if used + len(piece) > limit:
            return "".join(out), True
        out.append(piece)
        used += len(piece)
    return "".join(out), False


def safe_url(url: str) -> str:
    """A URL that cannot break out of Slack's `<url|label>` link syntax."""
    return quote(url, safe=":/?#[]@!$&'()*+,;=%~-._").replace("&", "&amp;")


def link(url: str, label: str) -> str:
    return f"<{safe_url(url)}|{escape(label).replace('|', '¦')}>"


def plain_cut(text: str, limit: int) -> str:
    """Cut plain text to `limit` characters with an ellipsis."""
    return text if len(text) <= limit else text[: limit - 1] + "…"
