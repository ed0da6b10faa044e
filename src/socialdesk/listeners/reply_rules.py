"""How replies are counted where they go, read from the reply modal's metadata (before the ack, no database)."""

from __future__ import annotations

from typing import Any

from socialdesk.listeners.deps import Deps
from socialdesk.networks import registry
from socialdesk.networks.base import NetworkInfo


def modal_network(meta: dict[str, Any]) -> NetworkInfo | None:
    """The case's network, from the modal's metadata: checked without the database, before the ack."""
    name = _network_name(meta)
    return registry.info(name) if name else None


def modal_rules(deps: Deps, meta: dict[str, Any]) -> NetworkInfo | None:
    """How replies on the modal's network are counted here; None when its metadata names no known network."""
    name = _network_name(meta)
    return reply_rules(deps, name) if name else None


def reply_rules(deps: Deps, name: str) -> NetworkInfo:
    """The limit and the count replies on `name` are held to: the configured network's (its server's own,
    when it sets one), else the network's static description."""
    network = deps.networks.get(name)
    return network.text_rules() if network is not None else registry.info(name)


def _network_name(meta: dict[str, Any]) -> str | None:
    name = meta.get("network")
    return name if isinstance(name, str) and name in registry.names() else None
