"""How listeners are bound to Bolt: the ack in the request, the work after it.

Slack wants every request answered within 3 s, whatever the database is doing. Bolt runs
with `process_before_response=True`, so a listener runs in the request's own thread
(waitress's, or the Socket Mode client's) and its ack *is* the HTTP response or the
envelope's acknowledgement. A listener therefore only checks what was sent and acks;
anything that writes or calls Slack goes to `Later`, a pool of its own. An ack never
queues behind a pool thread stuck on a locked SQLite file (#11: 100 clicks during a 5 s
lock were all acknowledged, and all applied once the lock was released).

Handlers are module-level functions that take `deps` as a keyword; `register(app, deps)`
in each listener module binds them here.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from slack_bolt import Ack
from slack_sdk import WebClient

if TYPE_CHECKING:
    from socialdesk.listeners.deps import Deps

log = logging.getLogger(__name__)
LATER_THREADS = 16  # I/O-bound work (Slack calls, the database); more threads only contend for the GIL and SQLite


class Later:
    """Work that runs after the ack, in a pool of threads; a failure is logged once, with its traceback."""

    def __init__(self, threads: int = LATER_THREADS) -> None:
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="listener")
        self._idle = threading.Condition()
        self._pending = 0

    def __call__(self, work: Callable[..., Any], *args: Any, **kwargs: Any) -> Future[Any]:
        with self._idle:
            self._pending += 1
        future = self._pool.submit(run_logged, work, *args, **kwargs)
        future.add_done_callback(self._done)
        return future

    def _done(self, _future: Future[Any]) -> None:
        with self._idle:
            self._pending -= 1
            self._idle.notify_all()

    def close(self, grace: float) -> bool:
        """Let acked work finish for up to `grace` seconds; False if some was still queued or running."""
        with self._idle:
            finished = self._idle.wait_for(lambda: self._pending == 0, timeout=grace)
        if not finished:
            log.warning("%d acknowledged click(s) or command(s) still unfinished at the stop", self._pending)
        self._pool.shutdown(wait=False, cancel_futures=True)
        return finished


def run_now(work: Callable[..., Any], *args: Any, **kwargs: Any) -> Future[Any]:
    """`Later` without the pool: the work runs before this returns (listener tests that need no threads)."""
    done: Future[Any] = Future()
    try:
        done.set_result(run_logged(work, *args, **kwargs))
    except Exception as exc:  # noqa: BLE001 - kept in the future, as the pool would
        done.set_exception(exc)
    return done


def run_logged(work: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    try:
        return work(*args, **kwargs)
    except Exception:
        log.exception("%s failed after Slack's request was acknowledged", getattr(work, "__name__", work))
        raise


def after_ack(work: Callable[..., None], deps: Deps) -> Callable[..., None]:
    """A listener that acks at once, then runs `work(body, client, deps=deps)` later (buttons, events)."""
    def listener(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        deps.later(work, body, client, deps=deps)

    listener.__name__ = listener.__qualname__ = work.__name__  # Bolt's logs name the listener
    return listener


def with_deps(handler: Callable[..., None], deps: Deps) -> Callable[..., None]:
    """A listener that acks itself (its answer depends on what was sent), with `deps` filled in.

    Bolt passes arguments by the names of the handler's positional parameters; `deps` is
    keyword-only, so Bolt leaves it to this partial.
    """
    return functools.update_wrapper(functools.partial(handler, deps=deps), handler)


def ack_only(ack: Ack) -> None:
    """Link buttons: Slack opens the URL; the click still needs an answer."""
    ack()
