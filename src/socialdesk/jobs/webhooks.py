"""Sending queued webhook deliveries: signed POSTs, retried with backoff.

Each run queues new case events (store.webhooks.enqueue_new_events), then leases the
due deliveries and POSTs them. The retry policy:

* 2xx: delivered.
* 410 Gone: failed at once (the receiver says the endpoint is gone for good).
* anything else — 3xx (redirects are not followed), other 4xx, 5xx, timeouts,
  connection errors: tried again after 10 s, 30 s, 2 min, 10 min, 30 min, 1 h, 2 h
  (8 attempts over about 3 h 40 min), then failed. A 400/401/403/404 is retried too:
  it usually means the receiver is being deployed or has the wrong secret, which
  people fix. On 429 and 503 a `Retry-After` (seconds or an HTTP date) is honoured
  when it asks for a longer wait (at most 6 h).
* A test ping is tried once: its outcome is what the person clicking Test sees.

Deliveries to one webhook go out one at a time, oldest first, so a receiver normally sees
a case's events in order; a retried delivery can arrive after later ones (receivers
compare `case.version`). When a receiver looks down, its other due deliveries wait for
the failed one's retry instead of each spending a timeout.

Each attempt is signed afresh (see webhook_signature); the body and the
`X-Socialdesk-Delivery` id stay the same across attempts, so receivers dedupe on the id.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime

import httpx
from sqlalchemy import Engine

from socialdesk.store import webhooks as store
from socialdesk.store.db import session_scope, utcnow
from socialdesk.store.webhook_payloads import PING
from socialdesk.webhook_signature import sign

log = logging.getLogger(__name__)

TIMEOUT_SECONDS = 10.0
BACKOFF_SECONDS = (10, 30, 120, 600, 1800, 3600, 7200)  # after attempts 1 … 7
MAX_ATTEMPTS = len(BACKOFF_SECONDS) + 1
MAX_RETRY_AFTER = timedelta(hours=6)
GONE = 410
RETRY_AFTER_STATUSES = {429, 503}
LEASE = timedelta(seconds=120)  # well past a batch of timed-out attempts: nobody else sends it meanwhile
BATCH = 20
WORKERS = 4
USER_AGENT = "socialdesk-webhooks/1"
KEEP_LOG = timedelta(days=30)  # settled deliveries older than this leave the log
PRUNE_EVERY = 3600.0  # seconds between prunes


@dataclass(frozen=True)
class DeliveryResult:
    delivery_id: int
    webhook_id: int
    kind: str
    attempt: int
    outcome: str  # delivered, retrying, failed
    status_code: int | None
    error: str | None
    retry_at: datetime | None
    elapsed_ms: int

    def describe(self) -> str:
        """One line for a person: what happened and what comes next."""
        answer = f"HTTP {self.status_code}" if self.status_code is not None else "no answer"
        if self.outcome == "delivered":
            return f"delivered ({answer} in {self.elapsed_ms} ms, attempt {self.attempt})"
        why = self.error or answer
        if self.outcome == "retrying":
            return f"not delivered yet: {why}; attempt {self.attempt + 1} at {self.retry_at:%Y-%m-%d %H:%M:%S} UTC"
        return f"failed: {why}"


def headers_for(claimed: store.Claimed, *, timestamp: int) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Socialdesk-Event": claimed.kind,
        "X-Socialdesk-Delivery": str(claimed.delivery_id),
        "X-Socialdesk-Attempt": str(claimed.attempt),
        "X-Socialdesk-Timestamp": str(timestamp),
        "X-Socialdesk-Signature": sign(claimed.secret, timestamp, claimed.body),
    }


def retry_after(response: httpx.Response, now: datetime) -> timedelta | None:
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    if value.isdigit():
        return timedelta(seconds=int(value))
    try:
        return max(parsedate_to_datetime(value) - now, timedelta(0))
    except (TypeError, ValueError):
        return None


def next_attempt(attempt: int, now: datetime, wait_asked: timedelta | None, *, max_attempts: int) -> datetime | None:
    """When to try again after failed attempt number `attempt`; None when it has had its tries."""
    if attempt >= max_attempts:
        return None
    delay = timedelta(seconds=BACKOFF_SECONDS[min(attempt, len(BACKOFF_SECONDS)) - 1])
    if wait_asked is not None:
        delay = max(delay, min(wait_asked, MAX_RETRY_AFTER))
    return now + delay


def receiver_down(status_code: int | None) -> bool:
    """An answer about the receiver as a whole rather than about one delivery."""
    return status_code is None or status_code in (408, 429) or status_code >= 500


def _answer_excerpt(response: httpx.Response) -> str:
    text = " ".join(response.text.split())[:200]
    return f"HTTP {response.status_code}" + (f": {text}" if text else "")


class WebhookSender:
    def __init__(self, *, engine: Engine, http: httpx.Client, clock: Callable[[], datetime] = utcnow,
                 timeout: float = TIMEOUT_SECONDS, batch: int = BATCH, workers: int = WORKERS,
                 time_budget: float = 30.0, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._engine = engine
        self._http = http
        self._now = clock
        self._timeout = timeout
        self._batch = batch
        self._workers = workers
        self._budget = time_budget
        self._monotonic = monotonic
        self._next_prune = 0.0  # monotonic; the first run prunes

    def run_once(self) -> list[DeliveryResult]:
        """Queue new case events, then send what is due; returns this run's attempts."""
        with session_scope(self._engine) as session:
            store.enqueue_new_events(session=session, now=self._now())
        if self._monotonic() >= self._next_prune:
            with session_scope(self._engine) as session:
                store.prune(session=session, before=self._now() - KEEP_LOG)
            self._next_prune = self._monotonic() + PRUNE_EVERY
        results: list[DeliveryResult] = []
        started = self._monotonic()
        while self._monotonic() - started < self._budget:
            with session_scope(self._engine) as session:
                claimed = store.claim_due(session=session, now=self._now(), limit=self._batch, lease=LEASE)
            if not claimed:
                break
            by_webhook: dict[int, list[store.Claimed]] = {}
            for c in claimed:
                by_webhook.setdefault(c.webhook_id, []).append(c)
            with ThreadPoolExecutor(max_workers=min(self._workers, len(by_webhook)), thread_name_prefix="webhook") as pool:
                for sent in pool.map(self._deliver_in_order, by_webhook.values()):
                    results.extend(sent)
            if len(claimed) < self._batch:
                break
        return results

    def _deliver_in_order(self, queue: list[store.Claimed]) -> list[DeliveryResult]:
        """One webhook's deliveries, oldest first (receivers see events in order unless a retry intervenes).

        When the receiver looks down (no answer, 408, 429, 5xx) the rest wait for the failed
        one's retry instead of each costing a timeout now; they keep their order and their tries.
        """
        results: list[DeliveryResult] = []
        started = self._monotonic()
        for i, claimed in enumerate(queue):
            if self._monotonic() - started > LEASE.total_seconds() / 2:  # let the rest go before the lease ends
                self._defer(queue[i:], self._now())
                break
            result = self.deliver(claimed)
            results.append(result)
            if result.outcome != "delivered" and receiver_down(result.status_code):
                self._defer(queue[i + 1:], result.retry_at or self._now() + timedelta(seconds=BACKOFF_SECONDS[0]))
                break
        return results

    def _defer(self, rest: list[store.Claimed], until: datetime) -> None:
        if rest:
            with session_scope(self._engine) as session:
                store.defer(session=session, delivery_ids=[c.delivery_id for c in rest], until=until)

    def send_test(self, webhook_id: int) -> DeliveryResult:
        """Queue a ping for `webhook_id` and send it now (raises store.WebhookNotFound)."""
        now = self._now()
        with session_scope(self._engine) as session:
            delivery = store.enqueue_test(session=session, webhook_id=webhook_id, now=now)
            claimed = store.claim_one(session=session, delivery_id=delivery.id, now=now, lease=LEASE)  # type: ignore[arg-type]
        assert claimed is not None  # just queued in this transaction: nobody else can hold it
        return self.deliver(claimed)

    def deliver(self, claimed: store.Claimed) -> DeliveryResult:
        """One signed POST and its recorded outcome."""
        sent_at = self._now()
        started = time.monotonic()
        status_code: int | None = None
        wait_asked: timedelta | None = None
        try:
            response = self._http.post(claimed.url, content=claimed.body.encode(), timeout=self._timeout,
                                       headers=headers_for(claimed, timestamp=int(sent_at.timestamp())),
                                       follow_redirects=False)
            status_code = response.status_code
            error = None if response.is_success else _answer_excerpt(response)
            if status_code in RETRY_AFTER_STATUSES:
                wait_asked = retry_after(response, sent_at)
        except httpx.TimeoutException:
            error = f"no answer within {self._timeout:g} s"
        except httpx.HTTPError as exc:
            error = f"could not reach the receiver ({type(exc).__name__}: {exc})"
        elapsed_ms = int((time.monotonic() - started) * 1000)
        now = self._now()
        delivered = status_code is not None and 200 <= status_code < 300
        max_attempts = 1 if claimed.kind == PING else MAX_ATTEMPTS
        retry_at = None
        if not delivered and status_code != GONE:
            retry_at = next_attempt(claimed.attempt, now, wait_asked, max_attempts=max_attempts)
        with session_scope(self._engine) as session:
            recorded = store.record_attempt(session=session, claimed=claimed, now=now, status_code=status_code,
                                            error=error, delivered=delivered, retry_at=retry_at)
        outcome = "delivered" if delivered else ("retrying" if retry_at else "failed")
        result = DeliveryResult(delivery_id=claimed.delivery_id, webhook_id=claimed.webhook_id, kind=claimed.kind,
                                attempt=claimed.attempt, outcome=outcome, status_code=status_code, error=error,
                                retry_at=retry_at, elapsed_ms=elapsed_ms)
        where = store.display_url(claimed.url)  # never the full URL: its path or query may hold a token
        if not recorded:
            log.warning("webhook %s delivery %s: attempt %s was recorded elsewhere (lease ran out?)",
                        claimed.webhook_id, claimed.delivery_id, claimed.attempt)
        elif delivered:
            log.info("webhook %s delivery %s (%s) to %s: %s", claimed.webhook_id, claimed.delivery_id, claimed.kind,
                     where, result.describe())
        else:
            log.warning("webhook %s delivery %s (%s) to %s: %s", claimed.webhook_id, claimed.delivery_id,
                        claimed.kind, where, result.describe())
        return result


def send_test_ping(*, engine: Engine, clock: Callable[[], datetime], webhook_id: int,
                   http: httpx.Client | None = None) -> DeliveryResult:
    """The Test button and `webhooks test`: a ping sent now (with a client of its own if none is given)."""
    if http is not None:
        return WebhookSender(engine=engine, http=http, clock=clock).send_test(webhook_id)
    with httpx.Client(headers={"User-Agent": USER_AGENT}) as own:
        return WebhookSender(engine=engine, http=own, clock=clock).send_test(webhook_id)
