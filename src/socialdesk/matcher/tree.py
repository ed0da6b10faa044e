"""The query tree: one node per construct (word, phrase, hashtag, mention, from:, lang:, NOT,
AND, OR), each matching a `MatchTarget` and printing its normalized form; `Query` holds the root.

Apart from the parser (`query`) because the index (`index`) and the networks' search
translations walk the tree without parsing anything. Pure: stdlib only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from socialdesk.matcher.text import MatchTarget, _is_unspaced

# --- the query AST -------------------------------------------------------------------
# Each node knows how to match a target and how to print itself (the normalized form).


@dataclass(frozen=True, slots=True)
class Word:
    text: str

    def matches(self, t: MatchTarget) -> bool:
        return self.text in t.words

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True, slots=True)
class Unspaced:
    """A term in a script without spaces: a substring of one of the post's runs."""

    text: str

    def matches(self, t: MatchTarget) -> bool:
        return self.text in t.joined  # joined holds runs whole, and words hold no such chars

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True, slots=True)
class Phrase:
    parts: tuple[str, ...]  # segments: words and unspaced runs
    needle: str = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        # Word parts at the ends need a boundary (the space in `joined`); unspaced parts
        # at the ends may continue into the rest of their run.
        head = "" if _is_unspaced(self.parts[0]) else " "
        tail = "" if _is_unspaced(self.parts[-1]) else " "
        object.__setattr__(self, "needle", head + " ".join(self.parts) + tail)

    def matches(self, t: MatchTarget) -> bool:
        return self.needle in t.joined

    def __str__(self) -> str:
        return '"' + " ".join(self.parts) + '"'


@dataclass(frozen=True, slots=True)
class Hashtag:
    tag: str

    def matches(self, t: MatchTarget) -> bool:
        return self.tag in t.hashtags

    def __str__(self) -> str:
        return "#" + self.tag


@dataclass(frozen=True, slots=True)
class Mention:
    handle: str

    def matches(self, t: MatchTarget) -> bool:
        return self.handle in t.mentions

    def __str__(self) -> str:
        return "@" + self.handle


@dataclass(frozen=True, slots=True)
class FromAuthor:
    handle: str

    def matches(self, t: MatchTarget) -> bool:
        return self.handle == t.author

    def __str__(self) -> str:
        return "from:" + self.handle


@dataclass(frozen=True, slots=True)
class Lang:
    code: str

    def matches(self, t: MatchTarget) -> bool:
        return t.lang == self.code or t.lang.startswith(self.code + "-")

    def __str__(self) -> str:
        return "lang:" + self.code


@dataclass(frozen=True, slots=True)
class Not:
    child: Node

    def matches(self, t: MatchTarget) -> bool:
        return not self.child.matches(t)

    def __str__(self) -> str:
        return "-" + (f"({self.child})" if isinstance(self.child, And | Or | Not) else str(self.child))


@dataclass(frozen=True, slots=True)
class And:
    children: tuple[Node, ...]

    def matches(self, t: MatchTarget) -> bool:
        for child in self.children:
            if not child.matches(t):
                return False
        return True

    def __str__(self) -> str:
        return " ".join(f"({c})" if isinstance(c, Or) else str(c) for c in self.children)


@dataclass(frozen=True, slots=True)
class Or:
    children: tuple[Node, ...]

    def matches(self, t: MatchTarget) -> bool:
        for child in self.children:
            if child.matches(t):
                return True
        return False

    def __str__(self) -> str:
        # AND already binds tighter; the parentheses are for the person reading it.
        return " OR ".join(f"({c})" if isinstance(c, And) else str(c) for c in self.children)


Node = Word | Unspaced | Phrase | Hashtag | Mention | FromAuthor | Lang | Not | And | Or


@dataclass(frozen=True, slots=True)
class Query:
    root: Node
    source: str = field(default="", compare=False)  # the text as the person wrote it

    def matches(self, target: MatchTarget) -> bool:
        return self.root.matches(target)

    def __str__(self) -> str:
        return str(self.root)


def alternatives(node: Node, *, limit: int) -> list[tuple[Node, ...]]:
    """The query spread into OR-free alternatives (the terms each must have); exclusions dropped.

    For a search without OR: every post the query matches has all terms of one alternative
    (the exclusions are applied by matching the results locally). Stops growing past `limit`:
    a longer list means "too many", whatever its length.
    """
    if isinstance(node, Or):
        return [b for child in node.children for b in alternatives(child, limit=limit)]
    if isinstance(node, And):
        spread: list[tuple[Node, ...]] = [()]
        for child in node.children:
            spread = [a + b for a in spread for b in alternatives(child, limit=limit)]
            if len(spread) > limit:
                break
        return spread
    return [()] if isinstance(node, Not) else [(node,)]


def describe(query: Query) -> str:
    """The normalized form: parse(describe(q)) == q, and equal queries print the same."""
    return str(query.root)


def _positive(node: Node) -> bool:
    """Whether the node needs something present, so it cannot match nearly every post."""
    if isinstance(node, Not):
        return False
    if isinstance(node, And):
        return any(_positive(c) for c in node.children)
    if isinstance(node, Or):
        return all(_positive(c) for c in node.children)
    return True
