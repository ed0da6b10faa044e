"""HTTP clients shared by a test process for the local servers (the Slack emulator, the app under test).

`httpx.post(...)` builds a client per call, and each client loads the CA bundle into a new
SSL context: about 25 ms of CPU a call, even to a plain-HTTP local server. The suite makes
tens of thousands of such calls (every `wait_for` on a card polls the emulator), so they go
through this shared client instead. Its idle connections are dropped after a second, well
before a Node server closes them (5 s), so a request never lands on a connection being closed.
"""

from __future__ import annotations

import functools
import ssl
from http.cookiejar import CookieJar, DefaultCookiePolicy

import httpx

KEEPALIVE_SECONDS = 1.0


@functools.cache
def local() -> httpx.Client:
    """The process's client for the emulator and the proxy (thread-safe); per-request timeouts still apply."""
    return httpx.Client(timeout=10, limits=httpx.Limits(keepalive_expiry=KEEPALIVE_SECONDS), cookies=_no_cookies())


@functools.cache
def to_app() -> httpx.Client:
    """For requests to the app under test: no connection is kept, since the app's HTTP server, told to
    stop, waits (up to 5 s) for the connections still open, and every test would wait with it."""
    return httpx.Client(timeout=10, limits=httpx.Limits(max_keepalive_connections=0), cookies=_no_cookies())


def _no_cookies() -> CookieJar:
    """A jar that keeps none: shared clients must not carry one server's (or test's) cookies to the next
    (cookies go by host, not port, and every local server is 127.0.0.1)."""
    return CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))


@functools.cache
def ssl_context() -> ssl.SSLContext:
    """One verifying context for the apps a test process builds (app.http_client)."""
    return httpx.create_ssl_context()
