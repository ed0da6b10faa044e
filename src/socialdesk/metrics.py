"""What the app counts for Prometheus: one `Metrics` per app, with its own registry.

`app.build` makes the one `Metrics` and hands it to whoever records: the poller and the
stream worker (posts fetched and matched, cases opened, network errors, rate-limit waits),
the publisher (publish latency), the Slack client (errors by method and code, rate-limit
waits: `SlackCallMeter` and `MeteredRateLimitHandler` are retry handlers, which slack_sdk
runs on every response, and Bolt copies to the clients it makes per request) and the
request paths (ack latency). What is a state rather than an event (poll lag, cards
waiting, stream lag, who holds which lease) is read when Prometheus scrapes
(`gauge_at_scrape`), so it is never stale and costs nothing between scrapes.

No default REGISTRY: two apps in one process (tests, the sandbox) count apart. The
series are listed in README.md ("Metrics").

Labels stay bounded: networks and rule ids are the deployment's own, Slack's methods
and error codes are finite; an error's message is never a label (it is in the log).
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any, Protocol

from prometheus_client import CollectorRegistry, Counter, Histogram, make_wsgi_app
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.http_retry.handler import RetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from sqlalchemy import Engine

from socialdesk.networks.base import CursorExpired, RateLimited, SourceRejected, SourceUnavailable
from socialdesk.store import cases as case_store
from socialdesk.store import rules as rule_store
from socialdesk.store.db import as_utc, read_scope

log = logging.getLogger(__name__)

SLACK = "slack"  # the `service` of Slack's rate-limit waits (a network's are its name)
# Slack wants an answer within 3 s: the buckets are finest below that.
ACK_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0)
# A streamed post's card comes within a second; a polled one within its interval; a backlog in minutes.
PUBLISH_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0)
_METHOD = re.compile(r"[A-Za-z][A-Za-z0-9_.]{0,63}")
_CODE = re.compile(r"[A-Za-z0-9_]{1,64}")

Rows = Iterable[tuple[Sequence[str], float]]


class Metrics:
    """Counters and histograms the app records into, and the collectors read at scrape time."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self._fetched = Counter("socialdesk_posts_fetched", "Posts a source returned: a poll's pages per rule "
                                "(via=poll), a stream's posts for the whole network (via=stream, rule=\"\")",
                                ["network", "rule", "via"], registry=r)
        self._matched = Counter("socialdesk_posts_matched", "Posts that matched a rule (its query and filters) "
                                "and were stored", ["network", "rule", "via"], registry=r)
        self._opened = Counter("socialdesk_cases_opened", "Cases opened", ["network", "rule"], registry=r)
        self._publish = Histogram("socialdesk_publish_latency_seconds", "From a case's opening to its card "
                                  "posted in Slack", registry=r, buckets=PUBLISH_BUCKETS)
        self._ack = Histogram("socialdesk_ack_seconds", "From Slack's request in to the answer out "
                              "(mode=http: /slack/events; mode=socket: a Socket Mode envelope)", ["mode"],
                              registry=r, buckets=ACK_BUCKETS)
        self._slack_errors = Counter("socialdesk_slack_errors", "Slack Web API calls that failed, by method and "
                                     "Slack's error code (http_<status> without one, the exception's type when "
                                     "Slack was not reached)", ["method", "error"], registry=r)
        self._network_errors = Counter("socialdesk_network_errors", "Polls and stream connections that failed, "
                                       "by network, kind (rate_limited, unavailable, rejected, cursor_expired, "
                                       "unexpected) and HTTP status where there was one",
                                       ["network", "kind", "status"], registry=r)
        self._skipped = Counter("socialdesk_stream_events_skipped", "Stream events the worker could not handle "
                                "and skipped (a malformed post, or a bug it met), by network and the error's type",
                                ["network", "error"], registry=r)
        self._waits = Counter("socialdesk_rate_limit_waits", "Times a rate limit made the app wait "
                              "(service: slack or the network)", ["service"], registry=r)
        self._waited = Counter("socialdesk_rate_limit_wait_seconds", "Seconds the app was told to wait by rate "
                               "limits", ["service"], registry=r)
        self._billed_reads = Counter("socialdesk_network_billed_reads", "Reads a network bills, by rule and "
                                     "kind of read", ["network", "rule", "kind"], registry=r)
        self._billed_cost = Counter("socialdesk_network_billed_cost_dollars", "What those reads cost, in US "
                                    "dollars at the configured rates", ["network", "rule", "kind"], registry=r)

    # --- events ----------------------------------------------------------------------

    def fetched(self, network: str, rule_id: int | None, count: int, *, via: str) -> None:
        if count:
            self._fetched.labels(network, _rule(rule_id), via).inc(count)

    def matched(self, network: str, rule_id: int | None, count: int, *, via: str) -> None:
        if count:
            self._matched.labels(network, _rule(rule_id), via).inc(count)

    def opened(self, network: str, rule_id: int | None, count: int) -> None:
        if count:
            self._opened.labels(network, _rule(rule_id)).inc(count)

    def published(self, seconds: float) -> None:
        self._publish.observe(max(seconds, 0.0))

    def acked(self, mode: str, seconds: float) -> None:
        self._ack.labels(mode).observe(seconds)

    def slack_error(self, method: str, error: str) -> None:
        self._slack_errors.labels(method if _METHOD.fullmatch(method) else "other",
                                  error if _CODE.fullmatch(error) else "other").inc()

    def network_error(self, network: str, error: BaseException) -> None:
        """A poll or a stream connection failed with `error` (a SourceError, or anything unexpected)."""
        status = getattr(error, "status", None)
        self._network_errors.labels(network, error_kind(error), str(status) if isinstance(status, int) else "").inc()

    def stream_event_skipped(self, network: str, error: BaseException) -> None:
        name = type(error).__name__
        self._skipped.labels(network, name if _CODE.fullmatch(name) else "other").inc()

    def rate_limit_wait(self, service: str, seconds: float) -> None:
        self._waits.labels(service).inc()
        self._waited.labels(service).inc(max(seconds, 0.0))

    def billed(self, network: str, rule_id: int | None, kind: str, reads: int, cost: float) -> None:
        """Reads a network bills (the spend meter's, after its de-duplication) and their cost in dollars."""
        labels = (network, _rule(rule_id), kind)
        if reads:
            self._billed_reads.labels(*labels).inc(reads)
        if cost:
            self._billed_cost.labels(*labels).inc(cost)

    # --- states, read when scraped ----------------------------------------------------------

    def gauge_at_scrape(self, name: str, documentation: str, labels: Sequence[str], read: Callable[[], Rows]) -> None:
        """A gauge whose samples `read()` gives at each scrape, as (label values, value) pairs.

        A `read` that fails (the database is away) gives no samples and a log line: the
        scrape still answers with everything else."""
        self.registry.register(_ReadAtScrape(name, documentation, labels, read))

    # --- serving -------------------------------------------------------------------------

    def wsgi(self) -> Callable[..., Iterable[bytes]]:
        """A WSGI app answering with the registry in Prometheus' text format."""
        return make_wsgi_app(self.registry)

    def serve(self, host: str, port: int) -> MetricsServer:
        """Serve /metrics on a port of its own (Socket Mode has no HTTP port); stop with `close()`."""
        from prometheus_client.exposition import start_wsgi_server

        server, thread = start_wsgi_server(port, addr=host, registry=self.registry)
        log.info("metrics on http://%s:%s/metrics", host, server.server_port)
        return MetricsServer(server, thread)


class MetricsServer:
    def __init__(self, server: Any, thread: Any) -> None:
        self._server, self._thread = server, thread

    @property
    def port(self) -> int:
        return int(self._server.server_port)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


class _ReadAtScrape(Collector):
    def __init__(self, name: str, documentation: str, labels: Sequence[str], read: Callable[[], Rows]) -> None:
        self._name, self._doc, self._labels, self._read = name, documentation, list(labels), read

    def describe(self) -> list[GaugeMetricFamily]:
        return [GaugeMetricFamily(self._name, self._doc, labels=self._labels)]  # registering reads nothing

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(self._name, self._doc, labels=self._labels)
        try:
            for values, value in self._read():
                family.add_metric([str(v) for v in values], value)
        except Exception as exc:  # noqa: BLE001 - one state unreadable must not fail the scrape
            log.warning("metrics: %s not read for this scrape (%s); the next scrape tries again",
                        self._name, type(exc).__name__)
        yield family


def error_kind(error: BaseException) -> str:
    """The `kind` label of a network error: which of the documented source errors it is."""
    for kind, cls in (("rate_limited", RateLimited), ("cursor_expired", CursorExpired), ("rejected", SourceRejected),
                      ("unavailable", SourceUnavailable)):
        if isinstance(error, cls):
            return kind
    return "unexpected"


def _rule(rule_id: int | None) -> str:
    return "" if rule_id is None else str(rule_id)


# --- Slack's Web API client ----------------------------------------------------------------


class SlackCallMeter(RetryHandler):
    """Counts every failed Slack call by method and error code; never retries anything itself.

    slack_sdk asks each retry handler about every response (a 200 too, with its parsed
    body) and every connection error, so one placed first sees them all; it answers no,
    and the real handlers after it decide. `can_retry` is overridden, not `_can_retry`:
    the base class stops asking once the retry count is reached.
    """

    def __init__(self, metrics: Metrics) -> None:
        super().__init__(max_retry_count=0)
        self._metrics = metrics

    def can_retry(self, *, state: RetryState, request: HttpRequest, response: HttpResponse | None = None,
                  error: Exception | None = None) -> bool:
        try:
            code = _slack_error(response, error)
            if code is not None:
                self._metrics.slack_error(_method(request.url), code)
        except Exception:  # noqa: BLE001 - counting must never break a Slack call
            log.debug("metrics: could not read a Slack response", exc_info=True)
        return False

    def _can_retry(self, **_kwargs: Any) -> bool:  # pragma: no cover - can_retry is the whole of it
        return False


class MeteredRateLimitHandler(RateLimitErrorRetryHandler):
    """slack_sdk's handler for 429 (it sleeps for Retry-After, then retries), counting each wait."""

    def __init__(self, metrics: Metrics, max_retry_count: int = 2) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self._metrics = metrics

    def prepare_for_next_attempt(self, *, state: RetryState, request: HttpRequest,
                                 response: HttpResponse | None = None, error: Exception | None = None) -> None:
        started = time.monotonic()
        try:
            super().prepare_for_next_attempt(state=state, request=request, response=response, error=error)
        finally:
            self._metrics.rate_limit_wait(SLACK, time.monotonic() - started)


def _method(url: str) -> str:
    return url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]


def _slack_error(response: HttpResponse | None, error: Exception | None) -> str | None:
    """Slack's error code for a failed call; None for a call that went well."""
    if response is None:
        return type(error).__name__ if error is not None else None
    body = response.body
    if not body and response.data:
        try:
            body = json.loads(response.data)
        except (ValueError, UnicodeDecodeError):
            body = {}
    if isinstance(body, dict) and body.get("ok") is False:
        return str(body.get("error") or "unknown")
    if response.status_code != 200:
        return "ratelimited" if response.status_code == 429 else f"http_{response.status_code}"
    return None


# --- the states read at scrape time ----------------------------------------------------------


class _Leases(Protocol):
    def leases(self) -> dict[int, bool]: ...


class _StreamState(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def holds_lease(self) -> bool: ...
    @property
    def newest_event_at(self) -> datetime | None: ...


def watch_state(metrics: Metrics, *, engine: Engine, clock: Callable[[], datetime], poller: _Leases,
                streams: Sequence[_StreamState], budget_paused: Callable[..., set[int]] | None = None) -> None:
    """The gauges read when scraped: poll lag, cards waiting, stream lag and the leases this replica holds.

    Poll lag counts from a rule's last successful poll (its creation before the first): a
    rule its network's live stream carries is polled only to fill gaps, so its freshness is
    the stream's lag. Rules paused by an admin or by their budget (`budget_paused`: the spend
    meter's, session= and now=) are not polled and have no lag: their pause is an ops alert
    of its own, and a lag growing all month would page whoever watches it. Stream lag is given
    by the replica holding the stream, the others say nothing, so a sum or max over replicas
    is the stream's.
    """
    def poll_lag() -> Rows:
        now = clock()
        with read_scope(engine) as session:
            rows = rule_store.last_successes(session=session)
            paused = budget_paused(session=session, now=now) if budget_paused is not None else set()
        return [((network, str(rule_id)), max((now - as_utc(at)).total_seconds(), 0.0))
                for rule_id, network, at in rows if rule_id not in paused]

    def cards_waiting() -> Rows:
        with read_scope(engine) as session:
            return [((), float(case_store.count_unpublished(session=session)))]

    def stream_lag() -> Rows:
        now = clock()
        return [((s.name,), max((now - newest).total_seconds(), 0.0)) for s in streams
                if s.holds_lease and (newest := s.newest_event_at) is not None]

    def leases() -> Rows:
        return ([(("poll", str(rule_id)), float(held)) for rule_id, held in sorted(poller.leases().items())]
                + [(("stream", s.name), float(s.holds_lease)) for s in streams])

    metrics.gauge_at_scrape("socialdesk_poll_lag_seconds", "Seconds since each active rule's last successful poll",
                            ["network", "rule"], poll_lag)
    metrics.gauge_at_scrape("socialdesk_cards_waiting", "Cases whose card is not in Slack yet", [], cards_waiting)
    metrics.gauge_at_scrape("socialdesk_stream_lag_seconds", "Seconds between now and the newest post the "
                            "stream delivered (given by the replica holding the stream)", ["network"], stream_lag)
    metrics.gauge_at_scrape("socialdesk_lease_held", "1 where this replica holds the lease: a rule's poll "
                            "(job=poll, key=rule id) or a network's stream (job=stream, key=network)",
                            ["job", "key"], leases)
