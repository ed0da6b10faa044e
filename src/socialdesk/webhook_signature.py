"""Signing outbound webhooks, and checking a signature as a receiver should.

Every delivery carries
    X-Socialdesk-Timestamp: 1764244800            (Unix seconds when this attempt was sent)
    X-Socialdesk-Signature: v1=<hex HMAC-SHA256(secret, f"{timestamp}.{raw body}")>

A receiver recomputes the HMAC over the *raw* request body (before any JSON parsing),
compares in constant time, and refuses a timestamp outside its replay window (5 minutes
by default), as with Stripe's and Slack's signatures. Each retry is signed afresh with a
new timestamp; `X-Socialdesk-Delivery` stays the same, so a receiver dedupes on it.

The header may hold several comma-separated `v1=` values (e.g. while a secret is being
rotated); one match is enough.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime

SCHEME = "v1"
DEFAULT_TOLERANCE = 300  # seconds: how old (or how far ahead) a timestamp may be


class SignatureError(ValueError):
    """The request is not from socialdesk, was altered, or is too old (the message says which)."""


def sign(secret: str, timestamp: int, body: str | bytes) -> str:
    """The header value for `body` sent at `timestamp`: "v1=<hex>"."""
    raw = body.encode() if isinstance(body, str) else body
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + raw, hashlib.sha256)
    return f"{SCHEME}={mac.hexdigest()}"


def verify_signature(secret: str, timestamp: str | int, body: str | bytes, signature: str, *, now: datetime,
                     tolerance: float = DEFAULT_TOLERANCE) -> None:
    """Raise SignatureError unless `signature` signs `body` at `timestamp` with `secret`, within `tolerance` s of `now`."""
    try:
        sent_at = int(str(timestamp).strip())
    except ValueError:
        raise SignatureError(f"X-Socialdesk-Timestamp {str(timestamp)[:40]!r} is not Unix seconds") from None
    age = now.timestamp() - sent_at
    if abs(age) > tolerance:
        raise SignatureError(f"the timestamp is {age:.0f} s away from now (more than {tolerance:.0f} s): "
                             "a replay, or a clock that needs NTP")
    expected = sign(secret, sent_at, body)
    offered = [part.strip() for part in (signature or "").split(",") if part.strip().startswith(f"{SCHEME}=")]
    if not offered:
        raise SignatureError(f"no {SCHEME}= signature in X-Socialdesk-Signature")
    if not any(hmac.compare_digest(expected, candidate) for candidate in offered):
        raise SignatureError("the signature does not match: wrong secret, or the body was changed on the way")
