"""Links to Mastodon profiles and posts, and reading the links agents paste (pure).

There is no one Mastodon host: a handle carries its server (`ann@social.example`), a
status link is `https://<host>/@<user>/<id>` (`/@<user>@<their server>/<id>` when the
host shows another server's account), and the id is the host's own.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

_POST_PATH = re.compile(r"^/@[\w.-]+(?:@[\w.-]+)?/(\d{1,30})/?$")
_AP_POST_PATH = re.compile(r"^/users/[\w.-]+/statuses/(\d{1,30})/?$")
_ACCOUNT_PATH = re.compile(r"^/(?:@[^/]+|users/[^/]+)(?P<rest>/.*)?$")
# Links that name an account: what `socialdesk forget` must redact besides @handle. The
# handle is `user@server`, so this finds links another server makes (`/@user@server`);
# its own server's `server/@user` puts the parts the other way round (see the lead's notes).
HANDLE_LINK = r"/@{handle}(?![\w@.-])"
GUESSED_SERVER = "mastodon.social"


def split_handle(handle: str) -> tuple[str, str]:
    """`ann@social.example` → ("ann", "social.example"); a bare name has no server ("")."""
    user, _, server = handle.strip().lstrip("@").partition("@")
    return user, server


def profile_url(handle: str) -> str:
    """The account on its own server. Our handles always carry one; for a bare name (typed by
    someone) the largest server's address is the best guess there is."""
    user, server = split_handle(handle)
    return f"https://{server or GUESSED_SERVER}/@{user}" if user else ""


def status_url(base_url: str, handle: str, status_id: str) -> str:
    """Where the instance at `base_url` shows one of its statuses."""
    user, server = split_handle(handle)
    account = f"{user}@{server}" if server and server != urlsplit(base_url).netloc else user
    return f"{base_url.rstrip('/')}/@{account or 'unknown'}/{status_id}"


def conversation_url(conversation_id: str, fallback: str) -> str:
    """A thread's root is an id on the brand's instance only; without the host the first post's link stands in."""
    return fallback


def reply_link_id(url: str) -> str | None:
    """The status id a pasted link names (`https://host/@user/123`, `…/@user@server/123`, `…/users/u/statuses/123`)."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return None
    match = _POST_PATH.match(parts.path) or _AP_POST_PATH.match(parts.path)
    return match.group(1) if match else None


def redact_link(url: str) -> str | None:
    """The link with the account it names blanked (`https://host/@[handle]/123`); None: it names none."""
    try:
        parts = urlsplit(url if "://" in url else "https://" + url)
    except ValueError:
        return None
    match = _ACCOUNT_PATH.match(parts.path)
    if not parts.hostname or match is None:
        return None
    prefix = "/users/" if parts.path.startswith("/users/") else "/@"
    return f"{parts.scheme}://{parts.netloc}{prefix}[handle]{match.group('rest') or ''}"


def is_newer(a: str, b: str) -> bool:
    """Status ids are snowflakes, numbers that grow with time (compared as numbers: "10" is newer than "9")."""
    return (int(a) if a.isdigit() else -1) > (int(b) if b.isdigit() else -1)
