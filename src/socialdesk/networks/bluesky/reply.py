"""Public replies on Bluesky as the brand: a post record with `reply` strong refs.

A reply names its parent (the customer's post) and the thread's root by strong ref
({uri, cid}): the parent's cid and its own `reply.root` come from
`app.bsky.feed.getPosts`, then `com.atproto.repo.createRecord` writes the post into
the brand's repo with facets for links, mentions and hashtags (`text.facets`).

Failures are ReplyFailed with a message for the agent who clicked Send (`kind`):

    too_long         over 300 graphemes (checked before any request; or Bluesky said so)
    gone             the customer's post was deleted or is not visible
    not_allowed      the author limits who may reply (threadgate)
    auth             the brand account cannot sign in: an admin fixes the settings
    rate_limited     Bluesky's quota is spent until `reset_at`
    unavailable      Bluesky did not take the request (5xx, no connection): safe to retry
    unknown_outcome  the request was sent but no answer came back: check before resending
    rejected         any other refusal, with Bluesky's detail

Bluesky has no idempotency key; the caller sends each key once and this module never
repeats a createRecord that may have reached Bluesky (a 401/ExpiredToken answer means
it was not processed: the client renews the token and sends it once more).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from socialdesk.networks.base import (
    AuthError,
    AuthUnavailable,
    RateLimited,
    ReplyFailed,
    SentReply,
)
from socialdesk.networks.bluesky.parse import (
    POST_COLLECTION,
    BadUri,
    post_url,
    split_at_uri,
)
from socialdesk.networks.bluesky.session import Session
from socialdesk.networks.bluesky.text import MAX_GRAPHEMES, facets, grapheme_length
from socialdesk.networks.bluesky.xrpc import (
    XrpcClient,
    XrpcRejected,
    XrpcUnavailable,
    utcnow,
)

log = logging.getLogger(__name__)

_TOO_LONG = ("grapheme", "longer than", "too long")
_GONE = ("not found", "could not locate", "record not found")


def _iso(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


class BlueskyReplier:
    """A `Replier` posting as the session's account."""

    def __init__(self, xrpc: XrpcClient, session: Session, *,
                 resolve_handle: Callable[[str], str | None] | None = None,
                 langs: Sequence[str] = (), clock: Callable[[], datetime] = utcnow) -> None:
        self._xrpc, self._session, self._clock = xrpc, session, clock
        self._resolve = resolve_handle or (lambda handle: None)
        self._langs = list(langs)[:3]  # post.langs maxLength

    def reply(self, text: str, in_reply_to: str, *, idempotency_key: str) -> SentReply:
        length = grapheme_length(text)
        if length > MAX_GRAPHEMES:
            raise ReplyFailed(
                f"The reply is {length} characters; Bluesky allows {MAX_GRAPHEMES} "
                f"(emoji and accented letters count as one). Shorten it by {length - MAX_GRAPHEMES}.",
                kind="too_long")
        if not text.strip():
            raise ReplyFailed("The reply is empty; write something before sending.", kind="rejected")
        try:
            split_at_uri(in_reply_to)
        except BadUri as exc:
            raise ReplyFailed(f"This case's post id is not a Bluesky post ({exc}).", kind="rejected") from exc
        failures = (AuthError, RateLimited, XrpcUnavailable, XrpcRejected)
        try:
            account = self._session.account()
            parent, root = self._thread_refs(in_reply_to)
        except failures as exc:
            raise self._failed(exc, sending=False) from exc
        record: dict[str, Any] = {
            "$type": POST_COLLECTION,
            "text": text,
            "createdAt": _iso(self._clock()),
            "reply": {"root": root, "parent": parent},
        }
        found = facets(text, self._resolve)
        if found:
            record["facets"] = found
        if self._langs:
            record["langs"] = self._langs
        try:
            body = self._xrpc.post("com.atproto.repo.createRecord",
                                   {"repo": account.account_id, "collection": POST_COLLECTION, "record": record}).body
        except failures as exc:
            raise self._failed(exc, sending=True) from exc
        uri = body.get("uri")
        if not isinstance(uri, str):
            raise ReplyFailed("Bluesky answered without the new post's id; check the brand's profile "
                              "before sending again.", kind="unknown_outcome")
        _, _, rkey = split_at_uri(uri)
        log.info("replied on Bluesky to %s as %s (key %s)", in_reply_to, uri, idempotency_key)
        return SentReply(id=uri, url=post_url(account.account_handle or account.account_id or "", rkey), text=text)

    def _thread_refs(self, uri: str) -> tuple[dict[str, str], dict[str, str]]:
        """(parent, root) strong refs for a reply to `uri`."""
        posts = self._xrpc.get("app.bsky.feed.getPosts", {"uris": [uri]}).body.get("posts") or []
        view = next((p for p in posts if isinstance(p, dict) and p.get("uri") == uri and p.get("cid")), None)
        if view is None:
            raise ReplyFailed("The reply was not sent: the customer's post was deleted or is no longer "
                              "visible on Bluesky. Resolve the case or contact them another way.", kind="gone")
        if (view.get("viewer") or {}).get("replyDisabled"):
            raise ReplyFailed("The reply was not sent: the author only lets some accounts reply to this "
                              "thread. Open it in Bluesky, or mark the case as replied.", kind="not_allowed")
        parent = {"uri": view["uri"], "cid": view["cid"]}
        root = ((view.get("record") or {}).get("reply") or {}).get("root") or {}
        if isinstance(root.get("uri"), str) and isinstance(root.get("cid"), str):
            return parent, {"uri": root["uri"], "cid": root["cid"]}
        return parent, dict(parent)  # the customer's post starts the thread

    def _failed(self, exc: Exception, *, sending: bool) -> ReplyFailed:
        if isinstance(exc, AuthUnavailable) or (isinstance(exc, XrpcUnavailable) and not (sending and exc.maybe_sent)):
            return ReplyFailed(f"The reply was not sent: Bluesky is not answering right now ({exc}). "
                               "It is safe to send again in a minute.", kind="unavailable", detail=str(exc),
                               retryable=True, status=getattr(exc, "status", None))
        if isinstance(exc, XrpcUnavailable):
            return ReplyFailed("Bluesky did not confirm the reply: it may have been posted. Check the thread "
                               "in Bluesky before sending again.", kind="unknown_outcome", detail=str(exc),
                               status=exc.status)
        if isinstance(exc, AuthError):
            return ReplyFailed(f"The reply was not sent: the brand's Bluesky account cannot sign in. {exc}",
                               kind="auth", detail=str(exc))
        if isinstance(exc, RateLimited):
            return ReplyFailed(f"The reply was not sent: Bluesky's limit is reached until {exc.reset_at:%H:%M} UTC. "
                               "Send it again after that.", kind="rate_limited", reset_at=exc.reset_at,
                               retryable=True, status=429)
        assert isinstance(exc, XrpcRejected)
        return self._rejected(exc)

    def _rejected(self, exc: XrpcRejected) -> ReplyFailed:
        detail = f"{exc.error}: {exc.detail}".strip(": ")
        lowered = exc.detail.lower()
        if any(word in lowered for word in _TOO_LONG):
            return ReplyFailed(f"Bluesky refused the reply as too long ({exc.detail}). Shorten it and send again.",
                               kind="too_long", detail=detail, status=exc.status)
        if exc.error in {"NotFound", "RecordNotFound"} or any(word in lowered for word in _GONE):
            return ReplyFailed("The reply was not sent: the post it answers is gone from Bluesky.",
                               kind="gone", detail=detail, status=exc.status)
        return ReplyFailed(f"Bluesky refused the reply ({detail}). Change it, or open the post in Bluesky.",
                           kind="rejected", detail=detail, status=exc.status)
