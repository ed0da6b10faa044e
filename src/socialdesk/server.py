"""Running the app: HTTP mode under waitress, or Socket Mode; clean stop on Ctrl-C / SIGTERM."""

from __future__ import annotations

import logging
import signal
import threading

from socialdesk.app import Socialdesk

log = logging.getLogger(__name__)


def _stop_on_signals(stop: threading.Event) -> None:
    def handler(signum, _frame):  # type: ignore[no-untyped-def]
        log.info("received %s; stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)


def serve(desk: Socialdesk) -> None:
    stop = threading.Event()
    _stop_on_signals(stop)
    desk.start()
    settings = desk.settings
    try:
        if settings.slack_app_token:
            _socket_mode(desk, stop)
        else:
            _http_mode(desk, stop)
    finally:
        desk.close()
        log.info("stopped")


def _http_mode(desk: Socialdesk, stop: threading.Event) -> None:
    from waitress.server import create_server

    settings = desk.settings
    server = create_server(desk.wsgi, host=settings.http_host, port=settings.http_port, threads=32, ident="socialdesk")
    thread = threading.Thread(target=server.run, name="http", daemon=True)
    thread.start()
    log.info("listening on http://%s:%s/slack/events", settings.http_host, server.effective_port)
    stop.wait()
    server.close()
    thread.join(timeout=5)


def _socket_mode(desk: Socialdesk, stop: threading.Event) -> None:
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    handler = SocketModeHandler(desk.bolt, desk.settings.slack_app_token.get_secret_value())  # type: ignore[union-attr]
    handler.connect()
    log.info("connected to Slack in Socket Mode")
    stop.wait()
    handler.close()
