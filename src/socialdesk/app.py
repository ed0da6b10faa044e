"""The composition root: the one place where settings become running parts."""

from __future__ import annotations

import contextlib
import json
import logging
import ssl
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers import SchedulerNotRunningError
from apscheduler.schedulers.background import BackgroundScheduler
from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler
from sqlalchemy import Engine, text

from socialdesk.config import REQUIRED_TO_RUN, CannotListen, Settings
from socialdesk.drafting.client import Drafter
from socialdesk.health import SourceChecks

from socialdesk.jobs.digest import DigestScheduler
from socialdesk.jobs.edits import EditMarker
from socialdesk.jobs.notices import Notifier
from socialdesk.jobs.ops_alerts import OpsAlerts
from socialdesk.jobs.poll import Poller
from socialdesk.jobs.publish import Publisher
from socialdesk.jobs.removal import RemovalMarker
from socialdesk.jobs.removal import periodic_jobs as removal_jobs
from socialdesk.jobs.retention import periodic_jobs as retention_jobs
from socialdesk.jobs.scheduler import PUBLISH_JOB, PeriodicJob, RunningJobs, build_scheduler
from socialdesk.jobs.sla import SlaSweep
from socialdesk.jobs.stream import StreamWorker, stream_workers
from socialdesk.jobs.webhooks import WebhookSender
from socialdesk.listeners import (actions, answers, commands, events, faq, home, incidents, queue, replies, resolutions,
                                  views, webhooks)
from socialdesk.listeners.binding import Later
from socialdesk.listeners.deps import Deps
from socialdesk.metrics import MeteredRateLimitHandler, Metrics, MetricsServer, SlackCallMeter, watch_state
from socialdesk.replying import ReplyDesk
from socialdesk.saved_replies import load_saved_replies
from socialdesk.spend import Meter
from socialdesk.slack.identity import BotIdentity
from socialdesk.slack.names import SlackNames
from socialdesk.slack.permissions import AdminCheck, ReplyPermissions
from socialdesk.slack.verify import RequestGuard
from socialdesk.networks import registry
from socialdesk.networks.base import Network
from socialdesk.store.credentials import DatabaseCredentials
from socialdesk.store.checkpoint import WalCheckpointer
from socialdesk.store.db import make_engine, upgrade
from socialdesk.triage.sentiment import Triage

log = logging.getLogger(__name__)
SLACK_PATH = "/slack/events"
METRICS_PATH = "/metrics"
WEBHOOK_SECONDS = 2  # how soon a case event reaches a CRM
NOTICE_SECONDS = 5  # how soon a notice queued without a wake-up (another replica's, one held for quiet hours) goes
NOTICE_JOB = "notices"
OPS_ALERTS_SECONDS = 30  # how late an ops alert (or its recovery) is, at most, after SOCIALDESK_ALERT_AFTER
OPS_ALERTS_JOB = "ops-alerts"
STOP_GRACE_SECONDS = 10.0  # how long a stop waits for running jobs


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Socialdesk:
    settings: Settings
    engine: Engine
    http: httpx.Client
    slack: WebClient
    bolt: App
    poller: Poller
    publisher: Publisher
    scheduler: BackgroundScheduler
    sla_sweep: SlaSweep | None = None
    notifier: Notifier | None = None  # the DMs and pings that tell people (jobs.notices)
    ops_alerts: OpsAlerts | None = None  # tells SOCIALDESK_OPS_CHANNEL of sources in trouble (jobs.ops_alerts)
    running_jobs: RunningJobs | None = None
    streams: list[StreamWorker] = field(default_factory=list)
    later: Later = field(default_factory=Later)  # listeners' work after their acks
    deps: Deps | None = None  # what the listeners were given (tests call handlers with it)
    identity: BotIdentity | None = None  # who the app is in Slack, looked up off the ack path
    checkpointer: WalCheckpointer | None = None  # SQLite's log copied back off the writers' path
    metrics: Metrics = field(default_factory=Metrics)  # what /metrics shows (the parts record into it)

    def __post_init__(self) -> None:
        self.slack_handler = SlackRequestHandler(self.bolt, path=SLACK_PATH)
        self.metrics_app = self.metrics.wsgi()
        self.metrics_server: MetricsServer | None = None  # SOCIALDESK_METRICS_PORT's, while running
        self.request_guard = RequestGuard(
            signing_secret=self.settings.slack_signing_secret.get_secret_value(),  # type: ignore[union-attr]
            engine=self.engine,
        )

    def wsgi(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        """HTTP mode: Slack's requests on /slack/events, /healthz for load balancers, /metrics for Prometheus.

        Slack's requests are verified (size, timestamp, signature), checked for shape and for
        replays before Bolt parses them (slack.verify). The ack is the response (listeners.binding),
        so the time until the guard returns is the ack latency (socialdesk_ack_seconds).
        """
        path = environ.get("PATH_INFO", "")
        if path == SLACK_PATH:
            started = time.perf_counter()
            try:
                with self.later.acks.answering():  # the work of earlier acks waits a moment for this one
                    return self.request_guard(environ, start_response, self.slack_handler)
            finally:
                self.metrics.acked("http", time.perf_counter() - started)
        if path == "/healthz":
            return self._health(start_response)
        if path == METRICS_PATH:
            return self.metrics_app(environ, start_response)
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found; Slack requests go to /slack/events\n"]

    def _health(self, start_response: Callable[..., Any]) -> Iterable[bytes]:
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            status, body = "200 OK", {"ok": True}
        except Exception as exc:  # noqa: BLE001 - the health check reports any database failure
            status, body = "503 Service Unavailable", {"ok": False, "error": type(exc).__name__}
        start_response(status, [("Content-Type", "application/json")])
        return [json.dumps(body).encode()]

    def start(self) -> None:
        """Start the jobs and the live streams (`socialdesk run` does; tests may run jobs by hand)."""
        if self.identity is not None:
            self.identity.start()
        if self.checkpointer is not None:
            self.checkpointer.start()
        if self.settings.metrics_port is not None:
            try:
                self.metrics_server = self.metrics.serve(self.settings.http_host, self.settings.metrics_port)
            except OSError as exc:
                raise CannotListen.of("SOCIALDESK_METRICS_PORT", self.settings.http_host, self.settings.metrics_port,
                                      exc) from None
        self.scheduler.start()
        for stream in self.streams:
            stream.start()

    def close(self, grace: float = STOP_GRACE_SECONDS) -> bool:
        """Stop the jobs, waiting `grace` seconds for those running; False if some still were.

        Every job is safe to cut off (leases expire, marks are taken before posting), so a
        stop never waits on one stuck Slack or network call for longer than that.
        """
        idle = True
        # Everything is told at once and waited for within one grace, not a grace each in turn.
        deadline = time.monotonic() + grace

        def left() -> float:
            return max(0.0, deadline - time.monotonic())

        if self.identity is not None:
            self.identity.stop()
        for stream in self.streams:
            stream.stop_soon()
        self.publisher.stop()  # between two cards: the rest are posted after the next start
        running = self.scheduler.running
        if running:
            self.scheduler.shutdown(wait=False)
        for stream in self.streams:
            if not stream.stop(timeout=left()):
                idle = False
                log.warning("the %s stream still running %g s after the stop; leaving it", stream.name, grace)
        if running and self.running_jobs is not None and not self.running_jobs.wait_idle(left()):
            idle = False
            log.warning("%d job(s) still running %g s after the stop; leaving them", self.running_jobs.count, grace)
        idle = self.later.close(max(left(), 1.0)) and idle  # acked clicks: what is left of the grace (a second at least)
        self.request_guard.close()
        if self.metrics_server is not None:
            self.metrics_server.close()
        if self.checkpointer is not None:
            self.checkpointer.stop()
        self.http.close()
        self.engine.dispose()
        return idle


def brand_handle(networks: dict[str, Network], settings: Settings) -> Callable[[str], str]:
    """The account replies on a network go out as: the signed-in one, else the first own handle."""
    def handle(name: str) -> str:
        network = networks.get(name)
        signed_in = network.brand_handle() if network is not None else None
        return signed_in or next(iter(sorted(settings.own_handle_set)), "our account")

    return handle


def drafter_of(settings: Settings, http: httpx.Client) -> Drafter | None:
    """The language model that drafts replies, when SOCIALDESK_LLM_URL names one."""
    if not settings.llm_url or not settings.llm_model:
        return None
    key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
    return Drafter(url=settings.llm_url, model=settings.llm_model, api_key=key, http=http,
                   timeout=settings.llm_timeout)


def http_client(*, verify: ssl.SSLContext | bool = True) -> httpx.Client:
    """The client the networks and webhooks share. `verify`: an SSL context to reuse (building one
    loads the CA bundle, ~25 ms: tests that build many apps pass one)."""
    return httpx.Client(timeout=httpx.Timeout(15.0, connect=5.0), headers={"User-Agent": "socialdesk"},
                        verify=verify)


def build(
    settings: Settings,
    *,
    slack_client: WebClient | None = None,
    http: httpx.Client | None = None,
    engine: Engine | None = None,
    clock: Callable[[], datetime] = utc_now,
) -> Socialdesk:
    """Wire everything from settings; arguments replace parts (tests, the sandbox)."""
    settings.require(*REQUIRED_TO_RUN)
    engine = engine or make_engine(settings.database_url)
    upgrade(engine)
    metrics = Metrics()
    http = http or http_client()
    slack = slack_client or WebClient(
        token=settings.slack_bot_token.get_secret_value(),  # type: ignore[union-attr]
        base_url=settings.slack_api_url,
        timeout=15,
        # The meter first: it sees every response and retries nothing (metrics.SlackCallMeter).
        retry_handlers=[SlackCallMeter(metrics), ConnectionErrorRetryHandler(max_retry_count=2),
                        MeteredRateLimitHandler(metrics, max_retry_count=2)],
    )
    identity = BotIdentity(slack, settings.slack_bot_token.get_secret_value())  # type: ignore[union-attr]
    bolt = App(
        client=slack,
        authorize=identity.authorizer(),  # no auth.test inside a request (slack.identity)
        signing_secret=settings.slack_signing_secret.get_secret_value(),  # type: ignore[union-attr]
        # A listener runs in the request's own thread and its ack is the response; the work
        # after the ack goes to `later` (listeners.binding). Acks never queue behind a pool.
        process_before_response=True,
    )
    later = Later()
    sla_policy = settings.sla_policy
    notifier = Notifier(engine=engine, slack=slack, clock=clock, policy=sla_policy, oncall=settings.oncall)
    networks = registry.build(settings, http=http, clock=clock,
                              credentials=lambda name: DatabaseCredentials(engine, name))
    # The spend meter: the poller, streams and replies count what the networks bill; /metrics shows each new read.
    meter = Meter(networks, on_billed=metrics.billed)
    desk = ReplyDesk(engine=engine, networks=networks, clock=clock, approvers=settings.approver_set, meter=meter)
    deps = Deps(
        engine=engine,
        clock=clock,
        desk=desk,
        permissions=ReplyPermissions(client=slack, users=settings.reply_user_set, groups=settings.reply_group_set),
        brand=brand_handle(networks, settings),
        saved_replies=load_saved_replies(settings.saved_replies_file),
        drafter=drafter_of(settings, http),
        tags=settings.tag_list,
        sla_policy=sla_policy,
        admins=AdminCheck(client=slack, admins=settings.admin_set),
        tz=settings.tz,
        settings=settings,
        networks=networks,
        later=later,
        notify=notifier.run_once,  # in the listener's work after its ack
        names=SlackNames(slack),  # the one name cache: users.info once per person, bounded
        meter=meter,
        budget_paused=meter.paused_by_budget,  # App Home's source states
    )
    for module in (events, actions, views, resolutions, replies, answers, incidents, commands, queue, faq, home, webhooks):
        module.register(bolt, deps)

    publisher = Publisher(engine=engine, slack=slack, clock=clock, post_interval=settings.slack_post_interval,
                          sla_policy=sla_policy, lease_seconds=settings.publish_lease_seconds,
                          notify=lambda: wake(NOTICE_JOB), metrics=metrics)
    sla_sweep = SlaSweep(engine=engine, slack=slack, clock=clock, policy=sla_policy, lead=settings.sla_lead,
                         notifier=notifier)
    poller = Poller(
        engine=engine,
        networks=networks,
        own_handles=settings.own_handle_set,
        clock=clock,
        follow_conversations=True,
        triage=Triage(),
        incident_window=settings.incident_timedelta,
        on_new_cases=lambda case_ids: wake_publisher(),
        meter=meter,
        metrics=metrics,
    )
    streams = stream_workers(
        list(networks.values()), engine=engine, poller=poller, clock=clock,
        removed_for=lambda name: RemovalMarker(engine=engine, slack=slack, network=name),
        edited=EditMarker(engine=engine, slack=slack), lease_seconds=settings.stream_lease_seconds,
        metrics=metrics,
    )
    watch_state(metrics, engine=engine, clock=clock, poller=poller, streams=streams,
                budget_paused=meter.paused_by_budget)

    def wake_publisher() -> None:
        """New cases: publish now rather than at the next tick (a stream's card within a second)."""
        wake(PUBLISH_JOB)

    def wake(job_id: str) -> None:
        """Run the job now rather than at its next tick (new cards, a notice queued by the publisher)."""
        with contextlib.suppress(JobLookupError, SchedulerNotRunningError):
            scheduler.modify_job(job_id, next_run_time=datetime.now(UTC))

    digests = DigestScheduler(engine=engine, slack=slack, clock=clock, tz=settings.tz, meter=meter)
    webhook_sender = WebhookSender(engine=engine, http=http, clock=clock,
                                   allow_loopback=settings.webhooks_allow_loopback)
    running_jobs = RunningJobs()
    ops_alerts = None
    if settings.ops_channel:
        # The sources' states (a rule its budget paused is "paused by budget", not behind) and the spend
        # meter's budgets: one alert at 80 % and one at 100 % of each (spend.Meter.budget_conditions).
        checks = [SourceChecks(networks=networks, alert_after=settings.alert_timedelta,
                               budget_paused=meter.paused_by_budget, started_at=clock()),
                  meter.budget_conditions]
        ops_alerts = OpsAlerts(engine=engine, slack=slack, channel=settings.ops_channel, checks=checks, clock=clock)
    scheduler = build_scheduler(
        engine=engine, poller=poller, publisher=publisher, sla_sweep=sla_sweep, running=running_jobs,
        sla_seconds=settings.sla_check_seconds, syncs=[digests.sync],
        periodic=[
            *retention_jobs(settings, engine=engine, clock=clock),
            *removal_jobs(networks, engine=engine, slack=slack, clock=clock, meter=meter),
            PeriodicJob("webhooks", webhook_sender.run_once, WEBHOOK_SECONDS),
            PeriodicJob(NOTICE_JOB, notifier.run_once, NOTICE_SECONDS, reentrant=True),  # a wake while it sends
            *([PeriodicJob(OPS_ALERTS_JOB, ops_alerts.run_once, OPS_ALERTS_SECONDS)] if ops_alerts else []),
        ],
    )
    return Socialdesk(
        settings=settings, engine=engine, http=http, slack=slack, bolt=bolt,
        poller=poller, publisher=publisher, scheduler=scheduler, sla_sweep=sla_sweep, notifier=notifier,
        running_jobs=running_jobs, ops_alerts=ops_alerts,
        streams=streams, later=later, deps=deps, identity=identity, checkpointer=WalCheckpointer(engine),
        metrics=metrics,
    )
