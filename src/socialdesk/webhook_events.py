"""The case events a webhook can subscribe to, by their webhook name (light: the CLI's help lists them)."""

from __future__ import annotations

from socialdesk.domain import EventKind

# Case history kinds a webhook can subscribe to, by their webhook name.
EVENT_KINDS: dict[str, tuple[str, ...]] = {
    "case.opened": (EventKind.OPENED.value,),
    "case.claimed": (EventKind.CLAIMED.value,),
    "case.unclaimed": (EventKind.UNCLAIMED.value,),
    "case.assigned": (EventKind.ASSIGNED.value,),
    "case.replied": (EventKind.REPLY_SENT.value, EventKind.MARKED_REPLIED.value),
    "case.resolved": (EventKind.RESOLVED.value,),
    "case.reopened": (EventKind.REOPENED.value,),
    "case.ignored": (EventKind.IGNORED.value,),
    "case.curated": (EventKind.CURATED.value,),
}
EVENT_NAME = {kind: name for name, kinds in EVENT_KINDS.items() for kind in kinds}
