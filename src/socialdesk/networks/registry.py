"""The networks socialdesk knows, by name: one package each, found here and nowhere else.

A network package has a `settings` module (its `SETTINGS` class, which config.Settings
inherits, and `HOW_TO_SET` hints) and a `network` module with `INFO` (a NetworkInfo)
and `build(settings, *, http, clock, credentials) -> Network`. Modules are imported when
first asked for, so `socialdesk --help` pays for none of them.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from datetime import datetime
from types import ModuleType
from typing import TYPE_CHECKING, Any

from socialdesk.networks.base import CredentialStore, Network, NetworkInfo
from socialdesk.slack.text import echoed

if TYPE_CHECKING:
    import httpx

PACKAGES = ("x", "bluesky", "mastodon")


class UnknownNetwork(ValueError):
    """A name no network package has; the message lists the known ones."""


def names() -> tuple[str, ...]:
    return PACKAGES


def _module(name: str, part: str) -> ModuleType:
    if name not in PACKAGES:
        raise UnknownNetwork(f"unknown network {echoed(name)}; choose one of: {', '.join(PACKAGES)}")
    return importlib.import_module(f"socialdesk.networks.{name}.{part}")


def info(name: str) -> NetworkInfo:
    return _module(name, "network").INFO  # type: ignore[no-any-return]


def label(name: str) -> str:
    """The network's name for people; an unknown one (an old row) is shown as stored."""
    try:
        return info(name).label
    except UnknownNetwork:
        return name


def settings_class(name: str) -> type:
    return _module(name, "settings").SETTINGS  # type: ignore[no-any-return]


def settings_classes() -> list[type]:
    return [settings_class(name) for name in PACKAGES]


def how_to_set() -> dict[str, str]:
    hints: dict[str, str] = {}
    for name in PACKAGES:
        hints.update(_module(name, "settings").HOW_TO_SET)
    return hints


def build(settings: Any, *, http: httpx.Client, clock: Callable[[], datetime],
          credentials: Callable[[str], CredentialStore]) -> dict[str, Network]:
    """Every network, with the parts its settings configure (none: rules show what to set).

    `credentials(name)` is where a network keeps its brand account's tokens.
    """
    return {name: _module(name, "network").build(settings, http=http, clock=clock,
                                                 credentials=credentials)
            for name in PACKAGES}


def local_plays(*, speed: float, demo: bool) -> list[Any]:
    """Every network that has a local stand-in, started (`LocalPlay`s; stop each when done)."""
    plays = []
    try:
        for name in PACKAGES:
            plays.append(_module(name, "fake.local").start(speed=speed, demo=demo))
    except BaseException:
        for play in plays:
            play.stop()
        raise
    return plays


def cli_modules() -> list[ModuleType]:
    """Each network's `cli` module, for those that add commands (`socialdesk auth <network>`)."""
    found = []
    for name in PACKAGES:
        try:
            found.append(_module(name, "cli"))
        except ModuleNotFoundError as exc:
            if exc.name != f"socialdesk.networks.{name}.cli":
                raise
    return found
