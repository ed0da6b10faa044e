"""Stopping the HTTP server (socialdesk.server.stop_http) with clients that keep their connections open."""

from __future__ import annotations

import socket
import threading

import pytest
from waitress.server import create_server

from socialdesk.server import CHANNEL_TIMEOUT, stop_http

RELEASED = threading.Event()


def app(environ, start_response):  # type: ignore[no-untyped-def]
    if environ["PATH_INFO"] == "/slow":
        RELEASED.wait(timeout=30)
    body = environ["PATH_INFO"].encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


@pytest.fixture(params=[True, False], ids=["poll", "select"])  # `socialdesk run` polls; waitress's default selects
def server(request):
    RELEASED.clear()
    built = create_server(app, host="127.0.0.1", port=0, threads=2, channel_timeout=CHANNEL_TIMEOUT,
                          asyncore_use_poll=request.param)
    thread = threading.Thread(target=built.run, daemon=True)
    thread.start()
    yield built, thread
    RELEASED.set()
    built.close()


def connect(built) -> socket.socket:  # type: ignore[no-untyped-def]
    return socket.create_connection(("127.0.0.1", built.effective_port), timeout=10)


def ask(sock: socket.socket, path: str) -> None:
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: app\r\nConnection: keep-alive\r\n\r\n".encode())


def answer(sock: socket.socket) -> bytes:
    """One response: its headers, then as many bytes of body as they say."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += _more(sock)
    head, body = data.split(b"\r\n\r\n", 1)
    length = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
    while len(body) < length:
        body += _more(sock)
    return body


def _more(sock: socket.socket) -> bytes:
    chunk = sock.recv(4096)
    assert chunk, "the server closed the connection before answering"
    return chunk


def test_a_kept_connection_is_closed_at_once_and_the_server_stops(server):
    built, thread = server
    kept = connect(built)
    ask(kept, "/healthz")
    assert answer(kept) == b"/healthz"  # answered, and the connection stays open (keep-alive)
    stop_http(built, thread)
    # Before, the loop served the idle connection until CHANNEL_TIMEOUT and the stop gave up after 5 s.
    assert not thread.is_alive()
    assert kept.recv(1) == b""  # closed by the server
    kept.close()


def test_a_request_in_progress_is_answered_before_the_server_stops(server):
    built, thread = server
    busy, idle = connect(built), connect(built)
    ask(idle, "/healthz")
    answer(idle)
    ask(busy, "/slow")
    stopping = threading.Thread(target=stop_http, args=(built, thread))
    stopping.start()
    assert idle.recv(1) == b""  # the idle one is closed while the slow request still runs
    assert thread.is_alive() and stopping.is_alive()
    RELEASED.set()
    assert answer(busy) == b"/slow"  # its answer went out, then the connection closed
    stopping.join(timeout=10)
    assert not thread.is_alive()
    assert busy.recv(1) == b""
    busy.close()
    idle.close()
