"""Running the app: HTTP mode under waitress, or Socket Mode; clean stop on Ctrl-C / SIGTERM."""

from __future__ import annotations

import contextlib
import logging
import signal
import socket
import sys
import threading
import time
from typing import Any

from socialdesk.app import Socialdesk
from socialdesk.config import CannotListen, ConfigError

log = logging.getLogger(__name__)

# waitress limits, chosen for Slack's traffic (small requests that want an answer in 3 s)
# and for clients that open connections and then say nothing (slowloris). waitress's
# defaults let 100 idle sockets stop it accepting anyone for minutes.
#
# Open connections waitress serves before it stops accepting new ones (its default: 100).
# An idle connection costs one file descriptor and a few KiB, no thread: waitress reads
# every request fully (headers and body) before a worker thread sees it.
CONNECTION_LIMIT = 1000
# Descriptors kept for everything else (database pool, HTTP clients to Slack and the networks, logs).
FD_HEADROOM = 256
# Seconds a connection may stay open while neither side sends anything (its default: 120).
# Slack sends a request and wants the answer at once; keep-alive connections are reopened
# by any client or proxy when closed, so 30 s costs nothing and frees idle sockets soon.
CHANNEL_TIMEOUT = 30
# How often idle connections are looked for (its default: 30 s): an idle one is closed at
# most CHANNEL_TIMEOUT + CLEANUP_INTERVAL after its last byte.
CLEANUP_INTERVAL = 5
# Largest body waitress takes at all (its default: 1 GB, spooled to disk). The app refuses
# bodies over slack.verify.MAX_BODY (256 KiB; Slack's largest are tens of KiB) with its own
# 413 and reason; this limit, above that, stops anything bigger before it is even read.
MAX_REQUEST_BODY_SIZE = 1024 * 1024
# All request headers together (its default: 256 KiB); Slack's are well under 8 KiB.
MAX_REQUEST_HEADER_SIZE = 64 * 1024
# Socket Mode: seconds between the client's pings, which is also how often it checks that its
# connection is alive and reconnects if not. slack_bolt's handler uses 10 (slack_sdk's client
# itself defaults to 5): a connection reset by the network then goes unnoticed, and every click
# and command in that time fails, for up to 10 s; an unanswered connection for over 40.
SOCKET_MODE_PING_SECONDS = 5
# A stop waits this long for the requests in progress (stop_http), looking this often for idle connections.
STOP_GRACE_SECONDS = 5.0
STOP_CHECK_SECONDS = 0.05
# How often the main thread wakes to run a pending signal handler (see _wait_for_stop).
SIGNAL_CHECK_SECONDS = 0.25
ACK_SWITCH_INTERVAL = 0.001  # seconds a thread holds the GIL before a waiting one (an ack) may take it


def _stop_on_signals(stop: threading.Event) -> None:
    def handler(signum, _frame):  # type: ignore[no-untyped-def]
        log.info("received %s; stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)


def _wait_for_stop(stop: threading.Event) -> None:
    """Wait for a signal's handler to set `stop`, waking now and then.

    Python runs signal handlers in the main thread only; a SIGINT or SIGTERM the kernel hands
    to another thread (any of ours may take it) does not wake an untimed wait, so the main
    thread would sleep on, its handler pending, and the stop never come.
    """
    while not stop.wait(SIGNAL_CHECK_SECONDS):
        pass


def serve(desk: Socialdesk) -> None:
    settings = desk.settings
    stop = threading.Event()
    server = None
    try:
        # The port before the jobs: one in use stops `run` before anything is polled or posted.
        server = None if settings.slack_app_token else _listen(desk)
        _stop_on_signals(stop)
        desk.start()  # CannotListen for SOCIALDESK_METRICS_PORT
    except BaseException:
        if server is not None:
            server.close()
        desk.close()
        raise
    # An ack waits for the GIL each time it comes back from a socket or a lock; with the
    # work of earlier clicks running, the default 5 ms switch interval made that wait the
    # most of a burst's last acks. 1 ms: acks get their turn sooner; the work hardly slows.
    sys.setswitchinterval(ACK_SWITCH_INTERVAL)
    try:
        if server is None:
            _socket_mode(desk, stop)
        else:
            _http_mode(desk, server, stop)
    finally:
        desk.close()
        log.info("stopped")


def _listen(desk: Socialdesk) -> Any:
    """waitress's server, bound to SOCIALDESK_HTTP_HOST and _PORT (CannotListen or ConfigError when it cannot be)."""
    from waitress.server import create_server

    settings = desk.settings
    try:
        return create_server(
            desk.wsgi, host=settings.http_host, port=settings.http_port, threads=32, ident="socialdesk",
            connection_limit=_connection_limit(),
            channel_timeout=CHANNEL_TIMEOUT,
            cleanup_interval=CLEANUP_INTERVAL,
            max_request_body_size=MAX_REQUEST_BODY_SIZE,
            max_request_header_size=MAX_REQUEST_HEADER_SIZE,
            # poll() instead of select(): select() cannot watch a descriptor numbered 1024 or
            # more and would stop the server's loop once that many connections are open.
            asyncore_use_poll=True,
        )
    except OSError as exc:
        raise CannotListen.of("SOCIALDESK_HTTP_PORT", settings.http_host, settings.http_port, exc) from None
    except ValueError:  # waitress: a host name that resolves to no address
        raise ConfigError(f"SOCIALDESK_HTTP_HOST is invalid: {settings.http_host} is not a name this machine "
                          "resolves; use an address like 0.0.0.0 or 127.0.0.1. Fix it in the environment or .env") from None


def _http_mode(desk: Socialdesk, server: Any, stop: threading.Event) -> None:
    settings = desk.settings
    thread = threading.Thread(target=server.run, name="http", daemon=True)
    thread.start()
    log.info("listening on http://%s:%s/slack/events", settings.http_host, server.effective_port)
    _wait_for_stop(stop)
    stop_http(server, thread)


def stop_http(server: Any, thread: threading.Thread, *, grace: float = STOP_GRACE_SECONDS) -> None:
    """Stop accepting, let the requests in progress finish (for up to `grace` seconds), and close idle
    keep-alive connections at once.

    waitress's loop runs until its last connection closes, and on its own it closes an idle one only
    after CHANNEL_TIMEOUT: a stop waited the whole grace for any client (Slack, a proxy) that kept
    its connection open. A connection is idle when it has no request queued or being read, as
    waitress's own idle sweep (`maintenance`) judges it. All of it happens in waitress's thread (a
    trigger's callback): a socket closed from another thread while the loop polls it can stop the loop.
    """
    from waitress import wasyncore

    done = threading.Event()

    def step() -> None:  # in waitress's loop
        if server.accepting:
            wasyncore.dispatcher.close(server)  # the listening socket: no new connections
        _close_idle(server)
        if not server.active_channels:
            server.trigger.del_channel()  # the loop ends with nothing left to watch; its pipe is closed below
            done.set()

    deadline = time.monotonic() + grace
    while thread.is_alive() and not done.is_set() and time.monotonic() < deadline:
        server.trigger.pull_trigger(step)
        thread.join(timeout=STOP_CHECK_SECONDS)
    thread.join(timeout=max(0.0, deadline - time.monotonic()))
    if not thread.is_alive():
        server.trigger.close()


def _close_idle(server: Any) -> None:
    for channel in list(server.active_channels.values()):
        if not channel.requests and getattr(channel, "request", None) is None and not _unread(channel):
            channel.will_close = True


def _unread(channel: Any) -> bool:
    """Whether the client has sent bytes the loop has not read yet: a request that just arrived is answered."""
    try:
        return bool(channel.socket.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT))
    except (BlockingIOError, InterruptedError):
        return False
    except OSError:
        return False  # gone: closing it is right


def _connection_limit() -> int:
    """CONNECTION_LIMIT, with the open-files limit raised to fit it (up to the hard limit) or the limit lowered to fit."""
    try:
        import resource
    except ImportError:  # not on POSIX: leave the OS limits alone
        return CONNECTION_LIMIT
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = CONNECTION_LIMIT + FD_HEADROOM
    if soft != resource.RLIM_INFINITY and soft < wanted:
        raised = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (raised, hard))
            soft = raised
        except (ValueError, OSError) as exc:
            log.warning("could not raise the open-files limit from %s to %s: %s", soft, raised, exc)
    if soft == resource.RLIM_INFINITY or soft >= wanted:
        return CONNECTION_LIMIT
    limit = max(soft - FD_HEADROOM, 50)
    log.warning("open-files limit %s allows %s HTTP connections, not %s; raise `ulimit -n`", soft, limit,
                CONNECTION_LIMIT)
    return limit


def _socket_mode(desk: Socialdesk, stop: threading.Event) -> None:
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    class TimedHandler(SocketModeHandler):
        """Bolt's handler, timing each envelope from its arrival to its ack sent (socialdesk_ack_seconds)."""

        def handle(self, client, req) -> None:  # type: ignore[no-untyped-def]
            started = time.perf_counter()
            try:
                super().handle(client, req)
            finally:
                desk.metrics.acked("socket", time.perf_counter() - started)

    handler = TimedHandler(desk.bolt, desk.settings.slack_app_token.get_secret_value(),  # type: ignore[union-attr]
                                ping_interval=SOCKET_MODE_PING_SECONDS)
    handler.connect()
    log.info("connected to Slack in Socket Mode")
    _wait_for_stop(stop)
    _close_socket_mode(handler)


def _close_socket_mode(handler) -> None:  # type: ignore[no-untyped-def]
    """Close the Socket Mode connection now, not at the next pong.

    slack_sdk's built-in client closes its socket under the lock its reader holds while
    blocked in recv(), so `close()` alone waits for Slack's next frame (up to a ping interval,
    SOCKET_MODE_PING_SECONDS), and then for its message queue's one-second poll. Marked closed
    first (no reconnect), the socket is shut down so the read returns at once, and a None (which
    the client skips) wakes the queue; then the client closes as usual.
    """
    client = handler.client
    session = getattr(client, "current_session", None)
    sock = getattr(session, "sock", None)
    state = getattr(client, "current_session_state", None)
    if sock is not None and state is not None and hasattr(client, "auto_reconnect_enabled"):
        client.closed = True
        client.auto_reconnect_enabled = False
        state.terminated = True  # the reader's loop ends when its read returns
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        queue = getattr(client, "message_queue", None)
        if queue is not None:
            queue.put(None)
    handler.close()
