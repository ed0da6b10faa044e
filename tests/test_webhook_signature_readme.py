"""Webhook signatures as a CRM checks them: with the README's `verify()` copied as it is, and fixed vectors.

The deliveries are signed by `socialdesk.webhook_signature.sign`; checking them only with
the module that makes them would pass whatever both agree on.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

from socialdesk.webhook_signature import sign

README = Path(__file__).resolve().parents[1] / "README.md"
SECRET = "whsec-fixed-vector"
STAMP = 1764244800
BODY = '{"type":"case.opened","event":{"id":1}}'
# HMAC-SHA256(SECRET, f"{STAMP}.{BODY}"), computed once outside socialdesk.
VECTOR = "v1=18bd943a7351b6dd6aad5103241fddf05ddc1e0441a734c0ab076304abb2c2ff"


def readme_verify():  # type: ignore[no-untyped-def]
    """The README's receiver snippet, run as a CRM would paste it."""
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.DOTALL)
    [snippet] = [b for b in blocks if "def verify(" in b]
    namespace: dict = {}
    exec(compile(snippet, "README.md", "exec"), namespace)  # noqa: S102 - the snippet is ours, shipped for copying
    return namespace["verify"]


def headers(stamp: int, signature: str) -> dict[str, str]:
    return {"X-Socialdesk-Timestamp": str(stamp), "X-Socialdesk-Signature": signature}


def test_the_signature_matches_the_fixed_vector():
    assert sign(SECRET, STAMP, BODY) == VECTOR
    assert sign(SECRET, STAMP, BODY.encode()) == VECTOR


def test_the_readme_snippet_accepts_what_socialdesk_signs_and_nothing_else():
    verify = readme_verify()
    now = int(time.time())
    signed = sign(SECRET, now, BODY)
    assert verify(SECRET, headers(now, signed), BODY.encode())
    assert verify(SECRET, headers(now, f"v1=00ff, {signed}"), BODY.encode())  # a rotated list of signatures
    assert not verify(SECRET, headers(now, signed), BODY.replace("1", "2").encode())  # tampered body
    assert not verify("another-secret", headers(now, signed), BODY.encode())
    old = now - 301
    assert not verify(SECRET, headers(old, sign(SECRET, old, BODY)), BODY.encode())  # a replay, too old
    assert not verify(SECRET, headers(STAMP, VECTOR), BODY.encode())  # the vector's time is long past
