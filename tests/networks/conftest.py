"""Fixtures every network's tests share."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    """The client a network's parts are built with, talking to its fake over local HTTP."""
    with httpx.Client(timeout=5) as client:
        yield client
