"""`RuleIndex`: finds the rules a post matches without evaluating every rule.

Each rule is filed under anchor keys, words or tags every post it matches must have;
a post's `MatchTarget.anchor_keys` then picks the few rules worth evaluating. Pure.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass

from socialdesk.matcher.text import MatchTarget, _is_unspaced
from socialdesk.matcher.tree import (
    And,
    FromAuthor,
    Hashtag,
    Mention,
    Node,
    Or,
    Phrase,
    Query,
    Unspaced,
    Word,
)


@dataclass(slots=True)
class IndexStats:
    """Counters, so tests and benchmarks can see how much work the index saved."""

    posts: int = 0
    evaluated: int = 0  # rule queries fully evaluated
    matched: int = 0


def _word_anchor(word: str) -> tuple[frozenset[str], float]:
    return frozenset({word}), 1 / (1 + len(word))  # short words tend to be the common ones


def _run_anchor(run: str) -> tuple[frozenset[str], float]:
    # A post has every character and bigram of its runs among its anchor keys.
    return (frozenset({run[:2]}), 0.15) if len(run) > 1 else (frozenset({run}), 0.5)


def _anchor(node: Node) -> tuple[frozenset[str], float] | None:
    """Keys such that every post matching `node` has one of them, and a guess of how
    common they are (lower is rarer); None when there are none (only lang: or -x)."""
    if isinstance(node, Word):
        return _word_anchor(node.text)
    if isinstance(node, Unspaced):
        return _run_anchor(node.text)
    if isinstance(node, Phrase):  # every part is in the post: file it under the rarest
        options = [_run_anchor(p) if _is_unspaced(p) else _word_anchor(p) for p in node.parts]
        return min(options, key=lambda a: a[1])
    if isinstance(node, Hashtag | Mention):
        return frozenset({str(node)}), 0.05
    if isinstance(node, FromAuthor):
        return frozenset({str(node)}), 0.02
    if isinstance(node, And):
        options = [a for a in map(_anchor, node.children) if a is not None]
        return min(options, key=lambda a: a[1]) if options else None
    if isinstance(node, Or):
        branches = [_anchor(c) for c in node.children]
        if any(b is None for b in branches):
            return None
        return frozenset().union(*(b[0] for b in branches)), sum(b[1] for b in branches)  # type: ignore[index]
    return None  # Lang and Not: a post without the key can still match


class RuleIndex:
    """Rules filed under anchor keys; `match` fully evaluates only the rules filed under
    a key the post has (plus the rare rules with no anchor, checked on every post)."""

    def __init__(self, rules: Iterable[tuple[Hashable, Query]]) -> None:
        self._ids: list[Hashable] = []
        self._roots: list[Node] = []
        by_key: dict[str, list[int]] = {}
        always: list[int] = []
        for rule_id, query in rules:
            number = len(self._ids)
            self._ids.append(rule_id)
            self._roots.append(query.root)
            anchor = _anchor(query.root)
            if anchor is None:
                always.append(number)
            else:
                for key in anchor[0]:
                    by_key.setdefault(key, []).append(number)
        self._by_key = {key: tuple(numbers) for key, numbers in by_key.items()}
        self._keys = frozenset(by_key)
        self._always = tuple(always)
        self.stats = IndexStats()

    def __len__(self) -> int:
        return len(self._ids)

    @property
    def always_checked(self) -> list[Hashable]:
        """Rules with nothing to index by (e.g. only `lang:`): each costs a check per post."""
        return [self._ids[n] for n in self._always]

    def match(self, target: MatchTarget) -> list[Hashable]:
        """The ids of the rules the post matches, in the order the rules were given."""
        stats = self.stats
        stats.posts += 1
        hits = self._keys & target.anchor_keys
        if not hits and not self._always:
            return []
        candidates = set(self._always)
        for key in hits:
            candidates.update(self._by_key[key])
        stats.evaluated += len(candidates)
        roots, ids = self._roots, self._ids
        found = [ids[n] for n in sorted(candidates) if roots[n].matches(target)]
        stats.matched += len(found)
        return found
