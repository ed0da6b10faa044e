"""The queue's filters, as `/social queue` and App Home's saved view take them (pure, no database).

    priority:high,normal  tag:refund  rule:3  network:<name>  intent:question

Values of one key are alternatives (`priority:high,normal`, or the key given twice); keys
together narrow the queue (all must hold). Anything else is an error whose message names
the token, says what the key takes, and shows the usage line. `text()` writes a filter
back in one canonical spelling: the saved view is stored as that text and parsed again
when read, so a tag dropped from SOCIALDESK_TAGS meanwhile is reported, not applied blindly.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from socialdesk.networks import registry
from socialdesk.slack.text import ECHO_CHARS, plain_cut
from socialdesk.triage.intent import Intent

PRIORITIES = ("high", "normal", "low")  # as store.lifecycle.PRIORITIES, most urgent first
INTENTS = tuple(i.value for i in Intent)
KEYS = ("priority", "tag", "rule", "network", "intent")
MAX_TEXT = 500  # a saved view or a typed filter longer than this is not one a person wrote
_TOKEN = re.compile(r"^([A-Za-z]+):(.*)$", re.DOTALL)
_RULE = re.compile(r"^#?(\d{1,9})$")


class FilterError(ValueError):
    """A filter the person got wrong; str(error) is one line (mrkdwn-safe) to show them."""


def usage() -> str:
    return ("Filters: `priority:" + "|".join(PRIORITIES) + "` `tag:<tag>` `rule:<number>` "
            "`network:" + "|".join(registry.names()) + "` `intent:" + "|".join(INTENTS) + "`, "
            "e.g. `priority:high tag:refund`; commas give alternatives (`priority:high,normal`).")


@dataclass(frozen=True)
class QueueFilter:
    priorities: frozenset[str] = frozenset()
    tags: frozenset[str] = frozenset()
    rule_ids: frozenset[int] = frozenset()
    networks: frozenset[str] = frozenset()
    intents: frozenset[str] = frozenset()

    @property
    def empty(self) -> bool:
        return not (self.priorities or self.tags or self.rule_ids or self.networks or self.intents)

    def text(self) -> str:
        """The canonical spelling, "" for no filter: parse(f.text()) == f."""
        parts = []
        if self.priorities:
            parts.append("priority:" + ",".join(p for p in PRIORITIES if p in self.priorities))
        if self.tags:
            parts.append("tag:" + ",".join(sorted(self.tags)))
        if self.rule_ids:
            parts.append("rule:" + ",".join(str(r) for r in sorted(self.rule_ids)))
        if self.networks:
            parts.append("network:" + ",".join(n for n in registry.names() if n in self.networks))
        if self.intents:
            parts.append("intent:" + ",".join(i for i in INTENTS if i in self.intents))
        return " ".join(parts)


def _shown(token: str) -> str:
    return plain_cut(token, ECHO_CHARS).replace("`", "'").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _bad(token: str, why: str) -> FilterError:
    return FilterError(f"`{_shown(token)}`: {why}. {usage()}")


def parse(text: str, *, tags: Sequence[str] = ()) -> QueueFilter:
    """`text` as a filter; raise FilterError on anything that is not one.

    `tags`: the tags a case can carry (the team's and the care topics); a `tag:` outside them
    is an error (it could never match). Matching is case-insensitive; tags keep their spelling.
    """
    if len(text or "") > MAX_TEXT:
        raise FilterError(f"That filter is {len(text):,} characters; the most is {MAX_TEXT}. {usage()}")
    found: dict[str, set] = {key: set() for key in KEYS}
    known_tags = {t.lower(): t for t in tags}
    for token in (text or "").split():
        match = _TOKEN.match(token)
        if match is None:
            raise _bad(token, "the queue takes filters only, written key:value")
        key, raw = match.group(1).lower(), match.group(2)
        if key not in KEYS:
            raise _bad(token, f"unknown filter `{_shown(key)}:`")
        values = raw.split(",")
        if not raw or any(not v for v in values):
            raise _bad(token, f"`{key}:` needs a value")
        for value in values:
            low = value.lower()
            if key == "priority":
                if low not in PRIORITIES:
                    raise _bad(token, "priority is one of " + ", ".join(PRIORITIES))
                found[key].add(low)
            elif key == "tag":
                if low not in known_tags:
                    listed = ", ".join(list(known_tags.values())[:30]) or "none are configured"
                    raise _bad(token, f"`{_shown(value)}` is not a tag cases carry ({listed})")
                found[key].add(known_tags[low])
            elif key == "rule":
                number = _RULE.match(value)
                if number is None or int(number.group(1)) == 0:
                    raise _bad(token, "rule takes a rule number, e.g. rule:3 (`/social rules` lists them)")
                found[key].add(int(number.group(1)))
            elif key == "network":
                if low not in registry.names():
                    raise _bad(token, "network is one of " + ", ".join(registry.names()))
                found[key].add(low)
            else:
                if low not in INTENTS:
                    raise _bad(token, "intent is one of " + ", ".join(INTENTS))
                found[key].add(low)
    return QueueFilter(priorities=frozenset(found["priority"]), tags=frozenset(found["tag"]),
                       rule_ids=frozenset(found["rule"]), networks=frozenset(found["network"]),
                       intents=frozenset(found["intent"]))
