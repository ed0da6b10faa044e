"""The rule query language's parser: `parse` (text to the tree of `tree`) and `QueryInvalid`.

The language itself is described in the package docstring (`socialdesk.matcher`);
`QUERY_LANGUAGE_HELP` says it shorter, in Markdown, for the README. Pure: stdlib only.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from socialdesk.matcher.text import (
    _HANDLE,
    _HASHTAG_BODY,
    _SEGMENT,
    _is_unspaced,
    normalize,
)
from socialdesk.matcher.tree import (
    And,
    FromAuthor,
    Hashtag,
    Lang,
    Mention,
    Node,
    Not,
    Or,
    Phrase,
    Query,
    Unspaced,
    Word,
    _positive,
)
from socialdesk.slack.text import ECHO_CHARS, plain_cut

QUERY_LANGUAGE_HELP = """\
### Rule queries

| Write | Matches posts that… |
|---|---|
| `acme battery` | have both words, anywhere (whole words, any case) |
| `"battery drain"` | have the words next to each other, in that order |
| `refund OR return` | have either; `a b OR c` means `(a b) OR c` |
| `acme (refund OR return)` | parentheses group |
| `acme -ad`, `acme -"free gift"`, `acme -(win OR prize)` | have acme and **not** the rest |
| `#acmefail` | have that hashtag |
| `@acme` | mention that account (`@acme.example.social`, `@acme@social.example`) |
| `from:acme` | were written by that account |
| `lang:en` | are in that language (`lang:en` includes `en-US`) |

Case and width don't matter (`STRASSE` finds `Straße`); accents do (`café` ≠ `cafe`).
Punctuation separates words: `phone` finds `phone!` and `phone's`, not `phones`.
Chinese, Japanese, Korean and Thai terms match inside longer text (`故障` finds
`手机故障了`). Emoji are ignored. A query needs at least one thing to look for:
`-spam` alone is refused.
"""

MAX_NESTING = 32  # deeper parentheses are a mistake, and would exhaust the recursion


class QueryInvalid(ValueError):
    """A query that cannot be used; str(error) says where and what to do, for a person."""


# --- parsing --------------------------------------------------------------------------

_LANG_CODE = re.compile(r"[a-z]{2,3}(?:-[a-z0-9]{1,8})*")
_OPERATOR = re.compile(r"([A-Za-z_]+):(.*)", re.DOTALL)
_OPERATORS = ("from", "lang")
# Operators of other search languages: refused rather than matched as literal text.
_FOREIGN_OPERATORS = frozenset({
    "to", "since", "until", "has", "is", "filter", "url", "near", "within", "list", "place",
    "domain", "language", "author", "user", "hashtag", "mentions", "in", "before", "after",
})


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # "(", "-(", ")", "OR", "phrase" or "term"
    text: str
    at: int  # offset in the query of its first character (the "-" when negated)
    negated: bool = False

    @property
    def where(self) -> str:
        return f"`{'-' if self.negated else ''}{plain_cut(self.text, ECHO_CHARS)}` at position {self.at + 1}"


def _lex(query: str) -> list[_Token]:
    tokens: list[_Token] = []
    i, n = 0, len(query)
    while i < n:
        c = query[i]
        if c.isspace():
            i += 1
            continue
        start, negated = i, c == "-"
        if negated:
            if i + 1 == n or query[i + 1].isspace() or query[i + 1] == ")":
                raise QueryInvalid(f"the `-` at position {i + 1} must be followed directly by what to "
                                   "exclude, with no space: -refund, -\"free gift\" or -(win OR prize)")
            i += 1
            c = query[i]
        if c in "()":
            tokens.append(_Token("-(" if negated else c, c, start))
            i += 1
        elif c == '"':
            end = query.find('"', i + 1)
            if end < 0:
                raise QueryInvalid(f'the quote at position {i + 1} is never closed; add a " after the phrase')
            tokens.append(_Token("phrase", query[i + 1:end], start, negated))
            i = end + 1
        else:
            j = i
            while j < n and not query[j].isspace() and query[j] not in '()"':
                j += 1
            text = query[i:j]
            tokens.append(_Token("OR" if text == "OR" and not negated else "term", text, start, negated))
            i = j
    return tokens


def _join(cls: type[And | Or], nodes: list[Node]) -> Node:
    flat: list[Node] = []
    for node in nodes:
        flat.extend(node.children if isinstance(node, cls) else (node,))
    return flat[0] if len(flat) == 1 else cls(tuple(flat))


def _from_parts(parts: tuple[str, ...]) -> Node:
    if len(parts) > 1:
        return Phrase(parts)
    return Unspaced(parts[0]) if _is_unspaced(parts[0]) else Word(parts[0])


_SUGGEST = {"language": "lang", "author": "from", "user": "from", "by": "from"}


def _term(tok: _Token) -> Node:
    text = tok.text
    if text[0] == "#":
        tag = normalize(text[1:])
        if not re.fullmatch(_HASHTAG_BODY, tag):
            raise QueryInvalid(f"{tok.where}: a hashtag is # and then letters, digits or _, like #acmefail")
        return Hashtag(tag)
    if text[0] == "@":
        handle = normalize(text[1:])
        if not _HANDLE.fullmatch(handle):
            raise QueryInvalid(f"{tok.where}: a mention is @ and then a handle, like @acme or @acme@social.example")
        return Mention(handle)
    if m := _OPERATOR.fullmatch(text):
        key, value = m.group(1).casefold(), m.group(2)
        if key == "from":
            handle = normalize(value).removeprefix("@")
            if not _HANDLE.fullmatch(handle):
                raise QueryInvalid(f"{tok.where}: from: needs the author's handle right after it, "
                                   "like from:acme or from:acme.example.social")
            return FromAuthor(handle)
        if key == "lang":
            code = normalize(value).replace("_", "-")
            if not _LANG_CODE.fullmatch(code):
                raise QueryInvalid(f"{tok.where}: lang: needs a language code right after it, like lang:en or lang:pt-BR")
            return Lang(code)
        close = _SUGGEST.get(key) or next(iter(difflib.get_close_matches(key, _OPERATORS, n=1, cutoff=0.75)), None)
        if value and (key in _FOREIGN_OPERATORS or close):
            hint = f" (did you mean {close}:?)" if close else ""
            raise QueryInvalid(f"{tok.where}: `{key}:` is not an operator here{hint}. The operators are "
                               f"from:handle and lang:xx; to look for the text itself, quote it: \"{m.group(1)} {plain_cut(value, ECHO_CHARS)}\"")
    parts = tuple(_SEGMENT.findall(normalize(text)))
    if not parts:
        raise QueryInvalid(f"{tok.where} has no letters or digits; emoji and punctuation are not matched, so remove it")
    return _from_parts(parts)


class _Parser:
    """Recursive descent: or := and ("OR" and)*; and := unary+; unary := ["-"] primary."""

    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens, self.at, self.opened = tokens, 0, [-1]

    def peek(self) -> _Token | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def parse_or(self) -> Node:
        branches, ors = [self.parse_and()], []
        while (tok := self.peek()) is not None and tok.kind == "OR":
            self.at += 1
            after = self.peek()
            if after is None or after.kind in ("OR", ")"):
                raise QueryInvalid(f"`OR` at position {tok.at + 1} has nothing after it; "
                                   "put a word or a group on both sides of OR")
            ors.append(tok.at)
            branches.append(self.parse_and())
        for i, branch in enumerate(branches if ors else ()):
            if not _positive(branch):
                at = ors[max(i - 1, 0)] + 1
                raise QueryInvalid(f"a side of the `OR` at position {at} only excludes, so it would match "
                                   "almost every post; give each side something to look for, like: acme OR (phone -spam)")
        return _join(Or, branches)

    def parse_and(self) -> Node:
        parts = []
        while (tok := self.peek()) is not None and tok.kind not in ("OR", ")"):
            parts.append(self.parse_unary())
        if parts:
            return _join(And, parts)
        if tok is not None and tok.kind == "OR":
            raise QueryInvalid(f"`OR` at position {tok.at + 1} has nothing before it; "
                               "put a word or a group on both sides of OR")
        if tok is not None and self.opened[-1] < 0:
            raise QueryInvalid(f"the `)` at position {tok.at + 1} has no `(` before it; remove it or add the `(`")
        if tok is not None:
            raise QueryInvalid(f"the parentheses at position {self.opened[-1] + 1} are empty; put words in them or remove them")
        raise QueryInvalid(f"the `(` at position {self.opened[-1] + 1} is never closed; add a `)` or remove it")

    def parse_unary(self) -> Node:
        tok = self.tokens[self.at]
        self.at += 1
        if tok.kind == "phrase":
            parts = tuple(_SEGMENT.findall(normalize(tok.text)))
            if not parts:
                raise QueryInvalid(f"the quotes at position {tok.at + 1} hold no words; put the phrase in them or remove them")
            node = _from_parts(parts)
        elif tok.kind == "term":
            node = _term(tok)
        else:  # "(" or "-("
            if len(self.opened) > MAX_NESTING:
                raise QueryInvalid(f"the parentheses nest more than {MAX_NESTING} deep at position {tok.at + 1}; "
                                   "split the query into simpler rules")
            self.opened.append(tok.at + (tok.kind == "-("))
            node = self.parse_or()
            if self.peek() is None:
                raise QueryInvalid(f"the `(` at position {self.opened[-1] + 1} is never closed; add a `)` or remove it")
            self.at += 1
            self.opened.pop()
            return Not(node) if tok.kind == "-(" else node
        return Not(node) if tok.negated else node


def parse(query: str, *, max_length: int | None = None) -> Query:
    """The query as an AST; raises QueryInvalid with a message for the person who wrote it."""
    if max_length is not None and len(query) > max_length:
        raise QueryInvalid(f"the query is {len(query)} characters; the limit is {max_length}. "
                           "Shorten it, or split it into two rules")
    # Slack and word processors turn typed quotes into curly ones; they mean the same here.
    text = query.translate(_CURLY_QUOTES)
    tokens = _lex(text)
    if not tokens:
        raise QueryInvalid("the query is empty; give at least one word to look for, like: acme refund")
    parser = _Parser(tokens)
    root = parser.parse_or()
    if (extra := parser.peek()) is not None:  # parse_or stops early only at a stray ")"
        raise QueryInvalid(f"the `)` at position {extra.at + 1} has no `(` before it; remove it or add the `(`")
    if not _positive(root):
        raise QueryInvalid("the query only excludes (-word); add at least one word to look for, like: acme -spam")
    return Query(root, source=query)


_CURLY_QUOTES = str.maketrans({"\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"'})

