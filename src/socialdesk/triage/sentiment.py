"""Sentiment (VADER) and priority of a post. Pure apart from loading VADER's lexicon."""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Sequence

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from socialdesk.domain import Post

HIGH, NORMAL = "high", "normal"
STRONGLY_NEGATIVE = -0.6  # compound score at or below which a post is high priority
# VADER's documented thresholds; store.figures counts the sentiment mix in SQL with these.
NEGATIVE_AT, POSITIVE_AT = -0.05, 0.05
# VADER's cost grows with the square of the length and it is tuned for short posts;
# the opening of a 25,000-character long post says enough (and scores in ~50 ms).
_SENTIMENT_CHARS = 5000
_CACHED_TEXTS = 2048  # at most ~10 MB of text; most posts are far under the 5,000 characters


class Triage:
    """Scores posts. Build it once: VADER loads its lexicons when constructed."""

    def __init__(self) -> None:
        self._vader = SentimentIntensityAnalyzer()
        # Reposts and copied campaign texts repeat a text many times: each is scored once
        # (~30 µs a post, more than storing it). Per instance, and safe across threads.
        self._score = functools.lru_cache(maxsize=_CACHED_TEXTS)(self._compound)

    def sentiment(self, text: str) -> float:
        """VADER's compound score, from -1 (most negative) to 1 (most positive)."""
        return self._score(text[:_SENTIMENT_CHARS])

    def _compound(self, text: str) -> float:
        return self._vader.polarity_scores(text)["compound"]


def sentiment_label(score: float | None) -> str:
    """VADER's documented thresholds: <= NEGATIVE_AT negative, >= POSITIVE_AT positive."""
    if score is None:
        return "unknown"
    if score <= NEGATIVE_AT:
        return "negative"
    if score >= POSITIVE_AT:
        return "positive"
    return "neutral"


def priority(
    post: Post,
    *,
    keywords: Sequence[str] = (),
    followers_threshold: int | None = None,
    sentiment: float | None = None,
) -> str:
    """"high" when any of these holds, else "normal":

    - a keyword occurs as a whole word or phrase, ignoring case ("refund" matches
      "Refund!" and "#refund", not "refundable" or "refunds"; "data breach" matches
      across any whitespace);
    - the author has at least `followers_threshold` followers;
    - the author is verified;
    - the sentiment is strongly negative (<= -0.6).
    """
    author = post.author
    if _keyword_pattern(tuple(keywords)).search(unicodedata.normalize("NFC", post.text)):
        return HIGH
    if followers_threshold is not None and author.followers >= followers_threshold:
        return HIGH
    if author.verified:
        return HIGH
    if sentiment is not None and sentiment <= STRONGLY_NEGATIVE:
        return HIGH
    return NORMAL


@functools.lru_cache(maxsize=256)
def _keyword_pattern(keywords: tuple[str, ...]) -> re.Pattern[str]:
    alternatives = [_phrase(k) for k in keywords if k.strip()]
    return re.compile("|".join(alternatives) or r"(?!)", re.IGNORECASE)


def _phrase(keyword: str) -> str:
    words = unicodedata.normalize("NFC", keyword).split()
    body = r"\s+".join(re.escape(w) for w in words)
    # CJK and kana have no spaces between words: a boundary there would never match.
    start = r"(?<!\w)" if _spaced(words[0][0]) else ""
    end = r"(?!\w)" if _spaced(words[-1][-1]) else ""
    return f"{start}{body}{end}"


def _spaced(char: str) -> bool:
    return (char.isalnum() or char == "_") and unicodedata.east_asian_width(char) not in ("W", "F")
