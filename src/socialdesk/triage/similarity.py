"""When two posts say the same thing: the same text, or near-duplicates (one storm).

Two measures, the higher wins:
- the characters: rapidfuzz's normalised edit similarity of the two texts' keys (copies,
  reposts, a campaign's small variations);
- the words: how much of the shorter post's content the other shares, where a care topic
  (the wifi, the battery, the update) weighs more than a plain word, and a version number
  counts as the update it names. Customers in a storm write their own sentences about
  one problem ("4.2 broke wifi", "wifi useless since the update"): they share topics more
  than characters. Two posts about different problems (wifi vs battery) share no storm
  however alike the rest of their words.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass

from rapidfuzz import fuzz, process

NEAR_DUPLICATE_AT = 0.62  # similarity at/above which two posts are one storm

_URL_RE = re.compile(r"https?://\S+|www\.\S+")
_MENTION_RE = re.compile(r"(?<![\w])@[\w.-]+")
_RETWEET_RE = re.compile(r"^\s*rt\s+(?=@)", re.IGNORECASE)
_WIFI_RE = re.compile(r"\bwi[-\s]?fi\b", re.IGNORECASE)
_VERSION_RE = re.compile(r"(?<![\w$£€.])v?\d+(?:\.\d+)+(?![\w.])")
_WORD_RE = re.compile(r"[^\W_]+")

_STOP_WORDS = frozenset("""
a about after again all also am an and any anyone are as at be been before being but by can
could did do does doing else even every few for from get got had has have having he her here
him his how i if im in into is it its it's just last let like me more most my no nor not now
of off on once only or other our out over own same she should since so some still such than
that the their them then there these they this those through to too under until up very was
we were what when where which while who why will with would yet you your yours rt amp via
""".split())
# A care topic's words (stems as _stem leaves them) and the topic they stand for.
_TOPIC_OF = {
    **dict.fromkeys(("wifi", "bluetooth", "signal", "disconnect", "hotspot", "lte", "5g", "4g", "network",
                     "internet", "connect", "connection"), "connectivity"),
    **dict.fromkeys(("battery", "batteri", "charg", "charger", "drain", "power"), "battery"),
    **dict.fromkeys(("screen", "display", "crack", "shatter", "touchscreen"), "screen"),
    **dict.fromkeys(("update", "upgrad", "upgrade", "firmware", "patch"), "update"),
    **dict.fromkeys(("refund", "reimburs"), "refund"),
    **dict.fromkeys(("deliveri", "delivery", "deliver", "shipp", "ship", "parcel", "package", "track",
                     "courier"), "delivery"),
    **dict.fromkeys(("login", "password", "account", "2fa"), "account"),
    **dict.fromkeys(("bill", "invoice", "payment", "subscription", "overcharg"), "billing"),
}
_PROBLEM_TOPICS = frozenset(set(_TOPIC_OF.values()) - {"update"})  # an update is a cause, not the problem
_TOPIC_WEIGHT, _WORD_WEIGHT, _NUMBER_WEIGHT = 3.0, 1.0, 1.0
# Edit similarity between unrelated texts of one length is often 0.5-0.7 ("good morning" /
# "good evening": 0.75): the characters decide only for copies with small changes.
_COPY_AT = 0.85
_MIN_CONTENT = 3.0  # a shorter post's content must weigh this much for the words to decide
_CACHED_TEXTS = 8192


def text_key(text: str) -> str:
    """The text normalised for 'the same text' (case, links, mentions, whitespace, emoji
    removed): equal keys = the same text (used for same_text_accounts)."""
    return _features(text).key


def similarity(a: str, b: str) -> float:
    """0..1: 1 for the same text; NEAR_DUPLICATE_AT or more for one storm."""
    fa, fb = _features(a), _features(b)
    if fa.key == fb.key:
        return 1.0 if fa.key else 0.0
    if _different_problems(fa, fb):
        return 0.0
    characters = fuzz.ratio(fa.key, fb.key) / 100.0
    return max(characters if characters >= _COPY_AT else 0.0, _word_similarity(fa, fb))


def near_duplicates(text: str, candidates: Mapping[int, str]) -> list[int]:
    """Ids of candidates near-duplicate to text, most similar first (fast for ~1,000 candidates)."""
    mine = _features(text)
    if not mine.key:
        return []
    scores: dict[int, float] = {}
    keys = {cid: _features(other).key for cid, other in candidates.items()}
    # rapidfuzz scores the characters of all candidates in C, keeping only those at the mark.
    for _, score, cid in process.extract(mine.key, keys, scorer=fuzz.ratio, limit=None,
                                         score_cutoff=_COPY_AT * 100):
        if not _different_problems(mine, _features(candidates[cid])):
            scores[cid] = score / 100.0
    if mine.weight >= _MIN_CONTENT:
        for cid, other in candidates.items():
            words = _word_similarity(mine, _features(other))
            if words >= NEAR_DUPLICATE_AT and words > scores.get(cid, 0.0):
                scores[cid] = words
    for cid, key in keys.items():
        if key == mine.key:
            scores[cid] = 1.0
    return sorted(scores, key=lambda cid: (-scores[cid], cid))


@dataclass(frozen=True)
class _Features:
    key: str
    weights: Mapping[str, float]  # content token -> its weight
    weight: float  # their sum
    problems: frozenset[str]  # the problem topics named


@functools.lru_cache(maxsize=_CACHED_TEXTS)
def _features(text: str) -> _Features:
    text = unicodedata.normalize("NFKC", text)
    text = _MENTION_RE.sub(" ", _URL_RE.sub(" ", _RETWEET_RE.sub("", text)))
    text = _WIFI_RE.sub("wifi", text).lower()
    versions = _VERSION_RE.findall(text)
    # Words and numbers only: punctuation, emoji and symbols go (a version keeps its dots
    # in the weights, not in the key: "4.2" and "4 2" are the same text).
    words = _WORD_RE.findall(text)
    key = " ".join(words)
    weights: dict[str, float] = {}
    for version in versions:
        weights[version.lstrip("v")] = _NUMBER_WEIGHT
        weights["update"] = _TOPIC_WEIGHT
    for word in words:
        if word in _STOP_WORDS or (len(word) < 2 and not word.isdigit()):
            continue
        stem = _stem(word)
        topic = _TOPIC_OF.get(stem) or _TOPIC_OF.get(word)
        if topic:
            weights[topic] = _TOPIC_WEIGHT
        elif word.isdigit() and any(word in v.split(".") for v in versions):
            continue  # the parts of a version are the version
        else:
            weights[stem] = _NUMBER_WEIGHT if any(c.isdigit() for c in stem) else _WORD_WEIGHT
    problems = frozenset(weights) & _PROBLEM_TOPICS
    return _Features(key, weights, sum(weights.values()), problems)


def _word_similarity(a: _Features, b: _Features) -> float:
    """The weight of the content two posts share over the shorter one's, or 0 when they
    name different problems or the shorter says too little to tell."""
    if _different_problems(a, b):
        return 0.0
    smaller, other = (a, b) if a.weight <= b.weight else (b, a)
    if smaller.weight < _MIN_CONTENT:
        return 0.0
    shared = sum(w for token, w in smaller.weights.items() if token in other.weights)
    # The shorter's share, damped by how much longer the other is: a three-word post is not
    # a duplicate of every paragraph that contains its words.
    coverage = shared / smaller.weight
    balance = (smaller.weight / other.weight) ** 0.25
    return coverage * balance


def _different_problems(a: _Features, b: _Features) -> bool:
    return bool(a.problems and b.problems and not (a.problems & b.problems))


def _stem(word: str) -> str:
    """A crude English stem (enough to match "drops" with "dropping", "minutes" with "minute")."""
    for suffix in ("ing", "ed", "es", "s"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word
