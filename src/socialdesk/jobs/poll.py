"""Polling one saved search: fetch pages, store them, advance the cursor.

The poller owns backoff, rate-limit waits and cursors (sources only fetch).
Each page is stored together with the cursor that follows it, in one transaction,
so a crash at any point repeats at most one page, and duplicates are dropped (jobs/poll_pages.py).

After a rule is caught up, the conversations of its recent cases are searched for
follow-ups (a customer's answer rarely repeats the rule's keywords). Where each
search starts comes from the posts stored, so nothing is lost across restarts.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from socialdesk.domain import Post
from socialdesk.jobs.conversation_watch import ConversationWatch
from socialdesk.jobs.poll_leases import LeaseKeeper, backoff, carried, lease_seconds
from socialdesk.jobs.poll_pages import PageStore
from socialdesk.logs import about, redact
from socialdesk.matcher import QueryInvalid, parse, target_of
from socialdesk.metrics import Metrics
from socialdesk.networks.base import (
    BilledReads,
    CursorExpired,
    Network,
    RateLimited,
    SourceError,
    SourceRejected,
    SourceUnavailable,
)
from socialdesk.rules import Filters, rejection
from socialdesk.spend import Meter
from socialdesk.store import rules as rule_store
from socialdesk.store import streams as stream_store
from socialdesk.store.db import as_utc, read_scope, session_scope
from socialdesk.triage.sentiment import Triage
from socialdesk.triage.triaged import Triaged

log = logging.getLogger(__name__)

MAX_PAGES_PER_POLL = 10
GAP_PAGES_FACTOR = 10  # filling a stream's gap may read this many times more pages in one go
REJECTED_RETRY = timedelta(minutes=5)


def compile_local(query: str):  # type: ignore[no-untyped-def]
    """The rule's query for local matching; SourceRejected when it cannot be read."""
    try:
        return parse(query)
    except QueryInvalid as exc:
        raise SourceRejected(f"the rule's query cannot be read: {exc}; edit or remove the rule") from None


class Poller:
    def __init__(
        self,
        *,
        engine: Engine,
        networks: Mapping[str, Network],
        own_handles: frozenset[str],
        clock: Callable[[], datetime],
        on_new_cases: Callable[[list[int]], None] = lambda ids: None,
        follow_conversations: bool = False,
        triage: Triage | None = None,
        incident_window: timedelta | None = None,
        meter: Meter | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self._engine = engine
        # What each page was billed for is counted with the page (store.spend); its budgets pause rules.
        self._meter = meter if meter is not None else Meter(networks)
        self._budget_paused: set[int] = set()  # rules noted (logged) as paused by budget
        self._metrics = metrics or Metrics()  # posts fetched and matched, cases opened, errors, rate-limit waits
        self._networks = networks
        self._own_configured = own_handles
        self._now = clock
        self._on_new_cases = on_new_cases
        self._follow = follow_conversations
        # Languages, triage and the page's transaction (with its bill and cursor); `_own` read at each store.
        self._pages = PageStore(engine=engine, clock=clock, own=lambda: self._own, meter=self._meter,
                                metrics=self._metrics, triage=triage, incident_window=incident_window)
        self._conversations = ConversationWatch(engine=engine, clock=clock, store=self._pages.store_follow_ups)
        # (rule id, exception type) whose traceback was logged: the next ones are logged quietly.
        self._reported: set[tuple[int, str]] = set()
        self._reported_lock = threading.Lock()
        # Rule id -> whether this replica holds its poll lease now (rules it has walked; read by the metrics).
        self._leases: dict[int, bool] = {}

    def leases(self) -> dict[int, bool]:
        """The rules this replica has polled, and whether it holds each one's lease right now (a walk runs)."""
        return dict(self._leases)

    @property
    def _own(self) -> frozenset[str]:
        """Our configured handles and the accounts replies go out as."""
        signed_in = {h.lower() for n in self._networks.values() if (h := n.brand_handle())}
        return self._own_configured | signed_in

    def _languages(self, posts) -> tuple[list[Post], frozenset[str]]:  # type: ignore[no-untyped-def]
        return self._pages.languages(posts)  # kept on the poller: bench/ingest.py times it

    def _scores(self, rule, posts, *, guessed: frozenset[str] = frozenset(),  # type: ignore[no-untyped-def]
                now: datetime | None = None) -> dict[str, Triaged]:
        return self._pages.scores(rule, posts, guessed=guessed, now=now)  # as _languages

    def poll_rule(self, rule_id: int) -> int:
        """Poll one rule if it is due and free; returns how many cases it opened. Never raises.

        A rule the live stream of its network carries (`carried`) is polled only when new (its
        newest page): the stream brings its posts, and `fill_gap` what the stream missed.
        """
        opened: list[int] = []
        try:
            self._poll_rule(rule_id, opened)
        except Exception as exc:  # noqa: BLE001 - e.g. the database is away: the next run tries again
            self._log_unexpected(rule_id, exc, "polling failed before or after the walk")
        return len(opened)

    def _poll_rule(self, rule_id: int, opened: list[int]) -> None:
        now = self._now()
        with session_scope(self._engine) as session:
            try:
                rule = rule_store.get_rule(session=session, rule_id=rule_id)
            except rule_store.RuleNotFound:
                return  # removed since the scheduler last looked
            network = self._networks.get(rule.network)
            leased = rule.lease_until is not None and rule.lease_until > now
            # (Not while another worker's walk holds the lease: last_polled_at is that lease's token.)
            if self._meter.is_paused(session=session, rule=rule, now=now):
                self._note_budget(rule_id, rule.network, paused=True)
                rule_store.note_budget_pause(session=session, rule_id=rule_id, now=now)  # "behind" counts from here
                if not leased:
                    rule_store.skip_poll(session=session, rule_id=rule_id, now=now)
                return
            self._note_budget(rule_id, rule.network, paused=False)
            streamed = network is not None and carried(network, rule)
            if rule.cursor is not None and streamed and not leased \
                    and stream_store.is_live(session=session, network=rule.network, now=now):
                rule_store.skip_poll(session=session, rule_id=rule_id, now=now)
                return
            # Half the interval: a second replica's timer firing just after ours skips.
            rule = rule_store.take_lease(session=session, rule_id=rule_id, now=now, seconds=lease_seconds(rule),
                                         min_gap=rule.every_seconds / 2)
        if rule is None:
            return
        if not streamed:  # a stream's rule is read by the stream between polls: its gaps are the stream worker's
            self._note_gap(rule, network, now)
        self._leased_walk(rule, opened, pages=MAX_PAGES_PER_POLL)

    def _note_gap(self, rule, network: Network | None, now: datetime) -> None:  # type: ignore[no-untyped-def]
        """A walk resuming after longer than the network's search reaches back: what came before is lost; record it."""
        limit = network.gap_limit if network is not None else None
        # Not from before an admin's resume: what the pause cost was said to them then (health.resume_notice).
        # (A budget's pause is reported as a gap: nobody chose to miss those posts.)
        last = (max(as_utc(rule.last_success_at), as_utc(rule.resumed_at or rule.last_success_at))
                if rule.last_success_at else None)
        if limit is None or last is None or rule.cursor is None or now - last <= limit:
            return
        with session_scope(self._engine) as session:
            rule_store.record_gap(session=session, rule_id=rule.id, start=last, end=now - limit, now=now)
        log.warning("rule %s: last polled %s, longer ago than %s search reaches back (%s): posts before %s cannot "
                    "be read", rule.id, last.isoformat(timespec="minutes"), network.info.label, limit,  # type: ignore[union-attr]
                    (now - limit).isoformat(timespec="minutes"), extra=about(rule_id=rule.id, network=rule.network))

    def _note_budget(self, rule_id: int, network: str, *, paused: bool) -> None:
        """Log when a rule is paused by its budget and when it runs again (once each, not every poll)."""
        with self._reported_lock:
            if paused == (rule_id in self._budget_paused):
                return
            (self._budget_paused.add if paused else self._budget_paused.discard)(rule_id)
        if paused:
            log.warning("rule %s: paused by budget (this month's billed reads reached it); it polls again when the "
                        "month turns or the budget is raised (`socialdesk usage`)", rule_id,
                        extra=about(rule_id=rule_id, network=network))
        else:
            log.info("rule %s: within budget again; polling", rule_id, extra=about(rule_id=rule_id, network=network))

    def paused_by_budget(self, rule_ids: Sequence[int]) -> set[int]:
        """Of these rules, those their budget pauses now (the stream worker leaves them too)."""
        with read_scope(self._engine) as session:
            return self._meter.paused_by_budget(session=session, now=self._now()) & set(rule_ids)

    def bill(self, network: str, rule_id: int | None, billed: Sequence[BilledReads]) -> None:
        """Count what a stream event was billed for (the network charged it when it was sent, stored or not)."""
        if billed and self._meter.bills(network):
            with session_scope(self._engine) as session:
                self._meter.record(session=session, network=network, rule_id=rule_id, reads=billed, now=self._now())

    def fill_gap(self, rule_id: int, *, start: dict[str, Any] | None) -> bool:
        """Search what a stream missed for one rule: from `start` (a cursor; None: go on with
        the walk a previous call left), under the rule's lease. True once the walk is done."""
        now = self._now()
        with session_scope(self._engine) as session:
            try:
                seconds = lease_seconds(rule_store.get_rule(session=session, rule_id=rule_id))
            except rule_store.RuleNotFound:
                return False
            rule = rule_store.take_lease(session=session, rule_id=rule_id, now=now, seconds=seconds, min_gap=0)
            if rule is not None and start is not None:
                rule_store.reset_cursor_walk(session=session, rule_id=rule_id, cursor=start)
                rule.cursor = start
        if rule is None:
            return False  # held back (rate limit), being polled elsewhere, or removed: try again later
        return self._leased_walk(rule, [], pages=MAX_PAGES_PER_POLL * GAP_PAGES_FACTOR)

    def _leased_walk(self, rule, opened: list[int], *, pages: int) -> bool:  # type: ignore[no-untyped-def]
        """Walk, record a failure, release the lease; True when the walk caught up.

        A source's failure is recorded on the rule and backed off; so is anything
        unexpected (a body of the wrong shape, a bug): it is treated like SourceUnavailable,
        and its traceback is logged the first time only.
        """
        self._leases[rule.id] = True
        try:
            with LeaseKeeper(self._engine, rule, clock=self._now):
                return self._walk(rule, opened, pages=pages)
        except SourceError as exc:
            self._metrics.network_error(rule.network, exc)
            if isinstance(exc, RateLimited):
                self._metrics.rate_limit_wait(rule.network, (exc.reset_at - self._now()).total_seconds())
            self._failed(rule.id, rule.consecutive_failures, exc)  # type: ignore[arg-type]
            return False
        except Exception as exc:  # noqa: BLE001 - nothing a source does may stop the poll job
            self._metrics.network_error(rule.network, exc)
            self._failed(rule.id, rule.consecutive_failures, SourceUnavailable(_short(exc)), cause=exc)
            return False
        finally:
            self._leases[rule.id] = False
            with session_scope(self._engine) as session:
                rule_store.release_lease(session=session, rule_id=rule.id, taken_at=rule.last_polled_at)

    def _walk(self, rule, opened: list[int], *, pages: int) -> bool:  # type: ignore[no-untyped-def]
        """Fetch and store pages; appends each new case id to `opened` as it is stored.

        True when the source is caught up (its last page said done, with quota left)."""
        network = self._networks.get(rule.network)
        if network is None:
            raise SourceRejected(f"this socialdesk does not know the network {rule.network!r}; remove the rule")
        source = network.sources.get(rule.kind)
        if source is None:
            raise SourceRejected(network.missing(rule.kind))
        filters = self.filters(rule)
        # Where the network's rules are in socialdesk's language, search results are matched
        # again as the stream matches them: a card means the same whichever way the post came.
        # A mentions rule's query names an account, not words: what it reads is what it asked for.
        local = compile_local(rule.query) if network.info.local_match and rule.kind == "search" else None
        cursor = rule.cursor
        # The budget is checked before every page, not only before the walk: a walk (a gap's above all) may read
        # many pages. What the meter records per page is added up; another replica's spend meanwhile is not seen.
        headroom = None
        if self._meter.budgeted(rule):  # (no read, nor clock reading, where no budget applies)
            with read_scope(self._engine) as session:
                headroom = self._meter.headroom(session=session, rule=rule, now=self._now())
        page = None
        for _ in range(pages):
            if headroom is not None and headroom <= 1e-9:
                self._note_budget(rule.id, rule.network, paused=True)
                return False  # the cursor after the last page stored is saved: the walk goes on from there
            page = source.fetch(rule.query, cursor)
            posts, guessed = self._languages(page.posts)
            accepted = [p for p in posts if rejection(p, filters) is None
                        and (local is None or local.matches(target_of(p)))]
            now = self._now()
            self._metrics.fetched(rule.network, rule.id, len(page.posts), via="poll")
            self._metrics.matched(rule.network, rule.id, len(accepted), via="poll")
            if page.not_before is not None and page.not_before > now:  # the quota is spent: the next page waits
                self._metrics.rate_limit_wait(rule.network, (page.not_before - now).total_seconds())
            try:
                case_ids, held, cost = self._pages.store(rule, accepted, page.cursor, page.not_before, now, guessed,
                                                         billed=page.billed)
            except IntegrityError:
                # Another worker stored one of these posts a moment ago: store again, skipping it.
                case_ids, held, cost = self._pages.store(rule, accepted, page.cursor, page.not_before, now, guessed,
                                                         billed=page.billed)
            if headroom is not None:
                headroom -= cost
            opened += case_ids
            if case_ids:
                self._on_new_cases(case_ids)
            if rule.consecutive_failures:
                log.info("rule %s: polling %s recovered", rule.id, network.info.label,
                         extra=about(rule_id=rule.id, network=rule.network))
                rule.consecutive_failures = 0
                with self._reported_lock:
                    self._reported = {k for k in self._reported if k[0] != rule.id}
            for warning in page.warnings:
                log.warning("rule %s: %s returned a partial error: %s", rule.id, network.info.label, warning,
                            extra=about(rule_id=rule.id, network=rule.network))
            if not held:
                log.warning("rule %s: this walk outlived its lease and another worker took the rule; "
                            "leaving the walk to it", rule.id, extra=about(rule_id=rule.id, network=rule.network))
                return False
            cursor = page.cursor
            if page.done or page.not_before:
                break
        caught_up = page is not None and page.done and not page.not_before
        if caught_up and self._follow and (headroom is None or headroom > 1e-9):  # their pages bill the rule too
            self._conversations.follow(rule, network)
        return caught_up

    def filters(self, rule) -> Filters:  # type: ignore[no-untyped-def]
        return Filters(lang=rule.lang, include_reposts=rule.include_reposts, own_handles=self._own)

    def store_matches(self, rule, posts) -> list[int]:  # type: ignore[no-untyped-def]
        """Store posts a stream matched to `rule` (filters applied here); returns the cases opened."""
        filters = self.filters(rule)
        posts, guessed = self._languages(posts)
        accepted = [p for p in posts if rejection(p, filters) is None]
        self._metrics.matched(rule.network, rule.id, len(accepted), via="stream")
        if not accepted:
            return []
        try:
            case_ids, _, _ = self._pages.store(rule, accepted, None, None, self._now(), guessed)
        except IntegrityError:  # stored by another worker meanwhile: again, skipping it
            case_ids, _, _ = self._pages.store(rule, accepted, None, None, self._now(), guessed)
        if case_ids:
            self._on_new_cases(case_ids)
        return case_ids

    def store_follow_ups(self, posts) -> None:  # type: ignore[no-untyped-def]
        """Posts a stream saw in watched conversations: they only join cases (never open one)."""
        self._pages.store_follow_ups(None, posts)

    def _failed(self, rule_id: int, failures_before: int, exc: SourceError, *,
                cause: BaseException | None = None) -> None:
        """Record the failure on the rule and when to try again; `cause`: the unexpected exception behind `exc`."""
        now = self._now()
        with session_scope(self._engine) as session:
            if isinstance(exc, CursorExpired):
                rule_store.reset_cursor_walk(session=session, rule_id=rule_id, cursor=exc.restart)
                log.warning("rule %s: %s; restarting the walk from the last seen post", rule_id, exc,
                            extra=about(rule_id=rule_id))
                return
            if isinstance(exc, RateLimited):
                not_before, kind = exc.reset_at, rule_store.RATE_LIMITED
            elif isinstance(exc, SourceUnavailable):
                not_before, kind = now + backoff(failures_before + 1), rule_store.UNAVAILABLE
            else:
                not_before, kind = now + REJECTED_RETRY, rule_store.REJECTED
            failures = rule_store.record_failure(
                session=session, rule_id=rule_id, error=str(exc), not_before=not_before, now=now, kind=kind
            )
        if cause is not None:
            self._log_unexpected(rule_id, cause, f"polling failed ({exc}); next try at {not_before.isoformat()}")
            return
        # Log the first failure loudly and the rest quietly, like an update coordinator.
        level = logging.WARNING if failures == 1 else logging.DEBUG
        log.log(level, "rule %s: polling failed (%s); next try at %s", rule_id, exc, not_before.isoformat(),
                extra=about(rule_id=rule_id))

    def _log_unexpected(self, rule_id: int, exc: BaseException, message: str) -> None:
        """With its traceback the first time this kind of exception hits this rule, quietly after that."""
        key = (rule_id, f"{type(exc).__module__}.{type(exc).__qualname__}")
        with self._reported_lock:
            first = key not in self._reported
            self._reported.add(key)
        if first:
            log.error("rule %s: %s", rule_id, message, exc_info=exc, extra=about(rule_id=rule_id))
        else:
            log.debug("rule %s: %s", rule_id, message, extra=about(rule_id=rule_id))


def _short(exc: BaseException) -> str:
    """A line for the rule's last_error (shown in Slack and `rules list`): the type and the start of the message."""
    text = " ".join(str(exc).split())
    if len(text) > 160:
        text = text[:159] + "…"
    return redact(f"unexpected {type(exc).__name__}" + (f": {text}" if text else "") + "; see the log")
