"""What triage makes of a post at ingest, and what its case does about it (pure).

The poller reads each post it is about to store (jobs/poll_pages.py `PageStore.scores`): VADER's
sentiment, the rule's priority settings, the intent and care tags, the spam score. The
rule's settings then say what the case does: open in a route's channel instead of the
rule's (`rules.route_for`), or open as ignored when it is likely spam and the rule says so.
store.ingest writes what `Triaged` holds; nothing here touches the database.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from socialdesk.domain import Post
from socialdesk.rules import route_for
from socialdesk.triage.intent import read_intent
from socialdesk.triage.language import detect_language
from socialdesk.triage.sentiment import NORMAL, priority
from socialdesk.triage.similarity import text_key
from socialdesk.triage.spam import LIKELY_SPAM_AT, read_spam
from socialdesk.triage.vocabulary import TOPICS

LIKELY_SPAM = "likely_spam"  # cases.ignored_reason of a case filed as spam at ingest ("Not spam" reopens it)
# The care topics read_intent tags posts with (its vocabulary's keys): a case may carry them
# beside the team's own tags (SOCIALDESK_TAGS).
CARE_TAGS: tuple[str, ...] = TOPICS
_CACHED_TEXTS = 8192
# The accounts read per text for "the same text from N accounts": past this the text is a
# campaign whatever the number (the spam score stops growing well before), and the reason says "N+".
SAME_TEXT_SAMPLE = 25


@dataclass(frozen=True)
class Triaged:
    """One post as triage read it, and what its case does (when it opens one)."""

    sentiment: float | None = None  # VADER's compound, -1 … 1
    priority: str = NORMAL
    intent: str | None = None  # complaint, question, praise, other (triage.intent.Intent)
    tags: tuple[str, ...] = ()  # care topics found ("screen", "refund"): the case's tags
    spam_score: float | None = None  # 0..1
    spam_reasons: tuple[str, ...] = ()
    text_key: str | None = None  # digest of the normalised text (posts.text_key); None: no words
    similarity_key: str | None = None  # the normalised text itself (similarity.text_key; not stored): storms compare it
    lang_detected: bool = False  # the post's language was guessed here (the network gave none)
    # What the case does, from the rule's settings:
    route_to: str | None = None  # the channel it opens in instead of the rule's
    route_because: str | None = None  # "intent question", "tag refund"
    file_as_spam: bool = False  # likely spam on a rule that ignores spam: it opens as ignored

    @property
    def likely_spam(self) -> bool:
        return self.spam_score is not None and self.spam_score >= LIKELY_SPAM_AT

    @property
    def spam_line(self) -> str:
        """"likely spam: 3 links in 12 words, giveaway words: free" (the ignored event's reason)."""
        return "likely spam: " + (", ".join(self.spam_reasons) or f"score {self.spam_score or 0:.2f}")


UNTRIAGED = Triaged()


def text_digest(text: str) -> str | None:
    """A short digest of `similarity.text_key(text)` (an index column holds it); None when the key is empty."""
    return _keyed(text)[1]


@functools.lru_cache(maxsize=_CACHED_TEXTS)
def _keyed(text: str) -> tuple[str, str | None]:
    """`similarity.text_key(text)` and its digest, worked out once a text: the spam count, the
    stored column and the storm join (store.storms, through Triaged.similarity_key) all use them."""
    key = text_key(text)
    return key, (hashlib.blake2b(key.encode(), digest_size=16).hexdigest() if key else None)


@functools.lru_cache(maxsize=_CACHED_TEXTS)
def _language(text: str) -> str | None:
    return detect_language(text)


def fill_languages(posts: Sequence[Post]) -> tuple[list[Post], frozenset[str]]:
    """The posts with a language guessed where the network gave none, and the ids of those guessed.

    Run before the rule's filters, so a rule's language works on every network."""
    filled, guessed = [], set()
    for post in posts:
        if post.lang is None and (lang := _language(post.text)) is not None:
            post = dataclasses.replace(post, lang=lang)
            guessed.add(post.external_id)
        filled.append(post)
    return filled, frozenset(guessed)


def same_text_accounts(posts: Iterable[Post], recent: Mapping[str, set[tuple[str, str]]]) -> dict[str, int]:
    """Accounts per text digest: those who posted it lately (`recent`, from store.texts, at most
    SAME_TEXT_SAMPLE each) and this page's, each account once."""
    accounts = {key: set(found) for key, found in recent.items()}
    for post in posts:
        key = text_digest(post.text)
        if key is not None:
            accounts.setdefault(key, set()).add((post.network, post.author.external_id))
    return {key: len(found) for key, found in accounts.items()}


def triage_page(
    posts: Sequence[Post],
    *,
    sentiment: Callable[[str], float],
    recent_accounts: Mapping[str, set[tuple[str, str]]],
    guessed: frozenset[str] = frozenset(),
    now: datetime | None = None,
    keywords: Sequence[str] = (),
    followers_threshold: int | None = None,
    routes: Mapping[str, str] | None = None,
    channel_id: str = "",
    ignore_spam: bool = False,
) -> dict[str, Triaged]:
    """Each post of a page read (`read_post`) and disposed by its rule's settings, by external id.

    `recent_accounts`: who posted each text digest lately (store.texts); `guessed`: the ids
    whose language `fill_languages` guessed; `routes`, `channel_id`, `ignore_spam`: the rule's."""
    counts = same_text_accounts(posts, recent_accounts)
    scores = {}
    for post in posts:
        key = text_digest(post.text)
        triaged = read_post(post, sentiment=sentiment, keywords=keywords, followers_threshold=followers_threshold,
                            same_text_accounts=counts.get(key, 1) if key else 1, now=now,
                            lang_detected=post.external_id in guessed,
                            # More were not read: "at least".
                            same_text_at_least=bool(key) and len(recent_accounts.get(key, ())) >= SAME_TEXT_SAMPLE)
        route = route_for(routes, intent=triaged.intent, tags=triaged.tags, channel_id=channel_id)
        scores[post.external_id] = dispose(triaged, route=route, ignore_spam=ignore_spam)
    return scores


def read_post(
    post: Post,
    *,
    sentiment: Callable[[str], float],
    keywords: Sequence[str] = (),
    followers_threshold: int | None = None,
    same_text_accounts: int = 1,
    now: datetime | None = None,
    lang_detected: bool = False,
    same_text_at_least: bool = False,
) -> Triaged:
    """Everything triage reads in one post (`sentiment`: triage.sentiment.Triage.sentiment).

    `same_text_at_least`: more accounts may have posted the text than were counted (the reason says "N+")."""
    mood = sentiment(post.text)
    reading = read_intent(post.text, sentiment=mood)
    spam = read_spam(post, same_text_accounts=same_text_accounts, now=now)
    reasons = spam.reasons
    if same_text_at_least:
        counted = f"same text from {same_text_accounts} accounts"
        reasons = tuple(f"same text from {same_text_accounts}+ accounts" if r == counted else r for r in reasons)
    key, digest = _keyed(post.text)
    return Triaged(
        sentiment=mood,
        priority=priority(post, keywords=tuple(keywords), followers_threshold=followers_threshold, sentiment=mood),
        intent=reading.intent.value,
        tags=tuple(dict.fromkeys(reading.tags)),
        spam_score=round(spam.score, 3),
        spam_reasons=tuple(reasons),
        text_key=digest,
        similarity_key=key,
        lang_detected=lang_detected,
    )


def dispose(triaged: Triaged, *, route: tuple[str, str] | None, ignore_spam: bool) -> Triaged:
    """What the case does: likely spam on a rule that ignores spam opens as ignored (in the rule's
    channel, never routed); otherwise `route` (channel, because) opens it elsewhere."""
    if ignore_spam and triaged.likely_spam:
        return dataclasses.replace(triaged, file_as_spam=True)
    if route is not None:
        return dataclasses.replace(triaged, route_to=route[0], route_because=route[1])
    return triaged
