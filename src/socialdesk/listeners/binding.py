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

import contextlib
import functools
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import TYPE_CHECKING, Any

from slack_bolt import Ack
from slack_sdk import WebClient

from socialdesk.slack.verify import replay_check

if TYPE_CHECKING:
    from socialdesk.listeners.deps import Deps

log = logging.getLogger(__name__)
LATER_THREADS = 16  # I/O-bound work (Slack calls, the database); more threads only contend for the GIL and SQLite
REPLAY_CHECK_WAIT = 60.0  # the database's replay check is on its way; past this, the work is done anyway
# Work after an ack lets the acks still being made go first, for this long at most: on two
# cores, 50 clicks' work (SQL, Block Kit, Slack calls) competing for the GIL with the last
# clicks' acks was what made those acks slow.
ACKS_FIRST_WAIT = 0.2
ACKS_SETTLE = 0.02  # and the burst is over when no ack has been made for this long
_AWAITED = ContextVar("awaited_by_ack", default=False)


@contextlib.contextmanager
def awaited_by_ack() -> Iterator[None]:
    """Work started inside is what the ack waits for (a command's answer): it does not let acks go first."""
    token = _AWAITED.set(True)
    try:
        yield
    finally:
        _AWAITED.reset(token)


class AcksInFlight:
    """How many requests are being acknowledged right now (HTTP mode's requests pass through `answering`)."""

    def __init__(self, settle: float = ACKS_SETTLE) -> None:
        self._count = 0
        self._quiet = threading.Condition()
        self._settle = settle
        self._last_done = 0.0  # time.monotonic() when the last ack was made

    @contextlib.contextmanager
    def answering(self) -> Iterator[None]:
        with self._quiet:
            self._count += 1
        try:
            yield
        finally:
            with self._quiet:
                self._count -= 1
                self._last_done = time.monotonic()
                if not self._count:
                    self._quiet.notify_all()

    def wait_quiet(self, longest: float) -> None:
        """Until no ack is being made and none was for `settle` (a burst's clicks come a few
        milliseconds apart: its first ack done is not its end), `longest` at most."""
        deadline = time.monotonic() + longest
        with self._quiet:
            while (now := time.monotonic()) < deadline:
                if self._count:
                    self._quiet.wait(deadline - now)
                    continue
                idle = now - self._last_done
                if idle >= self._settle:
                    return
                self._quiet.wait(min(self._settle - idle, deadline - now))


class Replayed(Exception):
    """Another replica handled this request before: its work is not done twice."""


def first_time(check: Future[bool] | None) -> bool:
    """Whether the request whose work this is was new to every replica (the guard's shared check)."""
    if check is None:  # not a checked request (Socket Mode, or work started by other work)
        return True
    try:
        return check.result(timeout=REPLAY_CHECK_WAIT)
    except FutureTimeout:
        log.warning("the replay check did not answer in %.0f s; the request is checked by this replica alone",
                    REPLAY_CHECK_WAIT)
    except Exception as exc:  # noqa: BLE001 - the database failed: this replica's own check passed it
        log.warning("replay check failed (%s); request checked by this replica alone", type(exc).__name__)
    return True


class Later:
    """Work that runs after the ack, in a pool of threads; a failure is logged once, with its traceback.

    Work left by a request waits for that request's replay check first, and is dropped
    (its future raises Replayed) when another replica handled the request.
    """

    def __init__(self, threads: int = LATER_THREADS, acks: AcksInFlight | None = None,
                 acks_first: float = ACKS_FIRST_WAIT) -> None:
        self.acks = acks or AcksInFlight()
        self._acks_first = acks_first
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="listener")
        self._idle = threading.Condition()
        self._pending = 0
        # Start the threads now: a burst of clicks after a start would otherwise wait, on the
        # ack's thread, for each new thread to be started by `submit`.
        for started in [self._pool.submit(lambda: None) for _ in range(threads)]:
            started.result()

    def __call__(self, work: Callable[..., Any], *args: Any, **kwargs: Any) -> Future[Any]:
        with self._idle:
            self._pending += 1
        acks_first = 0.0 if _AWAITED.get() else self._acks_first
        future = self._pool.submit(run_checked, replay_check(), work, *args,
                                   acks=(self.acks, acks_first), **kwargs)
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
        done.set_result(run_checked(replay_check(), work, *args, **kwargs))
    except Exception as exc:  # noqa: BLE001 - kept in the future, as the pool would
        done.set_exception(exc)
    return done


def run_checked(check: Future[bool] | None, work: Callable[..., Any], *args: Any,
                acks: tuple[AcksInFlight, float] | None = None, **kwargs: Any) -> Any:
    if acks is not None and acks[1] > 0:
        acks[0].wait_quiet(acks[1])
    if not first_time(check):
        log.warning("dropped a replayed request's work (%s): another replica handled it",
                    getattr(work, "__name__", "work"))
        raise Replayed("another replica handled this request")
    return run_logged(work, *args, **kwargs)


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
