"""A reply's conversation is its thread's root: found from the parent when known, else asked once.

A status names only its parent (`in_reply_to_id`), so the root comes from what was
seen before (the parent's root, kept here) or from /api/v1/statuses/:id/context, whose
`ancestors` start at the root (Mastodon lists at most 40: a deeper thread's conversation
starts at the 40th post up, the same for every later reply read the same way).

Never raises: when /context fails (down, rate limited, the parent is private) the parent
stands in for the root and nothing is remembered, so a later read may find the real one.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from socialdesk.networks.base import SourceError
from socialdesk.networks.mastodon.api import MastodonApi

log = logging.getLogger(__name__)


class Threads:
    def __init__(self, api: MastodonApi, *, size: int = 50_000) -> None:
        self._api, self._size = api, size
        self._roots: OrderedDict[str, str] = OrderedDict()  # status id → its thread's root, least recent first
        self._lock = threading.Lock()  # the stream, the polls and the replies share one cache

    def known_root(self, status: Mapping[str, Any]) -> str | None:
        """The root without asking the instance (None: it would have to be asked)."""
        status_id = str(status.get("id") or "")
        parent = status.get("in_reply_to_id")
        if not parent:
            return status_id or None
        with self._lock:
            for key in (status_id, str(parent)):
                root = self._roots.get(key)
                if root is not None:
                    self._roots.move_to_end(key)
                    return root
        return None

    def root_of(self, status: Mapping[str, Any]) -> str:
        """The id of the thread's first post (the status itself when it starts one)."""
        known = self.known_root(status)
        if known is not None:
            if status.get("id"):
                self.remember(str(status["id"]), known)  # so its replies find the root too
            return known
        status_id, parent = str(status.get("id") or ""), str(status["in_reply_to_id"])
        try:
            context = self._api.get(f"/api/v1/statuses/{status_id}/context").json
        except SourceError as exc:
            log.info("the thread of Mastodon status %s could not be read (%s); its parent stands in", status_id, exc)
            return parent
        ancestors = [a for a in (context or {}).get("ancestors") or [] if isinstance(a, Mapping) and a.get("id")] \
            if isinstance(context, Mapping) else []
        if not ancestors:
            return parent  # the parent is not visible to the brand (deleted, private): it is as far as we see
        root = str(ancestors[0]["id"])
        for ancestor in ancestors:
            self.remember(str(ancestor["id"]), root)
        self.remember(status_id, root)
        return root

    def remember(self, status_id: str, root: str) -> None:
        """`status_id` belongs to the thread starting at `root` (a reply the brand just posted, say)."""
        with self._lock:
            self._roots[status_id] = root
            self._roots.move_to_end(status_id)
            while len(self._roots) > self._size:
                self._roots.popitem(last=False)
