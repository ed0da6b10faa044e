"""A reply's length as Mastodon counts it (its StatusLengthValidator; docs/statuses.md, Instance.md).

- a link (`https://…`, with its scheme: a bare `example.com` is plain text) counts as
  `characters_reserved_per_url` characters (23 by default), however long it is
- a mention counts its local part only: `@ann@social.example` counts as `@ann`
- everything else counts in grapheme clusters: an emoji, a flag or a letter with
  combining marks is one character (the `regex` package's `\\X`, UAX #29)

Each instance sets its own limit (`configuration.statuses.max_characters`, 500 by
default) and URL length; `Network.reply_rules` carries the configured instance's.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import regex

DEFAULT_LIMIT = 500
DEFAULT_RESERVED_PER_URL = 23

_GRAPHEME = regex.compile(r"\X")
# Schemes Mastodon links (its twitter-text configuration); a host needs a dot, or is localhost.
_URL = regex.compile(
    r"(?<![\p{L}\p{N}@＠$#＃])"
    r"(?:https?|dat|dweb|ipfs|ipns|ssb|gopher|xmpp|magnet|gemini)://"
    r"(?:[\p{L}\p{N}](?:[\p{L}\p{N}-]*[\p{L}\p{N}])?\.)+[\p{L}]{2,}(?::\d{1,5})?(?:[/?#]\S*)?"
    r"|(?<![\p{L}\p{N}@＠$#＃])https?://localhost(?::\d{1,5})?(?:[/?#]\S*)?",
    regex.IGNORECASE,
)
# Mastodon's Account::MENTION_RE: `@user` or `@user@domain`, not after "=", "/" or a word character.
_MENTION = regex.compile(
    r"(?<![=/\w])@(?P<user>[a-z0-9_]+(?:[.-]+[a-z0-9_]+)*)(?:@[\w]+(?:[.-]+[\w]+)*)?",
    regex.IGNORECASE,
)


def _trim_url(url: str) -> str:
    # Sentence punctuation after a link is the sentence's; a ")" closing nothing in the link too.
    while url:
        last = url[-1]
        if last in ".,;:!?'\"" or (last == ")" and url.count(")") > url.count("(")):
            url = url[:-1]
        else:
            break
    return url


def text_length(text: str, reserved_per_url: int = DEFAULT_RESERVED_PER_URL) -> int:
    """How many characters Mastodon counts in `text` (its limit is in these)."""
    entities: list[tuple[int, int, int]] = []  # (start, end, how many characters it counts)
    for match in _URL.finditer(text):
        url = _trim_url(match.group())
        entities.append((match.start(), match.start() + len(url), reserved_per_url))
    for match in _MENTION.finditer(text):
        entities.append((match.start(), match.end(), 1 + grapheme_count(match.group("user"))))
    entities.sort()
    length, position = 0, 0
    for start, end, counted in entities:
        if start < position:
            continue  # overlapping (a mention inside a link): the earlier one wins, as Mastodon's extractor does
        length += grapheme_count(text[position:start]) + counted
        position = end
    return length + grapheme_count(text[position:])


def grapheme_count(text: str) -> int:
    return len(_GRAPHEME.findall(text)) if text else 0


@functools.lru_cache(maxsize=16)
def counter(reserved_per_url: int) -> Callable[[str], int]:
    """`text_length` for an instance's URL length (one function per setting, reused)."""
    if reserved_per_url == DEFAULT_RESERVED_PER_URL:
        return text_length
    return functools.partial(text_length, reserved_per_url=reserved_per_url)


def hint(limit: int = DEFAULT_LIMIT, reserved_per_url: int = DEFAULT_RESERVED_PER_URL, domain: str = "") -> str:
    where = f" on {domain}" if domain else ""
    return (f"Mastodon allows {limit} characters{where}; a link counts {reserved_per_url}, a mention only its "
            "@name (not its server), an emoji 1.")
