"""Networks for tests that hand the poller sources of their own (over FakeX, or a recorded one)."""

from __future__ import annotations

from socialdesk.networks.base import Network, Source
from socialdesk.networks.x import network as x


def x_network(search: Source | None = None, mentions: Source | None = None, *, follow_ups: bool = True) -> dict[str, Network]:
    sources = {kind: s for kind, s in (("search", search), ("mentions", mentions)) if s is not None}
    return {"x": Network(info=x.INFO, sources=sources, follow_ups=x.FollowUpSearch() if follow_ups and search else None)}
