"""Redraws of a modal as the agent types: one at a time per modal, the newest keystroke last.

Slack sends a payload per keystroke, each with the view's hash as it was then. While one
redraw is on its way, the next keystrokes carry the hash it replaces: sent as they came,
most would lose (`hash_conflict`) and the count shown would often be a keystroke behind.
So a modal's keystrokes wait while its redraw is on the way (only the newest, by Slack's
`action_ts`), and one carrying a hash our own redraws replaced goes with the hash the last of
them returned. Any other hash (a saved reply's update) is sent as it came: a view changed
by something else still refuses a stale redraw, which loses cleanly.

The memory is this process's: with several replicas a modal's keystrokes may land on
different ones, and then the hash alone decides, as it would without this.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

Send = Callable[[str | None], str | None]  # sends with this hash; the view's new hash, or None if it lost
CHAIN = 20  # hashes of our own redraws remembered per modal
MODALS = 1000  # modals remembered; the least recently redrawn are forgotten


@dataclass(frozen=True)
class _Drawn:
    at: float  # action_ts of the newest keystroke drawn
    hashes: tuple[str, ...]  # the hashes our consecutive redraws replaced and made, the view's present one last


class Redraws:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiting: dict[str, tuple[float, str | None, Send]] = {}
        self._running: set[str] = set()
        self._drawn: OrderedDict[str, _Drawn] = OrderedDict()

    def draw(self, view_id: str, at: float, hash_: str | None, send: Send) -> None:
        """Redraw now, or leave it to the redraw on its way; dropped if a newer keystroke was drawn or waits."""
        with self._lock:
            drawn, waiting = self._drawn.get(view_id), self._waiting.get(view_id)
            if (drawn and at <= drawn.at) or (waiting and at <= waiting[0]):
                return
            self._waiting[view_id] = (at, hash_, send)
            if view_id in self._running:
                return
            self._running.add(view_id)
        try:
            while (job := self._next(view_id)) is not None:
                at, sent, send = job
                made = send(sent)
                if made is not None:
                    self._drew(view_id, at, sent, made)
        except BaseException:
            with self._lock:
                self._running.discard(view_id)
                self._waiting.pop(view_id, None)
            raise

    def _next(self, view_id: str) -> tuple[float, str | None, Send] | None:
        with self._lock:
            job = self._waiting.pop(view_id, None)
            if job is None:
                self._running.discard(view_id)
                return None
            at, hash_, send = job
            drawn = self._drawn.get(view_id)
            if drawn and hash_ in drawn.hashes:  # sent before our last redraw landed: go with what it made
                hash_ = drawn.hashes[-1]
            return at, hash_, send

    def _drew(self, view_id: str, at: float, sent: str | None, made: str) -> None:
        with self._lock:
            drawn = self._drawn.get(view_id)
            chain = drawn.hashes if drawn and sent in drawn.hashes else (sent,) if sent else ()
            self._drawn[view_id] = _Drawn(at, (*chain, made)[-CHAIN:])
            self._drawn.move_to_end(view_id)
            while len(self._drawn) > MODALS:
                self._drawn.popitem(last=False)
