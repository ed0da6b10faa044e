"""Bluesky on 127.0.0.1 for tests: a fake PDS, and a fake Jetstream relaying every post made in it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from socialdesk.networks.bluesky.fake.jetstream import FakeJetstream
from socialdesk.networks.bluesky.fake.pds import FakeBluesky


@contextmanager
def local_jetstream(pds: FakeBluesky) -> Iterator[FakeJetstream]:
    """A Jetstream that first replays the recorded golden events, then every post made in `pds`."""
    with FakeJetstream(golden=True) as server:
        unsubscribe = pds.world.subscribe(server.publish)
        try:
            yield server
        finally:
            unsubscribe()
