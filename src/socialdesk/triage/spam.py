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
from socialdesk.triage.intent import care_problem

LIKELY_SPAM_AT = 0.6  # score at or above which a post is "likely spam"


@dataclass(frozen=True)
class SpamReading:
    score: float  # 0..1
    reasons: tuple[str, ...]  # readable: ("3 links in 12 words", "giveaway words: free, 100% legit")

    @property
    def likely(self) -> bool:
        return self.score >= LIKELY_SPAM_AT


# Words spam uses and customers rarely do. Each found adds _PER_WORD, at most _WORDS_MAX.
_GIVEAWAY = (
    r"free", r"giveaway", r"give ?away", r"win", r"winner", r"won", r"prize", r"claim(?: now| yours| your| here)?",
    r"100% (?:legit|real|free|guaranteed)", r"legit", r"guaranteed", r"no scam", r"limited (?:time|offer)",
    r"act now", r"click (?:here|the link|below)", r"link in (?:bio|profile)", r"dm (?:me|us) (?:to|for|now)",
    r"crypto", r"bitcoin", r"btc", r"eth", r"usdt", r"airdrop", r"nft", r"nfts", r"token presale", r"presale",
    r"forex", r"binary options", r"casino", r"betting", r"earn \$?\d+", r"make money", r"passive income",
    r"double your", r"investment opportunity", r"promo code", r"discount code", r"coupon", r"% off",
    r"buy followers", r"gain followers", r"followers? fast", r"follow back", r"f4f", r"onlyfans", r"xxx",
    r"cheap", r"best price", r"order now", r"shop now", r"sign up now", r"join now", r"whatsapp",
)
_PER_WORD, _WORDS_MAX = 0.25, 0.6
_LINK_RE = re.compile(r"https?://\S+|www\.\S+|\b[\w-]+\.(?:com|net|org|io|xyz|top|click|example|ly|gg|link|shop)/\S*")
_HASHTAG_RE = re.compile(r"(?<![\w&])#\w+")
_MENTION_RE = re.compile(r"(?<![\w])@[\w.]+")
_WORD_RE = re.compile(r"[^\W_]+(?:['’][^\W_]+)?")
_GIVEAWAY_RE = re.compile(
    r"(?<![\w-])(?:" + "|".join(f"(?:{w})" for w in _GIVEAWAY) + r")(?![\w-])", re.IGNORECASE
)
_SHOUTING_RE = re.compile(r"\b[A-Z]{3,}\b")
_EXCLAIMS_RE = re.compile(r"!{2,}")

# A new account is one whose first post is at most this many days old; few followers
# means under this many. Together they are a signal (a new customer may have neither).
_NEW_ACCOUNT_DAYS, _FEW_FOLLOWERS = 30, 10
_CARE_DISCOUNT = 0.3  # a customer reporting a problem is rarely spam: precision first
_SAME_TEXT_FROM = 3  # accounts posting the same text: a campaign, not a customer


def read_spam(post: Post, *, same_text_accounts: int = 1, now: datetime | None = None) -> SpamReading:
    """Signals a team can read: link and hashtag density, crypto/giveaway vocabulary, the
    same text from many accounts (counted by the caller), a new account with few followers
    (post.author.created_at, may be None, and post.author.followers). A real customer filed
    as spam is the worst error: precision first."""
    score, reasons = _text_signals(post.text)
    score, reasons = score, list(reasons)
    if same_text_accounts >= _SAME_TEXT_FROM:
        score += min(0.5, 0.1 * same_text_accounts)
        reasons.append(f"same text from {same_text_accounts} accounts")
    author = post.author
    if author.created_at is not None:
        age_days = ((now or datetime.now(UTC)) - _aware(author.created_at)).days
        if age_days <= _NEW_ACCOUNT_DAYS and author.followers < _FEW_FOLLOWERS:
            score += 0.25
            days = "1 day" if age_days == 1 else f"{max(age_days, 0)} days"
            followers = "1 follower" if author.followers == 1 else f"{author.followers} followers"
            reasons.append(f"account {days} old with {followers}")
    return SpamReading(round(min(1.0, max(0.0, score)), 2), tuple(reasons))


@functools.lru_cache(maxsize=4096)  # texts repeat (campaigns, reposts)
def _text_signals(text: str) -> tuple[float, tuple[str, ...]]:
    text = unicodedata.normalize("NFKC", text)
    links = len(_LINK_RE.findall(text))
    hashtags = len(_HASHTAG_RE.findall(text))
    without = _MENTION_RE.sub(" ", _HASHTAG_RE.sub(" ", _LINK_RE.sub(" ", text)))
    words = len(_WORD_RE.findall(without))
    score, reasons = 0.0, []
    giveaway = list(dict.fromkeys(m.group(0).lower() for m in _GIVEAWAY_RE.finditer(text)))
    if giveaway:
        score += min(_WORDS_MAX, _PER_WORD * len(giveaway))
        reasons.append("giveaway words: " + ", ".join(giveaway[:4]))
    if links:
        if links >= 2 or (giveaway and links >= 1) or words < 4:
            score += min(0.4, 0.15 * links + (0.1 if words < 8 else 0.0))
            reasons.append(f"{_count(links, 'link')} in {_count(words, 'word')}")
    if hashtags >= 4 and hashtags * 2 >= words:
        score += 0.3
        reasons.append(f"{_count(hashtags, 'hashtag')} in {_count(words, 'word')}")
    if giveaway and (_EXCLAIMS_RE.search(text) or len(_SHOUTING_RE.findall(text)) >= 2):
        score += 0.1
        reasons.append("shouting")
    problem = care_problem(text)
    if score and problem:
        score -= _CARE_DISCOUNT
        reasons.append(f"but reports a problem (“{problem}”)")
    return score, tuple(reasons)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
