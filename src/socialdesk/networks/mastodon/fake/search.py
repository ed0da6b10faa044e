"""Full-text search over a MastodonWorld, as an instance with Elasticsearch answers /api/v2/search."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from socialdesk.networks.mastodon.fake.world import Account, MastodonWorld

_WORD = re.compile(r"\w+")


def search_statuses(world: MastodonWorld, q: str, viewer: Account | None, *,
                    account_id: str | None = None) -> list[dict[str, Any]]:
    """Full-text search as Mastodon 4.2+ does it: public statuses of indexable accounts, and
    those the viewer wrote or is mentioned in; every word (and "phrase", #tag, from:user) must
    match, -word must not. Newest first. Nothing without a signed-in viewer."""
    if viewer is None:
        return []
    terms = _parse_query(q)
    with world.lock:
        author_ids = {a.id for a in [world.lookup(n) for n in terms["from"]] if a is not None}
        found = []
        for status in world.statuses.values():
            author = world.accounts[status["account"]["id"]]
            mine = author.id == viewer.id or viewer.id in {m["id"] for m in status["mentions"]}
            if not mine and not (author.indexable and status["visibility"] == "public"):
                continue
            if (account_id and author.id != account_id) or (terms["from"] and author.id not in author_ids):
                continue
            text = (world.text_of(status["id"]) + " " + status["spoiler_text"]).lower()
            words = set(_WORD.findall(text))
            tags = {t["name"] for t in status["tags"]}
            if all(w in words for w in terms["words"]) and all(p in text for p in terms["phrases"]) \
                    and all(t in tags for t in terms["tags"]) and not any(w in words for w in terms["not"]):
                found.append(status)
        return [world.status_view(s["id"]) for s in sorted(found, key=lambda s: int(s["id"]), reverse=True)]


def _parse_query(q: str) -> dict[str, list[str]]:
    terms: dict[str, list[str]] = {"words": [], "phrases": [], "tags": [], "not": [], "from": []}
    terms["phrases"] = [p.lower() for p in re.findall(r'"([^"]+)"', q)]
    for term in re.sub(r'"[^"]*"', " ", q).split():
        key, _, value = term.partition(":")
        if value and key.lower() == "from":
            terms["from"].append(value)
        elif term.startswith("#") and len(term) > 1:
            terms["tags"].append(term[1:].lower())
        elif term.startswith("-") and len(term) > 1:
            terms["not"] += _WORD.findall(term[1:].lower())
        else:
            terms["words"] += _WORD.findall(term.lower())
    return terms
