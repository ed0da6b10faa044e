"""What the sandbox and the demo share about running parts on 127.0.0.1."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import threading


def bind_port(port: int) -> int | None:
    """The port bound (0: any free one), or None when it is taken.

    SO_REUSEADDR, as the demo's servers bind with it (http.server's do): connections of a run
    just stopped with Ctrl-C linger in TIME_WAIT for a minute, and without it they made the port
    look taken, so a restart right away failed. A port something listens on is still refused."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
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


def ensure_scenario_rules(engine, channel: str, plays) -> None:  # type: ignore[no-untyped-def]
    """The story's rules of every local network, pointed at this run's channel (a kept --db may name
    another run's). They file likely spam as ignored, to show it: the card is collapsed, with Not spam.
    They raise the priority of posts with the story's keywords or from authors with many followers."""
    from socialdesk.sandbox.scenario import PRIORITY_FOLLOWERS, PRIORITY_KEYWORDS
    from socialdesk.store import rules as rule_store
    from socialdesk.store.db import session_scope, utcnow

    with session_scope(engine) as session:
        rules = rule_store.list_rules(session=session)
        have = {(r.network, r.kind, r.query) for r in rules}
        for play in plays:
            for kind, query, every in play.rules:
                if (play.name, kind, query) not in have:
                    rule_store.add_rule(session=session, network=play.name, query=query, channel_id=channel,
                                        every_seconds=every, lang=None, include_reposts=False, now=utcnow(),
                                        kind=kind, ignore_spam=True, priority_keywords=list(PRIORITY_KEYWORDS),
                                        priority_followers=PRIORITY_FOLLOWERS)
        for rule in rules:
            if rule.channel_id != channel:
                rule.channel_id = channel
                session.add(rule)


def settings_of(plays) -> dict:  # type: ignore[no-untyped-def]
    """What points the app at every local network's fakes."""
    merged: dict = {}
    for play in plays:
        merged.update(play.settings)
    return merged


def endpoint_lines(plays, width: int) -> str:  # type: ignore[no-untyped-def]
    return "\n".join(f"  {what + ':':{width}}{where}" for play in plays for what, where in play.endpoints)
