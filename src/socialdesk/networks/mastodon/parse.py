"""Mastodon JSON → our `Post` and `Author` (pure: no I/O).

A Status (docs/Status.md) carries its `content` as HTML; `text_of` turns it into the
plain text an agent reads (see `socialdesk.networks.mastodon.content`). Ids are the
instance's own (a remote post has another id on its home server), strings holding
snowflakes: milliseconds since the epoch shifted left 16 bits, so ids sort by time.

Handles are `account.acct` with the instance: a local account's acct is a bare
username, so it gets `@<instance domain>` (`acmecare@mastodon.example`); a remote one
already reads `user@their.server`. A status's conversation is its thread's root: the
caller passes it (`threads.Threads.root_of`) when it knows it; else the post itself
when it starts a thread, else its parent.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from socialdesk.domain import Author, Post
from socialdesk.networks.mastodon.api import parse_time
from socialdesk.networks.mastodon.content import html_to_text, without_surrogates
from socialdesk.networks.mastodon.links import is_newer

__all__ = ["NETWORK", "BadStatus", "author_from_account", "check_status", "handle_of", "is_newer",
           "post_from_status", "snowflake_at", "text_of", "time_of"]

NETWORK = "mastodon"
MAX_TEXT = 20_000  # Mastodon's limit is 500 by default, but other servers federate far longer posts
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MEDIA_KINDS = {"image": "image", "gifv": "GIF", "video": "video", "audio": "audio"}


class BadStatus(TypeError):
    """A status we cannot read (a field of the wrong type, markup that broke us): it is skipped."""


_ID = (str, int)
# The fields we read and the types they may have (None: absent). Federated statuses are only as
# well formed as the servers that wrote them.
_FIELDS: dict[str, tuple[type, ...]] = {
    "content": (str,), "spoiler_text": (str,), "in_reply_to_id": _ID, "in_reply_to_account_id": _ID,
    "media_attachments": (list,), "mentions": (list,), "language": (str,), "url": (str,), "uri": (str,),
}
_ACCOUNT_FIELDS: dict[str, tuple[type, ...]] = {
    "id": _ID, "acct": (str,), "username": (str,), "display_name": (str,), "url": (str,),
    "avatar": (str,), "avatar_static": (str,),
}


def _check_fields(value: Mapping[str, Any], fields: Mapping[str, tuple[type, ...]], what: str) -> None:
    for key, kinds in fields.items():
        field = value.get(key)
        if field is not None and (not isinstance(field, kinds) or isinstance(field, bool)):
            raise BadStatus(f"{what}.{key} is a {type(field).__name__}")


def check_status(status: Any) -> None:
    """BadStatus unless what `post_from_status` reads has the types it relies on (the reblog's too)."""
    if not isinstance(status, Mapping):
        raise BadStatus(f"a status is an object, not a {type(status).__name__}")
    status_id = status.get("id")
    if not isinstance(status_id, _ID) or isinstance(status_id, bool) or status_id == "":
        raise BadStatus(f"status.id is a {type(status_id).__name__}")
    account = status.get("account")
    if not isinstance(account, Mapping):
        raise BadStatus(f"status.account is a {type(account).__name__}")
    _check_fields(status, _FIELDS, "status")
    _check_fields(account, _ACCOUNT_FIELDS, "status.account")
    reblog = status.get("reblog")
    if isinstance(reblog, Mapping) and reblog.get("id"):
        _check_fields(reblog, _FIELDS, "status.reblog")
        if not isinstance(reblog.get("id"), _ID) or isinstance(reblog.get("id"), bool):
            raise BadStatus("status.reblog.id is not an id")


def snowflake_at(when: datetime) -> str:
    """The smallest id Mastodon gives a post made at `when`: `min_id` for "everything since then"."""
    milliseconds = int(when.astimezone(UTC).timestamp() * 1000)
    return str(max(milliseconds, 0) << 16)


def time_of(status_id: str) -> datetime | None:
    """When a snowflake id was made (None: not a snowflake, e.g. an old sequential id)."""
    if not status_id.isdigit() or int(status_id) < 1 << 40:
        return None
    return _EPOCH + timedelta(milliseconds=int(status_id) >> 16)


def handle_of(acct: str, instance_host: str) -> str:
    """`acct` with its server: a local account (bare username) gets the instance's domain."""
    acct = acct.strip().lstrip("@")
    return acct if "@" in acct or not acct or not instance_host else f"{acct}@{instance_host}"


def author_from_account(account: Mapping[str, Any], *, instance_host: str) -> Author:
    """`instance_host` empty (the instance did not say its domain): a local account's profile host stands in."""
    acct = str(account.get("acct") or account.get("username") or "")
    host = instance_host or urlsplit(str(account.get("url") or "")).netloc
    return Author(
        network=NETWORK,
        external_id=str(account.get("id") or ""),
        handle=handle_of(acct, host),
        name=str(account.get("display_name") or account.get("username") or acct),
        followers=_count(account.get("followers_count")),
        avatar_url=account.get("avatar_static") or account.get("avatar") or None,
        created_at=parse_time(account.get("created_at")),  # the day the account was made (spam: its age)
    )


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _mention_handles(status: Mapping[str, Any], instance_host: str) -> dict[str, str]:
    """A mention's profile URL → its handle with server (what the text shows as `@user`)."""
    found: dict[str, str] = {}
    for mention in status.get("mentions") or []:
        if not isinstance(mention, Mapping) or not mention.get("acct"):
            continue
        host = instance_host or urlsplit(str(mention.get("url") or "")).netloc
        handle = handle_of(str(mention["acct"]), host)
        for key in ("url", "uri"):
            if isinstance(mention.get(key), str):
                found[mention[key]] = handle
    return found


def _media_line(attachment: Any) -> str:
    if not isinstance(attachment, Mapping):
        return ""
    kind = _MEDIA_KINDS.get(str(attachment.get("type") or ""), "attachment")
    description = " ".join(str(attachment.get("description") or "").split())
    return f"[{kind}: {description}]" if description else f"[{kind}]"


def _poll_line(poll: Any) -> str:
    if not isinstance(poll, Mapping):
        return ""
    options = [" ".join(str(o.get("title") or "").split()) for o in poll.get("options") or []
               if isinstance(o, Mapping)]
    return f"[poll: {' / '.join(o for o in options if o)}]" if options else ""


def text_of(status: Mapping[str, Any], *, instance_host: str = "") -> str:
    """The status as plain text: "CW: …" first, the content, then its media and poll described.

    `instance_host` completes local mentions (`@ann` → `@ann@mastodon.example`); without it
    the mention's profile URL says where the account lives.
    """
    content = html_to_text(str(status.get("content") or ""), mentions=_mention_handles(status, instance_host))
    parts = []
    warning = " ".join(str(status.get("spoiler_text") or "").split())
    if warning:
        parts.append(f"CW: {warning}")
    if content:
        parts.append(content)
    extras = [line for line in (_media_line(a) for a in status.get("media_attachments") or []) if line]
    extras.append(_poll_line(status.get("poll")))
    if any(extras):
        parts.append("\n".join(e for e in extras if e))
    text = without_surrogates("\n\n".join(parts))  # a warning or a description may hold them too
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT - 1].rstrip() + "…"


def post_url(status: Mapping[str, Any], *, instance_host: str, handle: str) -> str:
    """The status on its home server (`url`), else where our instance shows it."""
    for key in ("url", "uri"):
        value = status.get(key)
        if isinstance(value, str) and value.startswith(("https://", "http://")):
            return value
    return f"https://{instance_host}/@{handle}/{status.get('id')}"


def post_from_status(status: Mapping[str, Any], *, instance_host: str, conversation_id: str | None = None,
                     accounts: Mapping[str, str] | None = None) -> Post:
    """A Status → Post. A reblog is marked `is_repost`, keeps its own id and booster, shows the original.

    `accounts` (id → handle) names accounts a reply may answer without mentioning them (the brand).

    Raises BadStatus (a TypeError, which callers skip the status for) and nothing else: reading a
    status asks nothing of the network, so whatever fails here is the status's, and it must not stop
    a stream or a poll.
    """
    check_status(status)
    try:
        return _post_from_status(status, instance_host=instance_host, conversation_id=conversation_id,
                                 accounts=accounts)
    except Exception as exc:  # noqa: BLE001 - see above: anything else would retry the same status forever
        raise BadStatus(f"status {status['id']} could not be read: {type(exc).__name__}") from exc


def _post_from_status(status: Mapping[str, Any], *, instance_host: str, conversation_id: str | None,
                      accounts: Mapping[str, str] | None) -> Post:
    status_id = str(status["id"])
    author = author_from_account(status["account"], instance_host=instance_host)
    reblog = status.get("reblog")
    shown: Mapping[str, Any] = reblog if isinstance(reblog, Mapping) and reblog.get("id") else status
    in_reply_to = shown.get("in_reply_to_id")
    in_reply_to = str(in_reply_to) if in_reply_to else None
    if conversation_id is None:
        conversation_id = in_reply_to or str(shown["id"])
    metrics = {name: _count(shown.get(key)) for key, name in (
        ("replies_count", "reply_count"), ("reblogs_count", "repost_count"),
        ("favourites_count", "like_count"), ("quotes_count", "quote_count"),
    ) if key in shown}
    created = parse_time(status.get("created_at")) or datetime.now(UTC)
    lang = shown.get("language")
    return Post(
        network=NETWORK,
        external_id=status_id,
        url=post_url(shown, instance_host=instance_host, handle=author.handle),
        author=author,
        text=text_of(shown, instance_host=instance_host),
        created_at=created,
        lang=lang if isinstance(lang, str) and lang else None,
        conversation_id=conversation_id,
        in_reply_to_id=in_reply_to,
        is_repost=shown is not status,
        is_reply=bool(in_reply_to),
        in_reply_to_account=_replied_account(shown, instance_host, accounts or {}),
        metrics=metrics,
        raw=dict(status),
    )


def _replied_account(status: Mapping[str, Any], instance_host: str, accounts: Mapping[str, str]) -> str | None:
    """The handle of the account `status` answers (a thread of one's own names the author)."""
    account_id = status.get("in_reply_to_account_id")
    if not account_id:
        return None
    if str(account_id) in accounts:
        return accounts[str(account_id)]
    for mention in status.get("mentions") or []:
        if isinstance(mention, Mapping) and str(mention.get("id")) == str(account_id) and mention.get("acct"):
            return handle_of(str(mention["acct"]), instance_host)
    account = status.get("account")
    if isinstance(account, Mapping) and str(account.get("id")) == str(account_id):
        return handle_of(str(account.get("acct") or ""), instance_host) or None
    return None
