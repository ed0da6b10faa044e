"""Plain status text as Mastodon reads it: its entities, its length and its HTML.

Mastodon keeps what the author typed and renders `content` from it: text HTML-escaped,
paragraphs (blank lines) as `<p>`, single newlines as `<br />`, and three kinds of links:

    hashtag  <a href="https://host/tags/acme" class="mention hashtag" rel="tag">#<span>acme</span></a>
    mention  <span class="h-card" translate="no"><a href="https://host/@ann" class="u-url mention">
             @<span>ann</span></a></span>
    URL      <a href="…" target="_blank" rel="nofollow noopener" translate="no">
             <span class="invisible">https://</span><span class="ellipsis">first 30 characters</span>
             <span class="invisible">the rest</span></a>

(on one line each: the shapes of the recorded `content` fields and of docs/guidelines.md#links). The length
rule is StatusLengthValidator's: every URL counts `characters_reserved_per_url`, a mention
`@user@domain` counts as `@user`, everything else (the content warning too) in grapheme
clusters.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote

import regex

_GRAPHEME = regex.compile(r"\X")
# Leftmost match wins, so a '#' or '@' inside a URL stays part of the URL.
_ENTITY = re.compile(
    r"(?P<url>https?://[^\s<>\"]+)"
    r"|(?<![=/\w])@(?P<user>[a-z0-9_]+(?:[a-z0-9_.-]*[a-z0-9_])?)(?:@(?P<domain>\w+(?:[.-]+\w+)*))?"
    r"|(?<![=/)\w])#(?P<tag>\w*[^\W\d_]\w*)",
    re.IGNORECASE,
)
_URL_TAIL = ".,:;!?'\""  # sentence punctuation after a URL is not part of it
_URL_PREFIX = re.compile(r"^(https?://(www\.)?|xmpp:)")
_DISPLAY_LENGTH = 30


@dataclass(frozen=True)
class Entity:
    start: int
    end: int
    kind: str  # "url", "mention", "hashtag"
    value: str  # the URL, the mention's username, the tag as written
    domain: str | None = None  # a mention's domain, when written

    @property
    def text(self) -> str:
        return {"url": self.value, "hashtag": f"#{self.value}"}.get(
            self.kind, f"@{self.value}" + (f"@{self.domain}" if self.domain else ""))


def entities(text: str) -> list[Entity]:
    found = []
    for match in _ENTITY.finditer(text):
        if match.group("url"):
            url = _trim_url(match.group("url"))
            found.append(Entity(match.start(), match.start() + len(url), "url", url))
        elif match.group("user"):
            found.append(Entity(match.start(), match.end(), "mention", match.group("user"), match.group("domain")))
        else:
            found.append(Entity(match.start(), match.end(), "hashtag", match.group("tag")))
    return found


def _trim_url(url: str) -> str:
    while url and (url[-1] in _URL_TAIL or (url[-1] == ")" and url.count("(") < url.count(")"))):
        url = url[:-1]
    return url


def status_length(text: str, spoiler_text: str = "", *, url_length: int = 23) -> int:
    """How long Mastodon counts a status (the 422 "character limit" check)."""
    countable, last = [], 0
    for entity in entities(text):
        countable.append(text[last:entity.start])
        countable.append("x" * url_length if entity.kind == "url" else
                         f"@{entity.value}" if entity.kind == "mention" else entity.text)
        last = entity.end
    countable.append(text[last:])
    return len(_GRAPHEME.findall("".join(countable))) + len(_GRAPHEME.findall(spoiler_text))


def escape(text: str) -> str:
    """ERB's html_escape, as Mastodon's content shows it (&#39; for the apostrophe)."""
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;").replace("'", "&#39;"))


def link_html(url: str) -> str:
    prefix = _URL_PREFIX.match(url)
    head = prefix.group(0) if prefix else ""
    rest = url[len(head):]
    shown, hidden = rest[:_DISPLAY_LENGTH], rest[_DISPLAY_LENGTH:]
    return (f'<a href="{escape(url)}" target="_blank" rel="nofollow noopener" translate="no">'
            f'<span class="invisible">{escape(head)}</span>'
            f'<span class="{"ellipsis" if hidden else ""}">{escape(shown)}</span>'
            f'<span class="invisible">{escape(hidden)}</span></a>')


def hashtag_html(tag: str, host: str) -> str:
    return (f'<a href="https://{host}/tags/{quote(tag)}" class="mention hashtag" rel="tag">'
            f'#<span>{escape(tag)}</span></a>')


def mention_html(username: str, profile_url: str) -> str:
    return (f'<span class="h-card" translate="no"><a href="{escape(profile_url)}" class="u-url mention">'
            f'@<span>{escape(username)}</span></a></span>')


def to_html(text: str, link: Callable[[Entity], str | None]) -> str:
    """`content` for `text`; `link(entity)` gives an entity's HTML, or None to leave it as text."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").strip()
    if not text:
        return ""
    pieces, last = [], 0
    for entity in entities(text):
        html = link(entity)
        if html is None:
            continue
        pieces += [escape(text[last:entity.start]), html]
        last = entity.end
    pieces.append(escape(text[last:]))
    paragraphs = re.split(r"\n{2,}", "".join(pieces))
    return "".join(f"<p>{p.replace(chr(10), '<br />')}</p>" for p in paragraphs)
