"""What the brand's instance says about itself (/api/v2/instance), as far as socialdesk needs it.

Each server sets its own post limit and how many characters a link counts
(`configuration.statuses`), and may serve its streaming API from another host
(`configuration.urls.streaming`). When the instance cannot be asked, Mastodon's
defaults apply: 500 characters, 23 per link, the streaming API beside the REST one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

DEFAULT_MAX_CHARACTERS = 500
DEFAULT_RESERVED_PER_URL = 23


def host_of(base_url: str) -> str:
    """`https://mastodon.example:8443/` → `mastodon.example:8443` (the port kept: local fakes have one)."""
    return urlsplit(base_url if "://" in base_url else "https://" + base_url).netloc.lower()


def websocket_base(base_url: str) -> str:
    """The REST address with ws(s):// (Mastodon serves streaming there unless it says otherwise)."""
    parts = urlsplit(base_url)
    scheme = "ws" if parts.scheme == "http" else "wss"
    return f"{scheme}://{parts.netloc}"


@dataclass(frozen=True)
class InstanceConfig:
    domain: str  # the instance's own domain: what local accounts' handles get after "@"
    max_characters: int = DEFAULT_MAX_CHARACTERS
    characters_reserved_per_url: int = DEFAULT_RESERVED_PER_URL
    streaming_url: str = ""  # ws:// or wss:// base, without /api/v1/streaming
    reachable: bool = True  # False: these are the defaults, the instance did not answer

    @classmethod
    def defaults(cls, base_url: str) -> InstanceConfig:
        return cls(domain=host_of(base_url), streaming_url=websocket_base(base_url), reachable=False)

    @classmethod
    def from_json(cls, body: Any, base_url: str) -> InstanceConfig:
        """An Instance entity (v2; v1's `uri` and `urls.streaming_api` are read too) → InstanceConfig."""
        if not isinstance(body, Mapping):
            return cls.defaults(base_url)
        configuration = _mapping(body.get("configuration"))
        statuses = _mapping(configuration.get("statuses"))
        urls = _mapping(configuration.get("urls")) or _mapping(body.get("urls"))
        streaming = urls.get("streaming") or urls.get("streaming_api")
        domain = body.get("domain") or body.get("uri")
        return cls(
            domain=host_of(str(domain)) if isinstance(domain, str) and domain else host_of(base_url),
            max_characters=_positive(statuses.get("max_characters"), DEFAULT_MAX_CHARACTERS),
            characters_reserved_per_url=_positive(statuses.get("characters_reserved_per_url"),
                                                  DEFAULT_RESERVED_PER_URL),
            streaming_url=_websocket(streaming) or websocket_base(base_url),
        )


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _positive(value: Any, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else default


def _websocket(value: Any) -> str:
    if not isinstance(value, str) or not value.startswith(("ws://", "wss://", "http://", "https://")):
        return ""
    value = value.rstrip("/")
    if value.startswith("http"):  # some servers advertise https://; the socket is the same host
        value = "ws" + value[len("http"):]
    return value
