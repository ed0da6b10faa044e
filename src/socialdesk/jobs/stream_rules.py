"""The rules a network's stream carries, and which of them a post belongs to.

Loaded again every RULES_SECONDS (a new, paused or edited rule reaches the stream that
soon) and handed to the stream (`Stream.track`) whenever they change. A stream that
takes only the rules marked for it (`opt_in`) is given only those. A stream whose
network matches posts itself (`matches_rules`) tags each post with the ids of the rules
it matched; otherwise every post is matched here, against one `RuleIndex` of the rules'
queries. Rules the network refuses are noted on them (`rules list` and App Home show
why) and left to the poller, which polls what the stream does not carry.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from socialdesk.domain import Post
from socialdesk.matcher import And, FromAuthor, MatchTarget, Not, Or, QueryInvalid, RuleIndex, parse, target_of
from socialdesk.networks.base import SourceError, Stream, TrackedRule
from socialdesk.store import rules as rule_store
from socialdesk.store import streams as store
from socialdesk.store.db import session_scope

log = logging.getLogger(__name__)

RULES_SECONDS = 3.0  # how soon a new or paused rule is seen by the stream


class StreamRules:
    """One network's streamed rules: loaded, handed to its stream, matched to posts."""

    def __init__(self, *, engine: Engine, network: str, stream: Stream, clock: Callable[[], datetime],
                 leave_out: Callable[[Sequence[int]], set[int]] | None = None) -> None:
        self._engine, self._network, self._stream, self._now = engine, network, stream, clock
        # Of the active rules, those not to carry now (paused by budget): the stream stops asking for them.
        self._leave_out = leave_out
        self.carried: dict[int, Any] = {}  # rule id → its row: the rules the stream carries now
        self._key: tuple = ()
        self._index, self._index_size = RuleIndex([]), 0
        self._mentions: dict[str, list[int]] = {}  # account id → the mentions rules naming it
        self._authors: dict[str, str] = {}  # account id → handle, for the `from:` terms of the rules
        self._refused: dict[int, str] = {}  # rule id → the network's reason, as last told
        self._loaded_at = 0.0
        # Rules the stream began to carry after its first rules (added, resumed, marked, no longer
        # refused): the poller stopped polling them before the stream had them, so the worker
        # searches each from its own cursor once (Poller.fill_gap), and nothing in between is lost.
        self.newly_carried: set[int] = set()

    def load(self, *, force: bool = False, tell: bool = True) -> bool:
        """Read the rules again when due and tell the stream of a change; False when it carries none.

        A stream that could not be told (SourceError) is told again at the next load; with
        `force` (before connecting) the error is raised, so the worker backs off and the
        rules are polled meanwhile. `tell=False` only reads them: a replica that does not
        hold the stream must not change what the network's stream carries.
        """
        clock = time.monotonic()
        if not force and clock - self._loaded_at < RULES_SECONDS:
            return bool(self.carried)
        self._loaded_at = clock
        with session_scope(self._engine) as session:
            rules = store.streamed_rules(session=session, network=self._network, kinds=self._stream.kinds,
                                         opted_in_only=self._stream.opt_in)
        if self._leave_out is not None and rules:
            left_out = self._leave_out([r.id for r in rules])
            rules = [r for r in rules if r.id not in left_out]
        if not tell:
            return any(r.id not in self._refused for r in rules)
        key = tuple(sorted((r.id, r.kind, r.query, r.channel_id, r.lang, r.include_reposts) for r in rules))
        told_before = bool(self._key)
        before = set(self.carried)
        if key != self._key:
            try:
                self._changed(rules)
            except SourceError as exc:
                if force:
                    raise
                log.warning("%s stream: could not hand it the rules (%s); trying again shortly", self._network, exc)
                return bool(self.carried)
            self._key = key
        self.carried = {r.id: r for r in rules if r.id not in self._refused}
        if told_before:
            self.newly_carried |= set(self.carried) - before
        self.newly_carried &= set(self.carried)
        return bool(self.carried)

    def _changed(self, rules: Sequence[Any]) -> None:
        self._mentions = {}
        for rule in rules:
            if rule.kind == "mentions":
                self._mentions.setdefault(rule.query, []).append(rule.id)
        if not self._stream.matches_rules:
            self._compile([r for r in rules if r.kind != "mentions"])
        refused = self._stream.track([TrackedRule(r.kind, r.query, r.id) for r in rules])
        ids = {r.id for r in rules}
        self._note_refusals({rule_id: reason for rule_id, reason in refused.items() if rule_id in ids}, ids)
        mentions = f", {sum(map(len, self._mentions.values()))} for mentions" if self._mentions else ""
        if self._stream.matches_rules:
            log.info("%s stream: the network matches %d rule(s)%s", self._network, len(rules) - len(self._refused),
                     f"; {len(self._refused)} refused, polled instead" if self._refused else "")
        else:
            log.info("%s stream: matching %d rule(s)%s", self._network, self._index_size, mentions)

    def _compile(self, rules: Sequence[Any]) -> None:
        compiled = []
        for rule in rules:
            try:
                compiled.append((rule.id, parse(rule.query)))
            except QueryInvalid as exc:
                log.warning("%s stream: rule %s is not matched: %s", self._network, rule.id, exc)
        self._index, self._index_size = RuleIndex(compiled), len(compiled)
        handles = sorted({h for _, query in compiled for h in from_handles(query.root)})
        self._authors = {did: handle for handle, did in self._stream.identify(handles).items()} if handles else {}

    def _note_refusals(self, refused: dict[int, str], ids: set[int]) -> None:
        """Note refusals on their rules (each logged once), clear the ones no longer true."""
        now = self._now()
        with session_scope(self._engine) as session:
            for rule_id, reason in refused.items():
                noted = rule_store.record_stream_refusal(session=session, rule_id=rule_id, reason=reason, now=now)
                if noted or self._refused.get(rule_id) != reason:
                    log.warning("%s stream: the network refused rule %s (%s); it is polled instead",
                                self._network, rule_id, reason)
            for rule_id in rule_store.clear_stream_refusal(session=session,
                                                           rule_ids=[r for r in ids if r not in refused]):
                log.info("%s stream: rule %s is streamed now", self._network, rule_id)
        self._refused = dict(refused)

    def match(self, post: Post, *, mention_of: str | None = None,
              rule_ids: Sequence[int] | None = None) -> list[int]:
        """The carried rules a post belongs to: the ones the network tagged it with, or those it
        matches here; and the mentions rules of the account it mentions."""
        if self._stream.matches_rules:
            matched = list(dict.fromkeys(r for r in rule_ids or () if r in self.carried))
        elif not self.carried:
            matched = []
        elif post.author.handle:
            matched = self._index.match(target_of(post))
        else:  # the event names only the account id: `from:` rules know theirs
            handle = self._authors.get(post.author.external_id, "")
            matched = self._index.match(MatchTarget.of(post.text, lang=post.lang, author_handle=handle))
        if mention_of:
            matched = [*matched, *(r for r in self._mentions.get(mention_of, ())
                                   if r not in matched and r in self.carried)]
        return matched


def from_handles(node: Any) -> set[str]:
    """The handles a query's `from:` terms name."""
    if isinstance(node, FromAuthor):
        return {node.handle}
    if isinstance(node, And | Or):
        return {h for child in node.children for h in from_handles(child)}
    if isinstance(node, Not):
        return from_handles(node.child)
    return set()
