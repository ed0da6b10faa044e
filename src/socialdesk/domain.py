"""Plain types shared by sources, rules, store and Slack builders. No DB, no Slack."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class CaseStatus(str, enum.Enum):
    NEW = "new"
    REOPENED = "reopened"  # the customer wrote again after it was resolved: claimable like new
    CLAIMED = "claimed"
    REPLIED = "replied"
    RESOLVED = "resolved"
    IGNORED = "ignored"


# How a case was resolved (cases.outcome), with its label for people; "duplicate" names the other case.
OUTCOMES = {"answered": "answered", "fixed": "fixed", "no_reply_needed": "no reply needed", "duplicate": "duplicate"}
DUPLICATE = "duplicate"


def outcome_label(outcome: str | None, duplicate_of: int | None = None) -> str | None:
    """"answered", "duplicate of #12"; None for a case resolved without one."""
    if outcome == DUPLICATE and duplicate_of is not None:
        return f"duplicate of #{duplicate_of}"
    return OUTCOMES.get(outcome, outcome) if outcome else None


class EventKind(str, enum.Enum):
    OPENED = "opened"
    CLAIMED = "claimed"
    UNCLAIMED = "unclaimed"
    ASSIGNED = "assigned"
    NOTE = "note"
    REPLY_REQUESTED = "reply_requested"
    REPLY_APPROVED = "reply_approved"
    REPLY_REJECTED = "reply_rejected"
    REPLY_SENT = "reply_sent"
    REPLY_FAILED = "reply_failed"
    REPLY_REFUSED = "reply_refused"  # not allowed to reply: the attempt is audited
    REPLY_DRAFTED = "reply_drafted"  # a language model drafted a reply for the agent (payload: model, prompt, draft)
    MARKED_REPLIED = "marked_replied"
    RESOLVED = "resolved"
    REOPENED = "reopened"
    IGNORED = "ignored"
    TAGGED = "tagged"
    PRIORITY = "priority"
    FOLLOW_UP = "follow_up"
    CARD_POSTED = "card_posted"
    SLA_AT_RISK = "sla_at_risk"
    SLA_BREACHED = "sla_breached"
    CURATED = "curated"  # saved as a FAQ entry (or the entry edited / withdrawn: payload says)
    REMOVED_AT_SOURCE = "removed_at_source"  # a post was deleted or withheld on the network
    EDITED_AT_SOURCE = "edited_at_source"  # its author edited a post on the network (the text is the new one)
    ROUTED = "routed"  # opened in a rule's route channel (by intent or tag) instead of the rule's own
    INCIDENT_JOINED = "incident_joined"  # a near duplicate of an open case: one storm, one incident card
    INCIDENT_SPLIT = "incident_split"  # taken out of its incident by an agent: it has its own card again


# Characters that are never shown from text that came from outside: control characters (a terminal
# escape, a bell) and the bidirectional overrides and isolates that can make text display as
# something it is not (U+202E turns "evil" around). Newlines and tabs are not among them; nor are
# ordinary right-to-left letters.
HIDDEN_CONTROLS: dict[str, str] = {chr(c): "" for c in (*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20),
                                                        *range(0x7F, 0xA0), *range(0x202A, 0x202F),
                                                        *range(0x2066, 0x206A))}
_HIDDEN = str.maketrans(HIDDEN_CONTROLS)


def without_controls(text: str) -> str:
    """`text` from outside (a post, a network's error) with HIDDEN_CONTROLS dropped: safe on a terminal."""
    return text.translate(_HIDDEN)

@dataclass(frozen=True)
class Author:
    network: str  # a network package's name (socialdesk.networks)
    external_id: str
    handle: str
    name: str
    followers: int = 0
    verified: bool = False
    avatar_url: str | None = None
    created_at: datetime | None = None


@dataclass(frozen=True)
class Post:
    """A post normalized from any network."""

    network: str  # a network package's name (socialdesk.networks)
    external_id: str
    url: str
    author: Author
    text: str
    created_at: datetime
    lang: str | None = None
    conversation_id: str | None = None
    in_reply_to_id: str | None = None
    is_repost: bool = False
    is_reply: bool = False
    in_reply_to_account: str | None = None  # the handle it answers, when the network says
    metrics: dict[str, int] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def to_json(self) -> dict[str, Any]:
        """The normalized post as JSON-ready data (for `rules preview`)."""
        return {
            "network": self.network,
            "id": self.external_id,
            "url": self.url,
            "author": {
                "id": self.author.external_id,
                "handle": self.author.handle,
                "name": self.author.name,
                "followers": self.author.followers,
                "verified": self.author.verified,
                "avatar_url": self.author.avatar_url,
            },
            "text": self.text,
            "created_at": self.created_at.isoformat(),
            "lang": self.lang,
            "conversation_id": self.conversation_id,
            "in_reply_to_id": self.in_reply_to_id,
            "is_repost": self.is_repost,
            "is_reply": self.is_reply,
            "in_reply_to_account": self.in_reply_to_account,
            "metrics": self.metrics,
        }


@dataclass(frozen=True)
class IncidentMember:
    """One post of an incident as the incident card lists it."""

    case_id: int
    handle: str
    text: str
    url: str
    status: CaseStatus
    written_at: datetime


@dataclass(frozen=True)
class IncidentView:
    """A storm of near-duplicate posts: the anchor's card is the incident card, the others are in its thread."""

    incident_id: int
    anchor_case_id: int
    count: int  # cases in it, the anchor's included
    open_count: int  # of them not resolved or ignored
    first_at: datetime  # when the first of its posts was written
    last_at: datetime  # … and the latest
    latest: tuple[IncidentMember, ...] = ()  # its members (the anchor aside), newest first, a few
    thread_ts: str | None = None  # the incident card's ts: the thread its members are posted in


@dataclass(frozen=True)
class CaseView:
    """What a card shows about a case: read from the store, rendered by slack.blocks."""

    case_id: int
    status: CaseStatus
    post: Post
    channel_id: str
    opened_at: datetime
    rule_id: int | None = None
    rule_query: str | None = None
    assignee: str | None = None
    claimed_at: datetime | None = None
    priority: str = "normal"
    message_ts: str | None = None
    version: int = 1
    sentiment: float | None = None
    tags: tuple[str, ...] = ()
    ignored_reason: str | None = None
    last_action: str | None = None
    customer_wrote_at: datetime | None = None
    replying_user: str | None = None
    first_response_at: datetime | None = None
    updated_at: datetime | None = None
    sla_due: datetime | None = None  # first reply due (open cases without one), when an SLA policy is set
    sla_state: str | None = None  # "at_risk" / "breached" once the SLA sweep has announced it (jobs.sla)
    faq_entry_id: int | None = None  # the case's active curated entry ("Save as FAQ"), if any
    post_removed: str | None = None  # "deleted"/"withheld" at the source: post.text is a notice (store.retention)
    post_edited_at: datetime | None = None  # the author edited the post at the source: post.text is the new version
    intent: str | None = None  # complaint, question, praise, other (triage.intent); None: not triaged
    spam_score: float | None = None  # 0..1 (triage.spam)
    spam_reasons: tuple[str, ...] = ()  # readable; shown when the score makes it likely spam
    likely_spam: bool = False  # the score is at or above triage.spam.LIKELY_SPAM_AT
    lang_detected: bool = False  # post.lang was guessed locally (the network gave none)
    routed_from: str | None = None  # the rule's channel, when a route opened the case elsewhere
    routed_because: str | None = None  # "intent question", "tag refund"
    incident: IncidentView | None = None  # the storm it is part of (store.incidents), if any
    outcome: str | None = None  # how it was resolved (store.lifecycle.OUTCOMES); None while open
    duplicate_of: int | None = None  # resolved as a duplicate of this case
    duplicates: tuple[int, ...] = ()  # cases resolved as duplicates of this one, oldest first

    @property
    def in_incident_thread(self) -> bool:
        """A member of an incident (not its anchor): its message is in the incident card's thread."""
        return self.incident is not None and self.incident.anchor_case_id != self.case_id

    @property
    def thread_ts(self) -> str | None:
        """Where notes about the case go: its card's thread (a member's is the incident card's)."""
        return self.incident.thread_ts if self.in_incident_thread else self.message_ts  # type: ignore[union-attr]
