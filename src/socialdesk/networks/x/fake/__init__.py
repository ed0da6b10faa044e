"""FakeX: a local X API v2 for tests, the sandbox and the demo (see server.py)."""

from socialdesk.networks.x.fake.server import FakeX, OAuth1Keys, RecordedRequest

__all__ = ["FakeX", "OAuth1Keys", "RecordedRequest"]
