"""Word lists that are fast to look up: phrases found word by word, not by one big regex.

A post's words are split once (`words`, cached); a vocabulary is a dict from a phrase's
first words to its phrases, so a post costs a set look-up per word (one regex of a few
hundred alternatives costs ~10 µs a post; this, a few).

A phrase template is words separated by spaces, where
- `{a|b|c}` is one of the alternatives (an empty one makes the slot optional: `{very |}`),
  expanded before the words are split, so alternatives may be several words;
- a word ending in `*` matches any word it begins (`frustrat*`: frustrated, frustrating);
  at least four letters come before the `*`;
- a word starting with `*` matches any word it ends (`*ed`), but not as the first word;
- `<n>` matches a number (written in digits).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable, Mapping

_WORD_RE = re.compile(r"[^\W_]+(?:'[^\W_]+)*")
_ASCII_WORD_RE = re.compile(r"[a-z0-9]+(?:'[a-z0-9]+)*")  # the same on ASCII text, faster
_URL_RE = re.compile(r"https?://\S+|www\.\S+")
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'"})
_BRACES_RE = re.compile(r"\{([^{}]*)\}")
_PREFIX_CHARS = 4
_CACHED_TEXTS = 8192


@functools.lru_cache(maxsize=_CACHED_TEXTS)
def plain(text: str) -> str:
    """The text as the lists read it: NFKC, one kind of apostrophe, lower case, no links."""
    if not text.isascii():  # most posts are: they skip the Unicode steps
        text = unicodedata.normalize("NFKC", text).translate(_APOSTROPHES)
    text = text.lower()
    return _URL_RE.sub(" ", text) if "http" in text or "www." in text else text


@functools.lru_cache(maxsize=_CACHED_TEXTS)
def words(text: str) -> tuple[str, ...]:
    """The post's words, lower-case, links left out ("isn’t" is one word: isn't)."""
    lower = plain(text)
    return tuple((_ASCII_WORD_RE if lower.isascii() else _WORD_RE).findall(lower))


_END = ""  # a trie node's key for the names of the lists whose phrase ends there
_PATTERNS = "*"  # … and for its edges that are patterns: [(slot, child), …]


def as_written(text: str, phrase: str) -> str:
    """The phrase as the text writes it ("100 legit" in "…100% legit": "100% legit"), for
    reasons a person reads; the phrase itself when it cannot be found. Costs a regex: call
    it for the few phrases a reason names, not for every post."""
    pattern = r"\W{0,3}".join(re.escape(word) for word in phrase.split())
    written = re.search(rf"(?<!\w){pattern}%?(?!\w)", text, re.IGNORECASE)
    return written.group(0) if written else phrase


class Vocabulary:
    """Named word lists, looked up together in one pass over a post's words.

    The phrases make a trie of words: set operations (in C) find the few words where a
    phrase can start, and from each the trie is walked only as far as the words fit.
    """

    def __init__(self, lists: Mapping[str, Iterable[str]]) -> None:
        self._root: dict = {}
        self._root_patterns: list[tuple[str, dict]] = []  # phrases starting with a pattern
        for name, templates in lists.items():
            for template in templates:
                for phrase in _expand(template):
                    slots = phrase.split()
                    if slots:
                        self._add(slots, name, template)
        self._starts = frozenset(self._root)
        # Where a word can start a phrase that opens with a pattern: a number, or a prefix's
        # first letters.
        self._opens_with_number = any(slot == "<n>" for slot, _ in self._root_patterns)
        self._opening_prefixes = frozenset(slot[:_PREFIX_CHARS] for slot, _ in self._root_patterns
                                           if slot.endswith("*"))

    def _add(self, slots: list[str], name: str, template: str) -> None:
        head = slots[0]
        if head.startswith("*"):
            raise ValueError(f"a phrase starts with a word: {template!r}")
        if head.endswith("*") and len(head) <= _PREFIX_CHARS + 1:
            raise ValueError(f"a prefix needs {_PREFIX_CHARS} letters: {template!r}")
        node = None
        for slot in slots:
            if node is None:
                node = self._child(self._root, slot, self._root_patterns)
            else:
                node = self._child(node, slot, node.setdefault(_PATTERNS, []))
        _add_once(node.setdefault(_END, []), name)

    @staticmethod
    def _child(node: dict, slot: str, patterns: list[tuple[str, dict]]) -> dict:
        if _plain_word(slot):
            return node.setdefault(slot, {})
        for known, child in patterns:
            if known == slot:
                return child
        child = {}
        patterns.append((slot, child))
        return child

    def find(self, found: tuple[str, ...]) -> dict[str, list[str]]:
        """Each list's phrases in the words, as written there, in the order they come, each
        once (lists with none left out). Where two of one list's phrases start at one word,
        the longer counts ("claim your", not also "claim"), and a phrase inside another of
        its list does not count ("legit" in "100% legit")."""
        result: dict[str, list[str]] = {}
        starts = self._starts.intersection(found)
        numbers = self._opens_with_number and any(map(str.isdigit, found))
        prefixes = self._opening_prefixes
        if prefixes:
            starts = starts.union(word for word in found if word[:_PREFIX_CHARS] in prefixes)
        if not starts and not numbers:
            return result
        root, root_patterns = self._root, self._root_patterns
        covered: dict[str, int] = {}  # list -> where its last phrase found ends
        for i in [i for i, word in enumerate(found) if word in starts or (numbers and word.isdigit())]:
            word = found[i]
            frontier = [root[word]] if word in root else []
            if root_patterns and (word.isdigit() or word[:_PREFIX_CHARS] in prefixes):
                frontier.extend(child for slot, child in root_patterns if _slot_fits(slot, word))
            for name, length in _walk(frontier, found, i + 1).items():
                if i >= covered.get(name, 0):  # not inside a phrase of the same list ("100% legit")
                    covered[name] = i + length
                    _add_once(result.setdefault(name, []), " ".join(found[i:i + length]))
        return result


def _walk(frontier: list[dict], found: tuple[str, ...], j: int) -> dict[str, int]:
    """From the trie nodes a phrase's first word reached: each list's longest phrase, in words."""
    longest: dict[str, int] = {}
    depth = 1
    while frontier:
        word = found[j] if j < len(found) else None
        reached = []
        for node in frontier:
            for name in node.get(_END, ()):
                longest[name] = depth  # deeper is longer
            if word is None:
                continue
            child = node.get(word)  # "" and "*" are never words
            if child is not None:
                reached.append(child)
            patterns = node.get(_PATTERNS)
            if patterns:
                reached.extend(child for slot, child in patterns if _slot_fits(slot, word))
        frontier, depth, j = reached, depth + 1, j + 1
    return longest


def _slot_fits(slot: str, word: str) -> bool:
    if slot == "<n>":
        return word.isdigit()
    if slot.endswith("*"):
        return word.startswith(slot[:-1])
    return len(word) > len(slot) and word.endswith(slot[1:])  # "*ed"


def _add_once(items: list[str], item: str) -> None:
    if item not in items:
        items.append(item)


def _plain_word(slot: str) -> bool:
    return not (slot.endswith("*") or slot.startswith("*") or slot == "<n>")


def _expand(template: str) -> list[str]:
    found = _BRACES_RE.search(template)
    if not found:
        return [" ".join(template.split())]
    out = []
    for choice in found.group(1).split("|"):
        out.extend(_expand(template[:found.start()] + choice + template[found.end():]))
    return out
