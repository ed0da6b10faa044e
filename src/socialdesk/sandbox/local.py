"""What the sandbox and the demo share about running parts on 127.0.0.1."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import threading


def bind_port(port: int) -> int | None:
    """The port bound (0: any free one), or None when it is taken."""
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return None
        return sock.getsockname()[1]


def raise_interrupt(_signum, _frame):  # type: ignore[no-untyped-def]
    raise KeyboardInterrupt  # SIGTERM while starting: unwind so every part is stopped


def stop_after(seconds: float | None, stack: contextlib.ExitStack) -> None:
    """`--duration`: SIGTERM ourselves later, the same path as Ctrl-C (serve() handles it)."""
    if not seconds:
        return
    timer = threading.Timer(seconds, os.kill, args=(os.getpid(), signal.SIGTERM))
    timer.daemon = True
    timer.start()
    stack.callback(timer.cancel)
