"""Shared pieces for the tests that talk to a running FakeBluesky: a clock the test moves,
an in-memory CredentialStore, and the client objects wired to the fake.

Import the fixtures by name (`from tests.networks.bluesky.pds_fixtures import *`)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from socialdesk.networks.base import StoredCredential
from socialdesk.networks.bluesky.fake.pds import FakeBluesky
from socialdesk.networks.bluesky.fake.world import World
from socialdesk.networks.bluesky.session import Session
from socialdesk.networks.bluesky.xrpc import XrpcClient

BRAND = "brand.bsky.social"
PASSWORD = "brand-app-password"


class Clock:
    """Now, as the test says: token expiry without sleeping."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0)
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self.now

    def advance(self, **delta: float) -> None:
        with self._lock:
            self.now += timedelta(**delta)


class MemoryStore:
    """A CredentialStore in a variable; counts locked loads and saves."""

    def __init__(self, credential: StoredCredential | None = None) -> None:
        self.credential = credential
        self.locked_loads = 0
        self.saves: list[StoredCredential] = []

    def load(self, *, lock: bool = False) -> StoredCredential | None:
        self.locked_loads += lock
        return self.credential

    def save(self, credential: StoredCredential) -> None:
        self.credential = credential
        self.saves.append(credential)

    def release(self) -> None:
        pass

    def delete(self) -> bool:
        existed, self.credential = self.credential is not None, None
        return existed


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def fake(clock: Clock) -> Iterator[FakeBluesky]:
    with FakeBluesky(World(brand_handle=BRAND, brand_password=PASSWORD, clock=clock)) as server:
        yield server


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=httpx.Timeout(5.0)) as client:
        yield client


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
def session(fake: FakeBluesky, http: httpx.Client, store: MemoryStore, clock: Clock) -> Session:
    return Session(http=http, store=store, handle=BRAND, app_password=PASSWORD, service_url=fake.url, clock=clock)


@pytest.fixture
def xrpc(fake: FakeBluesky, http: httpx.Client, session: Session, clock: Clock) -> XrpcClient:
    return XrpcClient(http, fake.url, session=session, clock=clock)


__all__ = ["BRAND", "PASSWORD", "Clock", "MemoryStore", "clock", "fake", "http", "session", "store", "xrpc"]
