"""When two posts say the same thing: the same text, or near-duplicates (one storm).

Two measures, the higher wins:
- the characters: rapidfuzz's normalised edit similarity of the two texts' keys, for
  copies, reposts and a campaign's small variations (at _COPY_AT or more);
- the words: how much of the shorter post's content the other shares. Customers in a
  storm write their own sentences about one problem ("4.2 broke wifi", "wifi useless
  since the update"): they share the problem's words more than characters. So a care
  topic (wifi, battery, login, …) weighs more than a plain word, common ways of saying
  one thing count as one word ("log in" / "sign in" / "login"; "charged twice" /
  "double charged"), and a version number counts as the update it names. Two posts about
  different problems (wifi vs battery), or a problem and a post reporting none (a
  question about the next update), are no storm however alike their other words.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from socialdesk.triage.intent import care_problem

NEAR_DUPLICATE_AT = 0.62  # similarity at/above which two posts are one storm

# Edit similarity between unrelated texts of one length is often 0.5-0.7 ("good morning" /
# "good evening": 0.75): the characters decide only for copies with small changes.
_COPY_AT = 0.85
_MIN_CONTENT = 3.0  # a shorter post's content must weigh this much for the words to decide
_TOPIC_WEIGHT, _WORD_WEIGHT = 3.0, 1.0
_CACHED_TEXTS = 8192

_URL_RE = re.compile(r"https?://\S+|www\.\S+")
_MENTION_RE = re.compile(r"(?<![\w])@[\w.-]+")
_HANDLE_RE = re.compile(r"(?<![\w])[@#]([\w.-]+)")
_CAMEL_RE = re.compile(r"(?<=[a-z])(?=[A-Z])")
_RETWEET_RE = re.compile(r"^\s*rt\s+(?=@)", re.IGNORECASE)
_VERSION_RE = re.compile(r"(?<![\w$£€.:])v?\d{1,2}(?:\.\d{1,2}){1,2}(?![\w.])")
_WORD_RE = re.compile(r"[^\W_]+")

# Ways of saying one thing, each made one word before the words are compared.
_SAME_THING = tuple((re.compile(pattern), word) for pattern, word in (
    (r"\bwi[-\s]?fi\b", "wifi"),
    (r"\b(?:log(?:ging|ged)?|sign(?:ing|ed)?)[\s-]?(?:in|into|on)\b|\blogins?\b|\bsignin\b", "login"),
    (r"\b(?:charged|billed)(?: me)? (?:twice|double)\b|\bdouble[\s-]?(?:charged|billed)\b|\btwo (?:charges|payments)\b"
     + r"|\b(?:payment|charge)s? twice\b|\btook the payment twice\b", "doublecharge"),
    (r"\bno (?:signal|service|network|reception|bars)\b|\bzero bars\b", "nosignal"),
    (r"\bsomething went wrong\b", "error"),
))
_STOP_WORDS = frozenset("""
a about after again all also am an and any anyone are as at be been before being but by can
could did do does doing else even every few for from get gets got had has have having he her here
him his how i if im in into is it its just last let like me more most my no nor not now
of off on once only or other our out over own same she should since so some still such than
that the their them then there these they this those through to too under until up very was
we were what when where which while who why will with would yet you your yours rt amp via
won can't cant don doesn didn isn wasn aren hasn haven couldn wouldn shouldn ll ve re s t d m
just then again please
""".split())
# A care topic's words (as _stem leaves them) and the topic they stand for.
_TOPIC_OF = {
    **dict.fromkeys(("wifi", "hotspot", "router", "internet"), "wifi"),
    **dict.fromkeys(("bluetooth", "pair", "pairing", "airdrop"), "bluetooth"),
    **dict.fromkeys(("nosignal", "signal", "reception", "lte", "5g", "4g", "3g", "outage", "coverage", "bars"),
                    "signal"),
    **dict.fromkeys(("battery", "batteri", "drain", "charg", "charger"), "battery"),
    **dict.fromkeys(("screen", "display", "crack", "shatter", "touchscreen", "pixel"), "screen"),
    **dict.fromkeys(("login", "password", "2fa", "locked"), "login"),
    **dict.fromkeys(("sync", "synced", "syncing"), "sync"),
    **dict.fromkeys(("doublecharge", "bill", "invoice", "overcharg", "fee"), "billing"),
    **dict.fromkeys(("refund", "reimburs"), "refund"),
    **dict.fromkeys(("deliveri", "delivery", "deliver", "shipp", "ship", "parcel", "package", "track",
                     "courier"), "delivery"),
    **dict.fromkeys(("cancel", "cancell", "cancelled", "canceled"), "cancellation"),
    **dict.fromkeys(("update", "upgrad", "upgrade", "firmware", "patch"), "update"),
}
_CAUSES = frozenset({"update"})  # an update is a cause, not the problem


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
    features = {cid: _features(other) for cid, other in candidates.items()}
    scores: dict[int, float] = {}
    # rapidfuzz compares the characters of all candidates in C, keeping those at _COPY_AT.
    keys = {cid: f.key for cid, f in features.items()}
    for _, score, cid in process.extract(mine.key, keys, scorer=fuzz.ratio, limit=None, score_cutoff=_COPY_AT * 100):
        if not _different_problems(mine, features[cid]):
            scores[cid] = score / 100.0
    if len(mine.words) * _WORD_WEIGHT >= _MIN_CONTENT or mine.reports_problem:
        for cid, other in features.items():
            words = _word_similarity(mine, other)
            if words >= NEAR_DUPLICATE_AT and words > scores.get(cid, 0.0):
                scores[cid] = words
    for cid, key in keys.items():
        if key == mine.key:
            scores[cid] = 1.0
    return sorted(scores, key=lambda cid: (-scores[cid], cid))


@dataclass(frozen=True)
class _Features:
    key: str
    words: frozenset[str]  # content words, stemmed ("4.2" counts as "update" too)
    topics: frozenset[str]  # the care topics they name
    problems: frozenset[str]  # those topics, causes left out
    reports_problem: bool  # a care problem is reported ("not working", "drops", …)

    @property
    def weight(self) -> float:
        """Of the content, as compared with another post reporting a problem."""
        return len(self.words) * _WORD_WEIGHT + len(self.topics) * _TOPIC_WEIGHT


@functools.lru_cache(maxsize=_CACHED_TEXTS)
def _features(text: str) -> _Features:
    text = _RETWEET_RE.sub("", unicodedata.normalize("NFKC", text))
    text = _URL_RE.sub(" ", text)
    # The key: words and numbers only (punctuation, emoji, mentions go).
    key = " ".join(_WORD_RE.findall(_MENTION_RE.sub(" ", text).lower()))
    # The content: mentions and hashtags count as the words they join ("@GlobexBank": globex bank).
    content = _HANDLE_RE.sub(lambda m: " " + _CAMEL_RE.sub(" ", m.group(1)) + " ", text).lower()
    for pattern, word in _SAME_THING:
        content = pattern.sub(f" {word} ", content)
    versions = _VERSION_RE.findall(content)
    words = {v.lstrip("v") for v in versions} | ({"update"} if versions else set())
    version_parts = {part for v in versions for part in v.lstrip("v").split(".")}
    topics = {"update"} if versions else set()
    for word in _WORD_RE.findall(_VERSION_RE.sub(" ", content)):
        if word in _STOP_WORDS or (len(word) < 2 and not word.isdigit()) or word in version_parts:
            continue
        stem = _stem(word)
        words.add(stem)
        topic = _TOPIC_OF.get(stem) or _TOPIC_OF.get(word)
        if topic:
            topics.add(topic)
    return _Features(key, frozenset(words), frozenset(topics), frozenset(topics - _CAUSES),
                     care_problem(text) is not None)


def _different_problems(a: _Features, b: _Features) -> bool:
    return bool(a.problems and b.problems and not (a.problems & b.problems))


def _word_similarity(a: _Features, b: _Features) -> float:
    """How much of the shorter post's content the other shares (damped when the other is
    much longer), or 0 when only one reports a problem, they name different problems, or
    the shorter says too little to tell. Between two problem reports a shared care topic
    weighs _TOPIC_WEIGHT; between posts reporting none, only words count."""
    if a.reports_problem != b.reports_problem or _different_problems(a, b):
        return 0.0
    topic_weight = _TOPIC_WEIGHT if a.reports_problem else 0.0
    weight_a = len(a.words) * _WORD_WEIGHT + len(a.topics) * topic_weight
    weight_b = len(b.words) * _WORD_WEIGHT + len(b.topics) * topic_weight
    (smaller, small), (other, large) = sorted(((a, weight_a), (b, weight_b)), key=lambda pair: pair[1])
    if small < _MIN_CONTENT:
        return 0.0
    shared = len(smaller.words & other.words) * _WORD_WEIGHT + len(smaller.topics & other.topics) * topic_weight
    # The shorter's share, damped by how much longer the other is: a three-word post is not
    # a duplicate of every paragraph that contains its words.
    return shared / small * (small / large) ** 0.25


def _stem(word: str) -> str:
    """A crude English stem (enough to match "drops" with "dropping", "minutes" with "minute")."""
    for suffix in ("ing", "ed", "es", "s"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word
