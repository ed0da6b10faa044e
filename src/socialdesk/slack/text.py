"""Untrusted text into Slack mrkdwn: escaped, and cut to fit."""

from __future__ import annotations

from urllib.parse import quote

from socialdesk.domain import HIDDEN_CONTROLS

_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_ESCAPES.update(HIDDEN_CONTROLS)  # dropped from untrusted text (domain.HIDDEN_CONTROLS says which, and why)


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


# What an error shows of what someone typed: enough to recognise it, and short enough that the
# explanation and the usage after it always fit (a section holds 3,000 characters).
ECHO_CHARS = 40


def echoed(typed: str, limit: int = ECHO_CHARS) -> str:
    """What someone typed, cut to `limit` and quoted as `{typed!r}` would be, for an error message."""
    return repr(plain_cut(typed, limit))
