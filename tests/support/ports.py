"""Free TCP ports for processes the tests start."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A port that was free a moment ago on 127.0.0.1.

    The OS picks it; there is a small race until the caller binds it, which is
    acceptable for test servers started right away.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
