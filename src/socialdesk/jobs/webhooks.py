"""Sending queued webhook deliveries: signed POSTs, retried with backoff.

Each run queues new case events (store.webhook_deliveries.enqueue_new_events), then
leases the due deliveries and POSTs them. The retry policy:

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

Before each attempt the URL's host is resolved and every address it resolves to is
checked (store.webhooks.check_address: public addresses only, loopback only when allowed);
the POST then goes to a checked address itself, with the Host header and TLS server name
(SNI, and the certificate check) of the URL, so DNS cannot point it elsewhere between the
check and the connection. A refused address is an attempt that failed, with the reason in
the log, retried like any other. The connection is closed after each POST: a pooled
connection, made for one host's name, is never reused for another name at the same address.
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

from socialdesk.jobs.every import HOURLY, Every
from socialdesk.store import webhook_deliveries as outbox
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


def headers_for(claimed: outbox.Claimed, *, timestamp: int) -> dict[str, str]:
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


class Unresolved(Exception):
    """The URL's host did not resolve (or not in time); the message says so."""


def checked_addresses(url: str, *, allow_loopback: bool, resolve: store.Resolver, timeout: float) -> list[str]:
    """The addresses the URL's host resolves to, every one checked (raises WebhookInvalid or Unresolved)."""
    parts = store.check_url_form(url)
    host = parts.hostname or ""
    literal = store.literal_address(host)
    if literal is not None:
        store.check_address(host, str(literal), allow_loopback=allow_loopback)
        return [str(literal)]
    name = httpx.URL(url).raw_host.decode("ascii")  # IDN as punycode
    try:
        addresses = store.resolve_within(resolve, name, store.default_port(parts), timeout=timeout)
    except OSError as exc:
        raise Unresolved(f"could not resolve {host} ({exc.strerror or exc})") from None
    for address in addresses:
        store.check_address(host, address, allow_loopback=allow_loopback)
    return addresses


def _answer_excerpt(response: httpx.Response) -> str:
    text = " ".join(response.text.split())[:200]
    return f"HTTP {response.status_code}" + (f": {text}" if text else "")


class WebhookSender:
    def __init__(self, *, engine: Engine, http: httpx.Client, clock: Callable[[], datetime] = utcnow,
                 timeout: float = TIMEOUT_SECONDS, batch: int = BATCH, workers: int = WORKERS,
                 time_budget: float = 30.0, monotonic: Callable[[], float] = time.monotonic,
                 allow_loopback: bool = False, resolve: store.Resolver = store.system_resolve) -> None:
        """`allow_loopback`: Settings.webhooks_allow_loopback (receivers on this machine: tests, the demo)."""
        self._engine = engine
        self._allow_loopback = allow_loopback
        self._resolve = resolve
        self._http = http
        self._now = clock
        self._timeout = timeout
        self._batch = batch
        self._workers = workers
        self._budget = time_budget
        self._monotonic = monotonic
        self._pruning = Every(HOURLY, clock=monotonic)  # the first run prunes

    def _prune(self) -> None:
        with session_scope(self._engine) as session:
            outbox.prune(session=session, before=self._now() - KEEP_LOG)

    def run_once(self) -> list[DeliveryResult]:
        """Queue new case events, then send what is due; returns this run's attempts."""
        with session_scope(self._engine) as session:
            outbox.enqueue_new_events(session=session, now=self._now())
        self._pruning.run(self._prune)
        results: list[DeliveryResult] = []
        started = self._monotonic()
        while self._monotonic() - started < self._budget:
            with session_scope(self._engine) as session:
                claimed = outbox.claim_due(session=session, now=self._now(), limit=self._batch, lease=LEASE)
            if not claimed:
                break
            by_webhook: dict[int, list[outbox.Claimed]] = {}
            for c in claimed:
                by_webhook.setdefault(c.webhook_id, []).append(c)
            with ThreadPoolExecutor(max_workers=min(self._workers, len(by_webhook)), thread_name_prefix="webhook") as pool:
                for sent in pool.map(self._deliver_in_order, by_webhook.values()):
                    results.extend(sent)
            if len(claimed) < self._batch:
                break
        return results

    def _deliver_in_order(self, queue: list[outbox.Claimed]) -> list[DeliveryResult]:
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

    def _defer(self, rest: list[outbox.Claimed], until: datetime) -> None:
        if rest:
            with session_scope(self._engine) as session:
                outbox.defer(session=session, delivery_ids=[c.delivery_id for c in rest], until=until)

    def send_test(self, webhook_id: int) -> DeliveryResult:
        """Queue a ping for `webhook_id` and send it now (raises store.WebhookNotFound)."""
        now = self._now()
        with session_scope(self._engine) as session:
            delivery = outbox.enqueue_test(session=session, webhook_id=webhook_id, now=now)
            claimed = outbox.claim_one(session=session, delivery_id=delivery.id, now=now, lease=LEASE)  # type: ignore[arg-type]
        assert claimed is not None  # just queued in this transaction: nobody else can hold it
        return self.deliver(claimed)

    def _post(self, claimed: outbox.Claimed, headers: dict[str, str]) -> httpx.Response:
        """POST to an address the URL's host resolved to and that passed the check, trying the next on ConnectError."""
        addresses = checked_addresses(claimed.url, allow_loopback=self._allow_loopback, resolve=self._resolve,
                                      timeout=self._timeout)
        url = httpx.URL(claimed.url)
        is_name = store.literal_address(url.host) is None
        extensions = {"sni_hostname": url.raw_host.decode("ascii")} if is_name and url.scheme == "https" else {}
        headers = {**headers, "Host": url.netloc.decode("ascii"), "Connection": "close"}
        for i, address in enumerate(addresses):
            try:
                return self._http.post(url.copy_with(host=address), content=claimed.body.encode(),
                                       timeout=self._timeout, headers=headers, extensions=extensions,
                                       follow_redirects=False)
            except httpx.ConnectError:
                if i == len(addresses) - 1:
                    raise
        raise AssertionError("unreachable: checked_addresses returns at least one address")

    def deliver(self, claimed: outbox.Claimed) -> DeliveryResult:
        """One signed POST and its recorded outcome."""
        sent_at = self._now()
        started = time.monotonic()
        status_code: int | None = None
        wait_asked: timedelta | None = None
        try:
            response = self._post(claimed, headers_for(claimed, timestamp=int(sent_at.timestamp())))
            status_code = response.status_code
            error = None if response.is_success else _answer_excerpt(response)
            if status_code in RETRY_AFTER_STATUSES:
                wait_asked = retry_after(response, sent_at)
        except httpx.TimeoutException:
            error = f"no answer within {self._timeout:g} s"
        except httpx.HTTPError as exc:
            error = f"could not reach the receiver ({type(exc).__name__}: {exc})"
        except store.WebhookInvalid as exc:  # nothing was sent
            error = f"not sent: {exc}"
        except Unresolved as exc:
            error = str(exc)
        elapsed_ms = int((time.monotonic() - started) * 1000)
        now = self._now()
        delivered = status_code is not None and 200 <= status_code < 300
        max_attempts = 1 if claimed.kind == PING else MAX_ATTEMPTS
        retry_at = None
        if not delivered and status_code != GONE:
            retry_at = next_attempt(claimed.attempt, now, wait_asked, max_attempts=max_attempts)
        with session_scope(self._engine) as session:
            recorded = outbox.record_attempt(session=session, claimed=claimed, now=now, status_code=status_code,
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
                   http: httpx.Client | None = None, allow_loopback: bool = False,
                   resolve: store.Resolver = store.system_resolve) -> DeliveryResult:
    """The Test button and `webhooks test`: a ping sent now (with a client of its own if none is given)."""
    if http is not None:
        return WebhookSender(engine=engine, http=http, clock=clock, allow_loopback=allow_loopback,
                             resolve=resolve).send_test(webhook_id)
    with httpx.Client(headers={"User-Agent": USER_AGENT}) as own:
        return WebhookSender(engine=engine, http=own, clock=clock, allow_loopback=allow_loopback,
                             resolve=resolve).send_test(webhook_id)
