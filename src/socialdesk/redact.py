"""Redaction for exports: e-mail addresses, phone numbers and @handles out; links kept working.

Patterns use possessive quantifiers and bounded repeats so hostile input cannot make
them backtrack for long.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from urllib.parse import urlsplit

from socialdesk.networks import registry

_URL = re.compile(r"(?i)\b(?:https?://|www\.)[^\s<>\"]+")
_FEDI_HANDLE = re.compile(r"(?<![\w@＠])[@＠]\w[\w.-]*@[\w-]+(?:\.[\w-]+)+")  # @user@instance.social
_EMAIL = re.compile(r"(?<![\w.+%-])\w[\w.+%'-]*@[\w-]+(?:\.[\w-]+)*\.\w{2,}")
_HANDLE = re.compile(r"(?<![\w@＠])[@＠](\w(?:[\w.-]*\w)?)")
# Digit groups with single separators; `_is_phone` decides (dates, prices, versions stay).
_PHONE = re.compile(r"(?<![\w+#$€£¥.,/-])(?:\+|00)?\(?\d{1,5}+\)?(?:[ .\-]?\(?\d{1,5}+\)?){1,6}+(?![\w])(?![.,]\d)")
_DATE = re.compile(r"^(?:\d{4}[-./]\d{1,2}[-./]\d{1,2}|\d{1,2}[-./]\d{1,2}[-./]\d{2,4})$")


def _is_phone(candidate: str) -> bool:
    digits = sum(ch.isdigit() for ch in candidate)
    if not 7 <= digits <= 15 or _DATE.match(candidate.strip("()")):
        return False
    international = candidate.startswith(("+", "00"))
    separators = [ch for ch in candidate if ch in " .-()"]
    if not international and not separators:
        return digits >= 10  # a bare 7–9 digit number is more likely an order or ticket number
    groups = re.split(r"[ .\-()]+", candidate.strip("()"))
    if set(separators) == {"."} and (len(separators) == 1 or (len(groups) == 4 and all(len(g) <= 3 for g in groups))):
        return False  # a decimal number or an IP address
    return True


def _phones(text: str) -> str:
    return _PHONE.sub(lambda m: "[phone]" if _is_phone(m.group(0)) else m.group(0), text)


def redact_url(url: str) -> str:
    """E-mail addresses in a link, and the account a network's link names (each network says how)."""
    url = _EMAIL.sub("[email]", url)
    try:
        urlsplit(url if "://" in url else "https://" + url)
    except ValueError:
        return "[link]"
    for name in registry.names():
        redacted = registry.info(name).redact_link(url)
        if redacted is not None:
            return redacted
    return url


def redact(text: str, *, keep_handles: Collection[str] = frozenset()) -> str:
    """Text without e-mail addresses, phone numbers and @handles (ours, in `keep_handles`, stay).

    Links keep working where they can (see `redact_url`); numbers that are not phone
    numbers (prices, dates, times, versions, order numbers under 10 digits) stay.
    """
    keep = {h.lower().lstrip("@") for h in keep_handles}
    out, at = [], 0
    for match in _URL.finditer(text):
        out.append(_redact_plain(text[at:match.start()], keep))
        out.append(redact_url(match.group(0)))
        at = match.end()
    out.append(_redact_plain(text[at:], keep))
    return "".join(out)


def _redact_plain(text: str, keep: set[str]) -> str:
    text = _FEDI_HANDLE.sub("[handle]", text)
    text = _EMAIL.sub("[email]", text)
    text = _phones(text)
    return _HANDLE.sub(lambda m: m.group(0) if m.group(1).lower() in keep else "[handle]", text)
