"""The labelled set (tests/fixtures/triage/posts.jsonl) scored by the triage rules.

Shared by tests/triage/test_labelled.py (the goals hold) and bench/triage.py (the figures).
The labelling rules are in tests/fixtures/triage/README.md.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import combinations
from pathlib import Path
from typing import Any

from socialdesk.domain import Author, Post
from socialdesk.triage.intent import Intent, IntentReading, read_intent
from socialdesk.triage.language import detect_language
from socialdesk.triage.sentiment import Triage
from socialdesk.triage.similarity import near_duplicates, text_key
from socialdesk.triage.spam import SpamReading, read_spam

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "triage" / "posts.jsonl"
GOALS = {"spam_precision": 0.95, "intent_accuracy": 0.8, "storm_pairs_f1": 0.9}


@dataclass(frozen=True)
class Labelled:
    id: str
    origin: str  # recorded (from ../shared/refs), scenario (the demo's), written (for this set)
    post: Post
    intent: Intent
    spam: bool
    storm: str | None


@dataclass(frozen=True)
class Scored:
    item: Labelled
    intent: IntentReading
    spam: SpamReading


def load(path: Path = FIXTURE) -> list[Labelled]:
    items = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            items.append(_labelled(json.loads(line)))
    return items


def _labelled(entry: dict[str, Any]) -> Labelled:
    author = entry["author"]
    network = entry.get("network") or "x"
    post = Post(
        network=network,
        external_id=entry["id"],
        url="",
        author=Author(network, author.get("id") or f"unknown-{entry['id']}", "", "",
                      followers=author.get("followers") or 0, created_at=_time(author.get("created_at"))),
        text=entry["text"],
        created_at=_time(entry.get("created_at")) or datetime(2026, 1, 1, tzinfo=UTC),
        lang=entry.get("lang"),
    )
    labels = entry["labels"]
    return Labelled(entry["id"], entry["origin"], post, Intent(labels["intent"]), labels["spam"], labels["storm"])


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def same_text_accounts(items: Iterable[Labelled]) -> dict[str, int]:
    """For each post: how many accounts in the set posted its text (as ingest counts them)."""
    items = list(items)
    accounts: dict[str, set[str]] = defaultdict(set)
    for item in items:
        accounts[text_key(item.post.text)].add(item.post.author.external_id)
    return {item.id: len(accounts[text_key(item.post.text)]) for item in items}


def score(items: list[Labelled], triage: Triage | None = None) -> list[Scored]:
    triage = triage or Triage()
    counts = same_text_accounts(items)
    scored = []
    for item in items:
        post = item.post
        intent = read_intent(post.text, sentiment=triage.sentiment(post.text))
        # "now" is the post's own time: an account's age when it wrote the post.
        spam = read_spam(post, same_text_accounts=counts[item.id], now=post.created_at)
        scored.append(Scored(item, intent, spam))
    return scored


def spam_figures(scored: list[Scored]) -> dict[str, Any]:
    tp = [s for s in scored if s.spam.likely and s.item.spam]
    fp = [s for s in scored if s.spam.likely and not s.item.spam]
    fn = [s for s in scored if not s.spam.likely and s.item.spam]
    return {
        "spam_precision": _ratio(len(tp), len(tp) + len(fp)),
        "spam_recall": _ratio(len(tp), len(tp) + len(fn)),
        "spam_labelled": len(tp) + len(fn),
        "spam_flagged": len(tp) + len(fp),
        "spam_false_positives": [s.item.id for s in fp],
        "spam_missed": [s.item.id for s in fn],
    }


def intent_figures(scored: list[Scored]) -> dict[str, Any]:
    """Over the posts labelled not spam: the ones an agent acts on."""
    cared = [s for s in scored if not s.item.spam]
    right = sum(1 for s in cared if s.intent.intent is s.item.intent)
    per_class = {}
    for intent in Intent:
        predicted = [s for s in cared if s.intent.intent is intent]
        actual = [s for s in cared if s.item.intent is intent]
        hits = sum(1 for s in predicted if s.item.intent is intent)
        per_class[intent.value] = {"precision": _ratio(hits, len(predicted)), "recall": _ratio(hits, len(actual)),
                                   "labelled": len(actual), "read": len(predicted)}
    confusion = Counter((s.item.intent.value, s.intent.intent.value) for s in cared)
    return {
        "intent_accuracy": _ratio(right, len(cared)),
        "intent_posts": len(cared),
        "intent_per_class": per_class,
        "intent_confusion": {f"{a}→{b}": n for (a, b), n in sorted(confusion.items())},
        "intent_wrong": [s.item.id for s in cared if s.intent.intent is not s.item.intent],
    }


def storm_figures(items: list[Labelled]) -> dict[str, Any]:
    """Pairs of posts: labelled one storm vs found near-duplicate by near_duplicates over all the others."""
    texts = {i: item.post.text for i, item in enumerate(items)}
    found: set[tuple[int, int]] = set()
    for i, text in texts.items():
        others = {j: other for j, other in texts.items() if j != i}
        found.update((min(i, j), max(i, j)) for j in near_duplicates(text, others))
    labelled = {(i, j) for i, j in combinations(range(len(items)), 2)
                if items[i].storm is not None and items[i].storm == items[j].storm}
    hits = len(found & labelled)
    precision, recall = _ratio(hits, len(found)), _ratio(hits, len(labelled))
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    groups: dict[str, list[int]] = defaultdict(list)
    for i, item in enumerate(items):
        if item.storm:
            groups[item.storm].append(i)
    per_group = {}
    for name, members in sorted(groups.items()):
        pairs = {(a, b) for a, b in combinations(sorted(members), 2)}
        per_group[name] = {"posts": len(members), "pairs": len(pairs), "recall": _ratio(len(pairs & found), len(pairs))}
    return {
        "storm_pairs_precision": precision,
        "storm_pairs_recall": recall,
        "storm_pairs_f1": f1,
        "storm_pairs_labelled": len(labelled),
        "storm_pairs_found": len(found),
        "storm_groups": per_group,
        "storm_groups_macro_recall": _ratio(sum(g["recall"] for g in per_group.values()), len(per_group)),
        "storm_false_pairs": [[items[i].id, items[j].id] for i, j in sorted(found - labelled)],
        "storm_missed_pairs": [[items[i].id, items[j].id] for i, j in sorted(labelled - found)],
    }


def language_figures(items: list[Labelled]) -> dict[str, Any]:
    """detect_language on the posts whose network gave a language: right, wrong, or no guess."""
    given = [item for item in items if item.post.lang and item.post.lang != "und"]
    guesses = [(item.post.lang, detect_language(item.post.text)) for item in given]
    return {
        "language_given": len(given),
        "language_right": sum(1 for lang, guess in guesses if guess == lang),
        "language_wrong": sum(1 for lang, guess in guesses if guess is not None and guess != lang),
        "language_no_guess": sum(1 for _, guess in guesses if guess is None),
    }


def figures(items: list[Labelled], triage: Triage | None = None) -> dict[str, Any]:
    scored = score(items, triage)
    return {
        "posts": len(items),
        "origins": dict(Counter(item.origin for item in items)),
        **spam_figures(scored),
        **intent_figures(scored),
        **storm_figures(items),
        **language_figures(items),
    }


def _ratio(part: float, whole: float) -> float:
    return part / whole if whole else 0.0
