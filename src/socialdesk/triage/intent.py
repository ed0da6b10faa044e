"""What a post asks of the team: complaint, question, praise or other (pure, no model).

Transparent rules an agent can check: a care vocabulary (phrases that report a problem, ask
for help or thank), the question mark, and VADER's compound score as a tie-breaker. Every
reading says why ("care word “cracked”", "asks “is that covered”").
"""

from __future__ import annotations

import enum
import functools
import re
from dataclasses import dataclass

from socialdesk.triage.phrases import plain, words
from socialdesk.triage.vocabulary import PRAISE_EMOJI, found


class Intent(str, enum.Enum):
    COMPLAINT = "complaint"
    QUESTION = "question"
    PRAISE = "praise"
    OTHER = "other"


@dataclass(frozen=True)
class IntentReading:
    intent: Intent
    reasons: tuple[str, ...]  # readable: ("care word “cracked”", "asks “is that covered”")
    tags: tuple[str, ...] = ()  # care topics found, lower-case words ("screen", "refund", …)


_QUESTION_OPENERS = (
    r"how (?:do|can|long|much|does|is|are|to|should|would)", r"what (?:is|are|does|do|should|happens|time|'s)",
    r"when (?:will|is|does|do|can)", r"where (?:is|are|can|do)", r"why (?:is|does|do|are|did|can't|won't)",
    r"is (?:it|there|that|this|the)", r"are (?:there|you|the)", r"does (?:the|it|anyone|this|acme)", r"do (?:you|i|they)",
    r"can (?:i|you|someone|anyone|we)", r"could (?:i|you|someone|anyone)", r"will (?:it|the|there|you)", r"should i",
    r"anyone (?:know|else|tried)", r"any (?:idea|ideas|news|update)",
)
# Sentiment settles the posts no care phrase decides (VADER's documented thresholds).
_NEGATIVE_AT, _POSITIVE_AT = -0.05, 0.05
_STRONG_NEGATIVE, _STRONG_POSITIVE = -0.5, 0.5


def _alternatives(phrases: tuple[str, ...]) -> str:
    return "|".join(f"(?:{p})" for p in phrases)


_OPENING_WORDS = frozenset(opener.split()[0] for opener in _QUESTION_OPENERS)
_OPENING_LOOKS = 40  # an opener without a question mark is looked for in the first words
# A question opener counts at the start of the post or of a sentence, after a mention.
_OPENER_RE = re.compile(rf"(?:^|[.!?:;]\s+|\n)(?:@\w+\s+)*(?P<q>{_alternatives(_QUESTION_OPENERS)})(?![\w-])")
_OPENER_ANYWHERE_RE = re.compile(rf"(?<![\w-])(?P<q>{_alternatives(_QUESTION_OPENERS)})(?![\w-])")
_SENTENCE_END_RE = re.compile(r"[.!\n]")


def read_intent(text: str, *, sentiment: float | None) -> IntentReading:
    """VADER's compound (may be None) plus a care vocabulary (broken, cracked, refund, not
    working, still waiting, how do I, …); transparent rules, no model."""
    return _read(text, sentiment)


@functools.lru_cache(maxsize=4096)  # texts repeat (reposts, campaigns, storms)
def _read(text: str, sentiment: float | None) -> IntentReading:
    phrases = found(text)
    tags = phrases.topics
    if text.lstrip()[:4].lower() == "rt @":
        return IntentReading(Intent.OTHER, ("a repost: it asks nothing of its own",), tags)
    problem = phrases.problems[0] if phrases.problems else None
    asks = _asks(_plain(text)) if _maybe_asks(text) else None
    praise = phrases.praise[0] if phrases.praise else _praise_emoji(text)
    if problem and not (praise and sentiment is not None and sentiment >= _STRONG_POSITIVE and not asks):
        reasons = [f"care word “{problem}”"]
        if asks:
            reasons.append(f"asks “{asks}”")
        return IntentReading(Intent.COMPLAINT, tuple(reasons), tags)
    if asks:
        return IntentReading(Intent.QUESTION, (f"asks “{asks}”",), tags)
    if praise and (sentiment is None or sentiment > _STRONG_NEGATIVE):
        return IntentReading(Intent.PRAISE, (f"praise word “{praise}”",), tags)
    if tags and sentiment is not None and sentiment <= _STRONG_NEGATIVE:
        return IntentReading(Intent.COMPLAINT, (f"negative ({sentiment:+.2f}) about {tags[0]}",), tags)
    return IntentReading(Intent.OTHER, ("no care words",), tags)


def _praise_emoji(text: str) -> str | None:
    if text.isascii():
        return None
    return next((emoji for emoji in PRAISE_EMOJI if emoji in text), None)


def care_problem(text: str) -> str | None:
    """The first phrase in the text that reports a problem ("cracked", "not working"), or None."""
    problems = found(text).problems
    return problems[0] if problems else None


def _plain(text: str) -> str:
    return plain(text)


def _maybe_asks(text: str) -> bool:
    """Cheap: a question needs a question mark or a word a question opens with."""
    return "?" in text or "？" in text or not _OPENING_WORDS.isdisjoint(words(text)[:_OPENING_LOOKS])


def _asks(plain: str) -> str | None:
    """The phrase that makes the post a question, or None."""
    opener = _OPENER_RE.search(plain)
    if opener:
        return opener.group("q")
    for before in plain.split("?")[:-1]:  # each question: from its sentence's start to its "?"
        sentence = _SENTENCE_END_RE.split(before)[-1]
        opener = _OPENER_ANYWHERE_RE.search(sentence)
        if opener:  # "— is that covered?": an opener after a dash or a comma
            return opener.group("q")
        words = sentence.split()
        if words:
            return " ".join(words[-3:])  # "anyone else?", "5 days now?"
    return None
