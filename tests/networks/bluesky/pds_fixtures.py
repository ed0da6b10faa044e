"""Shared pieces for the tests that talk to a running FakeBluesky: a clock the test moves,
an in-memory CredentialStore, and the client objects wired to the fake.

Import the fixtures by name (`from tests.networks.bluesky.pds_fixtures import *`)."""

from __future__ import annotations

from collections.abc import Iterator


import httpx
import pytest

from socialdesk.networks.base import StoredCredential
from socialdesk.networks.bluesky.fake.pds import FakeBluesky
from socialdesk.networks.bluesky.fake.world import World
from socialdesk.networks.bluesky.session import Session
from socialdesk.networks.bluesky.xrpc import XrpcClient
from tests.support.clock import Clock

BRAND = "brand.bsky.social"
PASSWORD = "brand-app-password"


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
def store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
def session(fake: FakeBluesky, http: httpx.Client, store: MemoryStore, clock: Clock) -> Session:
    return Session(http=http, store=store, handle=BRAND, app_password=PASSWORD, service_url=fake.url, clock=clock)


@pytest.fixture
def xrpc(fake: FakeBluesky, http: httpx.Client, session: Session, clock: Clock) -> XrpcClient:
    return XrpcClient(http, fake.url, session=session, clock=clock)


__all__ = ["BRAND", "PASSWORD", "Clock", "MemoryStore", "clock", "fake", "session", "store", "xrpc"]
