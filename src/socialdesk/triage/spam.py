"""How likely a post is spam, from signals a team can read (pure, no model).

Each signal adds a weight and a reason: link and hashtag density, giveaway/crypto words,
the same text from many accounts (counted by the caller), a new account with few
followers. A real customer filed as spam is the worst error, so one signal alone stays
under LIKELY_SPAM_AT, and a post that reports a care problem is discounted.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime

from socialdesk.domain import Post
from socialdesk.triage.phrases import as_written, words
from socialdesk.triage.vocabulary import found

LIKELY_SPAM_AT = 0.6  # score at or above which a post is "likely spam"


@dataclass(frozen=True)
class SpamReading:
    score: float  # 0..1
    reasons: tuple[str, ...]  # readable: ("3 links in 12 words", "giveaway words: free, 100% legit")

    @property
    def likely(self) -> bool:
        return self.score >= LIKELY_SPAM_AT


# Giveaway words (vocabulary.py): each one found adds _PER_WORD, at most _WORDS_MAX.
_PER_WORD, _WORDS_MAX = 0.25, 0.6
_LINK_WITH_OFFER = 0.2  # a link beside giveaway words: where the offer leads
_DENSE_LINKS, _WORDS_PER_LINK = 0.2, 10  # two links or more, at most ten words each
_DENSE_HASHTAGS = 0.3  # four hashtags or more, and at least one for every two words
_SHOUTING = 0.1  # "!!" or capitals, beside giveaway words
_LINK_RE = re.compile(r"https?://\S+|www\.\S+|\b[\w-]+\.(?:com|net|org|io|xyz|top|click|example|ly|gg|link|shop)/\S*")
_HASHTAG_RE = re.compile(r"(?<![\w&])#\w+")
_MENTION_RE = re.compile(r"(?<![\w])@[\w.]+")
_SHOUTING_RE = re.compile(r"\b[A-Z]{4,}\b")  # FREE, LIVE (not API, NYC)
_EXCLAIMS_RE = re.compile(r"!{2,}")

# A new account is one whose first post is at most this many days old; few followers
# means under this many. Together they are a signal (a new customer may have neither).
_NEW_ACCOUNT_DAYS, _FEW_FOLLOWERS, _NEW_ACCOUNT = 30, 10, 0.25
_CARE_DISCOUNT = 0.3  # a customer reporting a problem is rarely spam: precision first
# Accounts posting the same text: from three on, a campaign more than customers.
_SAME_TEXT_FROM, _PER_ACCOUNT, _SAME_TEXT_MAX = 3, 0.1, 0.5


def read_spam(post: Post, *, same_text_accounts: int = 1, now: datetime | None = None) -> SpamReading:
    """Signals a team can read: link and hashtag density, crypto/giveaway vocabulary, the
    same text from many accounts (counted by the caller), a new account with few followers
    (post.author.created_at, may be None, and post.author.followers). A real customer filed
    as spam is the worst error: precision first."""
    score, text_reasons = _text_signals(post.text)
    reasons = list(text_reasons)
    if same_text_accounts >= _SAME_TEXT_FROM:
        score += min(_SAME_TEXT_MAX, _PER_ACCOUNT * same_text_accounts)
        reasons.append(f"same text from {same_text_accounts} accounts")
    author = post.author
    if author.created_at is not None:
        age_days = ((now or datetime.now(UTC)) - _aware(author.created_at)).days
        if age_days <= _NEW_ACCOUNT_DAYS and author.followers < _FEW_FOLLOWERS:
            score += _NEW_ACCOUNT
            days = "1 day" if age_days == 1 else f"{max(age_days, 0)} days"
            followers = "1 follower" if author.followers == 1 else f"{author.followers} followers"
            reasons.append(f"account {days} old with {followers}")
    return SpamReading(round(min(1.0, max(0.0, score)), 2), tuple(reasons))


@functools.lru_cache(maxsize=4096)  # texts repeat (campaigns, reposts)
def _text_signals(post_text: str) -> tuple[float, tuple[str, ...]]:
    phrases = found(post_text)  # the words as intent read them (cached)
    text = post_text if post_text.isascii() else unicodedata.normalize("NFKC", post_text)
    # The regexes run only where their mark is (most posts have no link, hashtag or mention).
    links = len(_LINK_RE.findall(text)) if "/" in text or "www." in text else 0
    hashtags = len(_HASHTAG_RE.findall(text)) if "#" in text else 0
    mentions = len(_MENTION_RE.findall(text)) if "@" in text else 0
    words_count = max(0, len(words(post_text)) - hashtags - mentions)
    score, reasons = 0.0, []
    giveaway = list(phrases.giveaway)
    if giveaway:
        score += min(_WORDS_MAX, _PER_WORD * len(giveaway))
        reasons.append("giveaway words: " + ", ".join(as_written(text, phrase) for phrase in giveaway[:4]))
    if links and giveaway:
        score += _LINK_WITH_OFFER
        reasons.append(f"{_count(links, 'link')} in {_count(words_count, 'word')}")
    elif links >= 2 and words_count <= _WORDS_PER_LINK * links:
        score += _DENSE_LINKS
        reasons.append(f"{_count(links, 'link')} in {_count(words_count, 'word')}")
    if hashtags >= 4 and hashtags * 2 >= words_count:
        score += _DENSE_HASHTAGS
        reasons.append(f"{_count(hashtags, 'hashtag')} in {_count(words_count, 'word')}")
    if giveaway and (_EXCLAIMS_RE.search(text) or len(_SHOUTING_RE.findall(text)) >= 2):
        score += _SHOUTING
        reasons.append("shouting")
    problem = phrases.problems[0] if phrases.problems else None
    if score and problem:
        score -= _CARE_DISCOUNT
        reasons.append(f"but reports a problem (“{problem}”)")
    return score, tuple(reasons)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
