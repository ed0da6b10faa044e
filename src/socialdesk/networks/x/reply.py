"""Public replies on X as the brand: POST /2/tweets with `reply.in_reply_to_tweet_id`.

Every failure is a ReplyFailed whose message is written for the agent who clicked
Send: what happened and what to do. `kind` lets the caller choose the way forward:

    not_allowed      X's API only lets self-serve apps reply to posts that mention or quote
                     the brand: offer "Open in X" (intent_url) and "Mark as replied"
    duplicate        the brand already posted this exact text: reword
    gone             the post was deleted or is not visible (protected, blocked)
    auth             credentials missing, revoked or expired beyond refresh: an admin signs in again
    rate_limited     posting quota spent until `reset_at`
    unavailable      X did not take the request (5xx, connection failed): safe to retry
    rejected         any other refusal, with X's detail
    unknown_outcome  the request may have been posted (timeout after sending): check before resending

X has no idempotency key; the caller guarantees one send per key and this module never
retries a request that may have reached X, except after a 401 (not processed).
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from socialdesk.networks.base import BilledReads, ReplyFailed, SentReply
from socialdesk.networks.x.links import post_url
from socialdesk.networks.x.billing import POST_CREATED, POST_CREATED_URL
from socialdesk.networks.x.parse import describe_error
from socialdesk.networks.x.text import has_url
from socialdesk.networks.x.auth import XAuthError, XAuthMissing, XAuthUnavailable, XUserAuth, json_object, utcnow

__all__ = ["ReplyFailed", "SentReply", "XReplier", "post_url"]

log = logging.getLogger(__name__)
CREATE_PATH = "/2/tweets"
_NOT_SENT = frozenset({httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol})
_RESTRICTED = ("not been mentioned or otherwise engaged", "reply to this conversation is not allowed",
               "only reply to or quote posts where you are mentioned")
_AUTH_PROBLEMS = ("unsupported-authentication", "oauth1-permissions", "client-forbidden")
_DEFAULT_WAIT = timedelta(minutes=15)


class XReplier:
    def __init__(self, *, http: httpx.Client, api_url: str, auth: XUserAuth,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self._http, self._url, self._auth, self._clock = http, api_url.rstrip("/") + CREATE_PATH, auth, clock

    def reply(self, text: str, in_reply_to: str, *, idempotency_key: str) -> SentReply:
        body = {"text": text, "reply": {"in_reply_to_tweet_id": str(in_reply_to)}}
        response = self._send(body, retry_on_401=self._auth.mode == "oauth2")
        if response.status_code in (200, 201):
            data = (json_object(response).get("data") or {})
            reply_id = str(data.get("id") or "")
            if reply_id:
                log.info("X reply %s sent for key %s in reply to %s", reply_id, idempotency_key, in_reply_to)
                # X's v2 JSON escapes &, < and >: keep what the agent wrote.
                sent_text = html.unescape(str(data.get("text") or text))
                return SentReply(reply_id, post_url(self._handle(), reply_id), sent_text,
                                 billed=(BilledReads(POST_CREATED_URL if has_url(text) else POST_CREATED,
                                                     (reply_id,)),))  # X bills a post with a link dearer
            raise self._unknown(f"X answered {response.status_code} without the new post's id")
        failure = self._failure(response)
        log.warning("X reply for key %s refused: %s %s", idempotency_key, failure.kind, failure.detail)
        raise failure

    # --- sending ------------------------------------------------------------------------
    def _send(self, body: dict[str, Any], *, retry_on_401: bool) -> httpx.Response:
        headers = self._headers(body)
        response = self._post(body, headers)
        if response.status_code == 401 and retry_on_401:
            # X did not process it: a revoked or early-expired token. Renew once and resend.
            try:
                fresh = self._auth.refresh_now(headers["Authorization"].removeprefix("Bearer "))
            except XAuthError as exc:
                raise self._auth_failure(exc) from exc
            response = self._post(body, {"Authorization": f"Bearer {fresh}"})
        return response

    def _headers(self, body: dict[str, Any]) -> dict[str, str]:
        try:
            return self._auth.headers("POST", self._url, json_body=body)
        except XAuthError as exc:
            raise self._auth_failure(exc) from exc

    def _post(self, body: dict[str, Any], headers: dict[str, str]) -> httpx.Response:
        try:
            return self._http.post(self._url, json=body, headers=headers)
        except httpx.TransportError as exc:
            if type(exc) in _NOT_SENT:
                raise ReplyFailed(f"Could not reach X ({type(exc).__name__}). Nothing was sent; try again in a "
                                  "minute.", kind="unavailable", detail=str(exc), retryable=True) from exc
            raise self._unknown(f"{type(exc).__name__}: {exc}") from exc

    # --- reading X's answer -----------------------------------------------------------
    def _failure(self, response: httpx.Response) -> ReplyFailed:
        status, body = response.status_code, json_object(response)
        detail = _detail(response, body)
        lowered = f"{body.get('type', '')} {detail}".lower()
        brand = self._brand()
        if status == 429:
            now = self._clock()
            reset_at = _reset_at(response, now)
            when = f"{reset_at:%H:%M} UTC" if reset_at.date() == now.date() else f"{reset_at:%Y-%m-%d %H:%M} UTC"
            return ReplyFailed(f"X's posting limit for {brand} is used up until {when}. Nothing was "
                               "sent; send it again after that.", kind="rate_limited", detail=detail,
                               retryable=True, reset_at=reset_at, status=status)
        if status == 504:
            # A gateway timeout: the post may have been created behind it.
            return self._unknown(f"X answered 504: {detail}", status=status)
        if status >= 500:
            return ReplyFailed(f"X is not answering properly right now ({status}). Nothing was sent; try again "
                               "in a minute.", kind="unavailable", detail=detail, retryable=True, status=status)
        if any(marker in lowered for marker in _RESTRICTED):
            return ReplyFailed(f"X does not let apps reply to this post: its API only allows replies to people "
                               f"who mentioned or quoted {brand}. Open it in X, reply there as {brand}, then "
                               "click Mark as replied.", kind="not_allowed", detail=detail, status=status)
        if "text is too long" in lowered:
            return ReplyFailed("X refused the reply: it is over 280 characters as X counts them (links count 23, "
                               "emoji and CJK characters 2). Nothing was sent; shorten it and send again.",
                               kind="too_long", detail=detail, status=status)
        if "duplicate content" in lowered:
            return ReplyFailed(f"X refused the reply because {brand} already posted exactly this text. Change "
                               "the wording a little and send again.", kind="duplicate", detail=detail, status=status)
        if "deleted or not visible" in lowered or status == 404:
            return ReplyFailed("The post was deleted, or its author protected or blocked the account, so X "
                               "refused the reply. Nothing was sent.", kind="gone", detail=detail, status=status)
        if status == 401 or any(marker in lowered for marker in _AUTH_PROBLEMS):
            return ReplyFailed(f"X refused socialdesk's sign-in for {brand} ({detail}). Nothing was sent. An admin "
                               "needs to run `socialdesk auth x` again (or fix the OAuth 1.0a keys).",
                               kind="auth", detail=detail, status=status)
        return ReplyFailed(f"X refused the reply: {detail.rstrip('.')}. Nothing was sent.", kind="rejected",
                           detail=detail, status=status)

    def _auth_failure(self, exc: XAuthError) -> ReplyFailed:
        if isinstance(exc, XAuthUnavailable):
            return ReplyFailed(f"Could not renew the X sign-in: {exc}. Nothing was sent; try again in a minute.",
                               kind="unavailable", detail=str(exc), retryable=True)
        what = "Replying on X is not set up" if isinstance(exc, XAuthMissing) else "X refused socialdesk's sign-in"
        return ReplyFailed(f"{what}, so nothing was sent. Ask an admin to fix it: {exc}.", kind="auth",
                           detail=str(exc), status=getattr(exc, "status", None))

    def _unknown(self, detail: str, *, status: int | None = None) -> ReplyFailed:
        handle = self._handle(lookup=False)
        where = f"https://x.com/{handle}/with_replies" if handle != "i" else "the brand account's replies on X"
        return ReplyFailed(f"X did not confirm the reply, so it may or may not have been posted. Check {where} "
                           "before sending it again.", kind="unknown_outcome", detail=detail,
                           retryable=False, status=status)

    def _handle(self, *, lookup: bool = True) -> str:
        """The brand's handle for links; never fails (x.com/i/status/ID works without it)."""
        try:
            handle = self._auth.account()[1] if lookup else self._auth.cached_handle()
        except XAuthError:
            handle = None
        return handle or "i"

    def _brand(self) -> str:
        handle = self._handle(lookup=False)
        return f"@{handle}" if handle != "i" else "the brand account"


def _detail(response: httpx.Response, body: dict[str, Any]) -> str:
    if body.get("errors") and not body.get("detail"):
        return "; ".join(describe_error(e) for e in body["errors"])
    if body.get("errors"):  # invalid-request envelope: the specific messages say more than "detail"
        return "; ".join(str(e.get("message") or describe_error(e)) for e in body["errors"])
    return str(body.get("detail") or body.get("title") or response.text[:200] or response.reason_phrase)


def _reset_at(response: httpx.Response, now: datetime) -> datetime:
    """When posting works again: the latest reset among the windows X says are spent."""
    h = response.headers
    spent = [h.get(f"{prefix}-reset") for prefix in ("x-rate-limit", "x-user-limit-24hour", "x-app-limit-24hour")
             if h.get(f"{prefix}-remaining") == "0"]
    resets = [int(v) for v in spent if v and v.isdigit()]
    if not resets and (h.get("x-rate-limit-reset") or "").isdigit():
        resets = [int(h["x-rate-limit-reset"])]
    if resets:
        return datetime.fromtimestamp(max(resets), UTC)
    retry_after = h.get("retry-after") or ""
    return now + (timedelta(seconds=int(retry_after)) if retry_after.isdigit() else _DEFAULT_WAIT)
