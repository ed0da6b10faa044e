"""Storing what the poller found: a walk's page, a stream's matched posts, follow-ups.

Each post's language is guessed where the network gave none (before the rule's filters),
and its triage is scored before the write transaction, so SQLite's write lock is held only
while writing. A poll's page is stored in one transaction with what the network billed for
it and the cursor that follows it (while the walk's lease is still held); follow-ups found
in watched conversations only join cases. When another worker stored one of a page's posts
meanwhile (IntegrityError), `store`'s caller stores again; `store_follow_ups` does so itself.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from socialdesk.domain import Post
from socialdesk.jobs.poll_leases import lease_seconds
from socialdesk.logs import about
from socialdesk.metrics import Metrics
from socialdesk.networks.base import BilledReads
from socialdesk.spend import Meter
from socialdesk.store import ingest, texts
from socialdesk.store import rules as rule_store
from socialdesk.store.db import read_scope, session_scope
from socialdesk.triage.sentiment import Triage
from socialdesk.triage.triaged import (
    SAME_TEXT_SAMPLE,
    Triaged,
    fill_languages,
    text_digest,
    triage_page,
)

log = logging.getLogger("socialdesk.jobs.poll")  # the poller's own lines, as before the split

SAME_TEXT_WINDOW = timedelta(hours=24)  # the same text from many accounts this recently: a spam signal


class PageStore:
    def __init__(self, *, engine: Engine, clock: Callable[[], datetime], own: Callable[[], frozenset[str]],
                 meter: Meter, metrics: Metrics, triage: Triage | None,
                 incident_window: timedelta | None) -> None:
        self._engine, self._now = engine, clock
        self._own = own  # read at each store: the accounts replies go out as may sign in meanwhile
        self._meter, self._metrics = meter, metrics
        self._triage = triage
        self._incident_window = incident_window  # near duplicates within it join one incident (store.incidents)

    def languages(self, posts) -> tuple[list[Post], frozenset[str]]:  # type: ignore[no-untyped-def]
        """The posts with a language guessed where the network gave none, and the ids guessed.

        Before the rule's filters, so a rule's language works on every network."""
        if self._triage is None:
            return list(posts), frozenset()
        return fill_languages(posts)

    def scores(self, rule, posts, *, guessed: frozenset[str] = frozenset(),  # type: ignore[no-untyped-def]
               now: datetime | None = None) -> dict[str, Triaged]:
        """Triage per post (by external id), and what each case does by the rule's settings.

        "The same text from N accounts" is counted in one read for the page (store.texts),
        before the page's write transaction like the rest of the scoring."""
        if self._triage is None or not posts:
            return {}
        now = now or self._now()
        keys = {key for p in posts if (key := text_digest(p.text)) is not None}
        with read_scope(self._engine) as session:
            recent = texts.accounts_by_text(session=session, keys=keys, since=now - SAME_TEXT_WINDOW,
                                            at_most=SAME_TEXT_SAMPLE)
        return triage_page(posts, sentiment=self._triage.sentiment, recent_accounts=recent, guessed=guessed, now=now,
                           keywords=tuple(rule.priority_keywords or ()), followers_threshold=rule.priority_followers,
                           routes=rule.routes, channel_id=rule.channel_id, ignore_spam=bool(rule.ignore_spam))

    def store(self, rule, posts, cursor, not_before, now,  # type: ignore[no-untyped-def]
              guessed: frozenset[str] = frozenset(),
              billed: Sequence[BilledReads] = ()) -> tuple[list[int], bool, float]:
        """Store a page (and the rule's cursor with it, when `cursor` is not None: a poll).

        Returns the cases opened, and False when the poll's lease was taken by another worker
        (ours ran out mid-walk): the posts are stored (duplicates are dropped anyway) but the
        cursor is not, since that worker walks on from the one it read; this walk must stop.
        `billed`: what the network charged for the page, counted in the same transaction; its new cost is returned.
        """
        held, cost = True, 0.0
        # Scored before the transaction, so SQLite's write lock is held only while writing and
        # other polls store meanwhile (a post stored already is scored for nothing: rare in a walk).
        scores = self.scores(rule, posts, guessed=guessed, now=now)
        with session_scope(self._engine) as session:
            stored = ingest.store_page(
                session=session, posts=posts, rule_id=rule.id, channel_id=rule.channel_id, now=now,
                own_handles=self._own(), scores=scores,
                incident_window=self._incident_window,
            )
            if billed:
                new = self._meter.record(session=session, network=rule.network, rule_id=rule.id, reads=billed, now=now)
                cost = self._meter.cost(rule.network, new)
            if cursor is not None:
                held = rule_store.renew_lease(session=session, rule_id=rule.id, taken_at=rule.last_polled_at,
                                              now=now, seconds=lease_seconds(rule))
                if held:
                    rule_store.save_cursor(session=session, rule_id=rule.id, cursor=cursor, not_before=not_before,
                                           now=now)
        if stored.follow_up_post_ids:
            log.info("rule %s: %d follow-up(s) joined existing cases", rule.id, len(stored.follow_up_post_ids),
                     extra=about(rule_id=rule.id, network=rule.network))
        self._metrics.opened(rule.network, rule.id, len(stored.new_case_ids))
        return stored.new_case_ids, held, cost

    def store_follow_ups(self, rule, posts, *, billed: Sequence[BilledReads] = ()) -> None:  # type: ignore[no-untyped-def]
        """Posts found in watched conversations (`rule` None: by a stream): they only join cases."""
        for attempt in range(2):
            try:
                with session_scope(self._engine) as session:
                    stored = ingest.store_page(session=session, posts=posts, rule_id=rule.id if rule else None,
                                               channel_id=rule.channel_id if rule else "", now=self._now(),
                                               own_handles=self._own(), follow_ups_only=True)
                    if billed and rule is not None:
                        self._meter.record(session=session, network=rule.network, rule_id=rule.id, reads=billed,
                                           now=self._now())
                break
            except IntegrityError:  # stored by another worker meanwhile: again, skipping it
                if attempt:
                    raise
        if stored.follow_up_post_ids:
            log.info("%s: %d follow-up(s) found in watched conversations", f"rule {rule.id}" if rule else "stream",
                     len(stored.follow_up_post_ids), extra=about(rule_id=rule.id if rule else None))
