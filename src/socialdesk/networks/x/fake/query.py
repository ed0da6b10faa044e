"""X's search query language, as far as FakeX needs it.

Matching is tokenized like X's: a keyword matches whole words (punctuation and
`#`/`@` split words), so `tweepy` matches "#Tweepy" but `acme` does not match
"acmephones". Supported: terms, "quoted phrases", OR, parentheses, `-` negation,
#hashtag, @mention, from:/to:/lang:/is:retweet|reply|quote|verified/
has:links|mentions|hashtags/conversation_id:/url:/retweets_of:/in_reply_to_tweet_id:.
"""

from __future__ import annotations

import re

_WORD = re.compile(r"\w+")


def tokens(text: str) -> list[str]:
    return _WORD.findall(text.casefold())


OPERATORS = frozenset(
    "from to lang is has conversation_id url retweets_of in_reply_to_tweet_id".split())
IS_FLAGS = frozenset({"retweet", "reply", "quote", "verified"})
# FakeX posts carry no media or places: has:media, has:images … are valid and never match.
HAS_KEYS = {"links": "urls", "mentions": "mentions", "hashtags": "hashtags", "media": "media", "images": "media",
            "videos": "media", "geo": "geo"}
_QTOKEN = re.compile(r'\s*(-?\(|\)|-?"[^"]*"|[^\s()"]+)')


class QueryError(ValueError):
    """A query X would refuse; the message is X's wording where known."""


def parse_query(query: str):
    """Parse a query into a tree of ("and"|"or", [..]), ("not", node),
    ("term"|"phrase", words) and ("op", name, value) nodes."""
    parts = [m.group(1) for m in _QTOKEN.finditer(query)]
    pos = 0

    def or_expr():
        nonlocal pos
        items = [and_expr()]
        while pos < len(parts) and parts[pos] == "OR":
            pos += 1
            items.append(and_expr())
        return items[0] if len(items) == 1 else ("or", items)

    def and_expr():
        nonlocal pos
        items = []
        while pos < len(parts) and parts[pos] not in (")", "OR"):
            items.append(unary())
        if not items:
            raise QueryError(f"There were errors processing your request: empty expression in query '{query}'")
        return items[0] if len(items) == 1 else ("and", items)

    def unary():
        nonlocal pos
        part = parts[pos]
        pos += 1
        if part in ("(", "-("):
            inner = or_expr()
            if pos >= len(parts) or parts[pos] != ")":
                raise QueryError("There were errors processing your request: missing ')'")
            pos += 1
            return ("not", inner) if part == "-(" else inner
        if part.startswith("-") and len(part) > 1:
            return ("not", atom(part[1:]))
        return atom(part)

    def atom(part: str):
        if part.startswith('"'):
            return ("phrase", tuple(tokens(part.strip('"'))))
        name, colon, value = part.partition(":")
        if colon and value and name.replace("_", "").isalpha():  # conversation_id, retweets_of …
            if name not in OPERATORS:
                raise QueryError(
                    f"There were errors processing your request: Reference to invalid operator '{name}'. "
                    "Operator is not available in current product or product packaging.")
            if name == "is" and value not in IS_FLAGS or name == "has" and value not in HAS_KEYS:
                raise QueryError(
                    f"There were errors processing your request: Reference to invalid field '{name}:{value}'")
            return ("op", name, value)
        if part[0] in "#@$":
            return ("op", part[0], part[1:])
        return ("term", tuple(tokens(part)))

    tree = or_expr()
    if pos != len(parts):
        raise QueryError("There were errors processing your request: unbalanced ')'")
    return tree


def _contains(haystack: list[str], needle: tuple[str, ...]) -> bool:
    n = len(needle)
    return n == 0 or any(tuple(haystack[i:i + n]) == needle for i in range(len(haystack) - n + 1))


def matches(tree, post: dict, ctx: dict) -> bool:
    """Does `post` satisfy `tree`? ctx holds what FakeX fixed when the post was made:
    words (of its text, its note and a retweeted post's text), author (the user
    object), reply_to_user and retweeted_author (sets of username and id)."""
    kind = tree[0]
    if kind == "and":
        return all(matches(t, post, ctx) for t in tree[1])
    if kind == "or":
        return any(matches(t, post, ctx) for t in tree[1])
    if kind == "not":
        return not matches(tree[1], post, ctx)
    if kind in ("term", "phrase"):
        return _contains(ctx["words"], tree[1])
    name, value = tree[1], tree[2].casefold()
    ents = {**post.get("entities", {})}
    for key, items in post.get("note_tweet", {}).get("entities", {}).items():
        ents[key] = ents.get(key, []) + items
    refs = {r["type"]: r["id"] for r in post.get("referenced_tweets", [])}
    if name == "#":
        return any(h["tag"].casefold() == value for h in ents.get("hashtags", []))
    if name == "@":
        return any(m["username"].casefold() == value for m in ents.get("mentions", []))
    if name == "$":
        return _contains(ctx["words"], (value,))
    if name == "from":
        return value in (ctx["author"]["username"].casefold(), ctx["author"]["id"])
    if name == "to":
        return value in {v.casefold() for v in ctx["reply_to_user"]}
    if name == "retweets_of":
        return value in {v.casefold() for v in ctx["retweeted_author"]}
    if name == "lang":
        return post.get("lang", "").casefold() == value
    if name == "conversation_id":
        return post.get("conversation_id") == value
    if name == "in_reply_to_tweet_id":
        return refs.get("replied_to") == value
    if name == "url":
        return any(value.strip('"') in u["expanded_url"].casefold() for u in ents.get("urls", []))
    if name == "is":
        flags = {"retweet": "retweeted" in refs, "reply": "replied_to" in refs,
                 "quote": "quoted" in refs, "verified": bool(ctx["author"].get("verified"))}
        return flags[value]
    if name == "has":
        return bool(ents.get(HAS_KEYS[value]))
    raise QueryError(f"There were errors processing your request: unsupported operator '{name}'")


def has_positive_term(tree) -> bool:
    """Whether a query asks for something, not only for what to leave out (X refuses a rule without)."""
    kind = tree[0]
    if kind == "not":
        return False
    if kind == "and":
        return any(has_positive_term(t) for t in tree[1])
    if kind == "or":
        return all(has_positive_term(t) for t in tree[1])
    return True
