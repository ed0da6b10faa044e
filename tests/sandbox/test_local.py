"""What the sandbox and the demo share: a port check that lets a stopped run's port be used at once."""

from __future__ import annotations

import socket
import time

from socialdesk.demo.workspace import Workspace
from socialdesk.sandbox.local import bind_port


def _port_in_time_wait() -> int:
    """A port whose server just closed a connection first (as the demo's do on Ctrl-C): TIME_WAIT."""
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]
    client = socket.create_connection(("127.0.0.1", port))
    conn, _ = server.accept()
    conn.close()  # the server's side closes first, so the server's port is the one left in TIME_WAIT
    client.recv(1)
    client.close()
    time.sleep(0.05)
    server.close()
    return port


def test_a_port_left_in_time_wait_counts_as_free_and_the_workspace_binds_it() -> None:
    port = _port_in_time_wait()
    assert bind_port(port) == port
    with Workspace(port=port, signing_secret="s") as ws:
        assert ws.port == port


def test_a_port_someone_listens_on_is_taken() -> None:
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        assert bind_port(listener.getsockname()[1]) is None
