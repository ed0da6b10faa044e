"""Slow and idle clients (slowloris) against the running app: /healthz and Slack's requests still get in.

Loopback only, and bounded: every socket has a timeout and is closed in `finally`.
"""

from __future__ import annotations

import socket
import time

import httpx

IDLE_SOCKETS = 200  # more than waitress's default connection_limit (100), which let 120 lock the server out


def test_hundreds_of_idle_and_half_sent_connections_do_not_lock_out_healthz(app):
    app.start()
    held: list[socket.socket] = []
    try:
        for i in range(IDLE_SOCKETS):
            sock = socket.create_connection(("127.0.0.1", app.port), timeout=5)
            if i % 3 == 1:  # starts a request and never finishes its headers
                sock.sendall(b"POST /slack/events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n")
            elif i % 3 == 2:  # sends its headers, then never the body they promise
                sock.sendall(b"POST /slack/events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n{")
            held.append(sock)
        time.sleep(0.5)  # let the server accept them all
        # The httpx timeout bounds the test; before the limits were set this timed out.
        response = httpx.get(app.url + "/healthz", timeout=5)
        assert response.status_code == 200 and response.json() == {"ok": True}
        # Half-sent requests hold no worker thread (waitress reads a request fully first): again, at once.
        assert httpx.get(app.url + "/healthz", timeout=5).status_code == 200
    finally:
        for sock in held:
            sock.close()
    assert app.proc is not None and app.proc.poll() is None  # still running
