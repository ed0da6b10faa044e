"""Public replies on Mastodon as the brand: POST /api/v1/statuses with `in_reply_to_id`.

Before sending, the customer's status is read (GET /api/v1/statuses/:id) for two things:

- its author: the reply starts with `@<their acct>` (added when the agent did not write
  it), as Mastodon's own reply box does, so they are notified
- its visibility: the reply is no wider (public > unlisted > private > direct): a
  followers-only post is not answered in public, a direct message gets a direct reply

The `Idempotency-Key` header carries the reply's key: Mastodon keeps it an hour and
answers a repeat with the status it already made, so a retry never posts twice.

Failures are ReplyFailed with a message for the agent who clicked Send (`kind`):

    too_long         over the instance's limit (checked first, as Mastodon counts; or its 422)
    gone             the customer's status was deleted or is not visible to the brand (404)
    auth             the token is missing, revoked or lacks write:statuses (401/403)
    rate_limited     the posting budget is spent until `reset_at` (429)
    unavailable      Mastodon did not take the request (5xx, no connection): safe to retry
    unknown_outcome  sent, but no answer came back: check the thread before sending again
    rejected         any other refusal, with Mastodon's detail
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

import httpx

from socialdesk.networks.base import RateLimited, ReplyFailed, SentReply, SourceError
from socialdesk.networks.mastodon.api import (
    TOKEN_SETTING,
    ApiRejected,
    ApiUnavailable,
    MastodonApi,
    error_of,
)
from socialdesk.networks.mastodon.links import status_url
from socialdesk.networks.mastodon.parse import handle_of
from socialdesk.networks.mastodon.text import text_length
from socialdesk.networks.mastodon.threads import Threads

log = logging.getLogger(__name__)

VISIBILITIES = ("public", "unlisted", "private", "direct")  # widest first
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)
_LEADING_MENTIONS = re.compile(r"^\s*((?:@[\w.-]+(?:@[\w.-]+)?[\s,]+)*)")
_TOO_LONG = ("character limit", "too long")


def reply_visibility(theirs: Any) -> str:
    """The widest visibility a reply to a post of `theirs` may have (an unknown one: direct)."""
    return theirs if theirs in VISIBILITIES else "direct"


def with_mention(text: str, acct: str, instance_host: str) -> str:
    """`text` starting with `@acct`, unless its leading mentions already name that account."""
    leading = _LEADING_MENTIONS.match(text + " ")
    named = {m.lower() for m in re.findall(r"@([\w.-]+(?:@[\w.-]+)?)", leading.group(1) if leading else "")}
    wanted = {acct.lower(), handle_of(acct, instance_host).lower()}
    if named & wanted:
        return text
    return f"@{acct} {text.lstrip()}"


class MastodonReplier:
    """A `Replier` posting as the token's account."""

    def __init__(self, api: MastodonApi, threads: Threads) -> None:
        self._api, self._threads = api, threads

    def reply(self, text: str, in_reply_to: str, *, idempotency_key: str) -> SentReply:
        if not text.strip():
            raise ReplyFailed("The reply is empty; write something before sending.", kind="rejected")
        if not in_reply_to.isdigit():
            raise ReplyFailed(f"This case's post id ({in_reply_to!r}) is not a Mastodon status id.", kind="rejected")
        try:
            customer = self._api.get(f"/api/v1/statuses/{in_reply_to}").json
        except (ApiRejected, ApiUnavailable, RateLimited) as exc:
            raise self._failed(exc) from exc
        if not isinstance(customer, Mapping) or not isinstance(customer.get("account"), Mapping):
            raise ReplyFailed("The reply was not sent: Mastodon answered with something that is not a status. "
                              "Try again in a minute.", kind="unavailable", retryable=True)
        instance = self._api.instance()
        acct = str(customer["account"].get("acct") or "")
        try:
            brand: Mapping[str, Any] | None = self._api.me()  # asked once: no mention when answering ourselves
        except SourceError:
            brand = None
        if acct and not (brand and str(brand.get("id")) == str(customer["account"].get("id"))):
            text = with_mention(text, acct, instance.domain)
        length = text_length(text, instance.characters_reserved_per_url)
        if length > instance.max_characters:
            raise ReplyFailed(
                f"The reply is {length} characters; {instance.domain} allows {instance.max_characters} (a link counts "
                f"{instance.characters_reserved_per_url}, a mention only its @name). Shorten it by "
                f"{length - instance.max_characters}.", kind="too_long")
        form = {"status": text, "in_reply_to_id": in_reply_to,
                "visibility": reply_visibility(customer.get("visibility"))}
        response = self._post(form, idempotency_key)
        if response.status_code >= 400:
            failure = self._refused(response)
            log.warning("Mastodon reply for key %s refused: %s (%s)", idempotency_key, failure.kind, failure.detail)
            raise failure
        try:
            sent = response.json()
        except ValueError:
            sent = None
        if not isinstance(sent, Mapping) or not sent.get("id"):
            raise ReplyFailed("Mastodon did not say which status it made: the reply may have been posted. Check "
                              "the thread on Mastodon before sending again.", kind="unknown_outcome",
                              status=response.status_code)
        reply_id = str(sent["id"])
        self._threads.remember(reply_id, self._threads.root_of(customer))  # the customer's answer joins the case
        handle = handle_of(str((sent.get("account") or {}).get("acct") or ""), instance.domain)
        url = sent.get("url") if isinstance(sent.get("url"), str) else status_url(self._api.base_url, handle, reply_id)
        log.info("replied on Mastodon to %s as %s (key %s)", in_reply_to, reply_id, idempotency_key)
        return SentReply(id=reply_id, url=url, text=text)

    def _post(self, form: dict[str, str], idempotency_key: str) -> httpx.Response:
        try:
            return self._api.post_status(form, idempotency_key=idempotency_key)
        except RateLimited as exc:
            raise self._failed(exc) from exc
        except _NOT_SENT as exc:
            raise ReplyFailed(f"The reply was not sent: Mastodon could not be reached ({type(exc).__name__}). "
                              "It is safe to send again in a minute.", kind="unavailable", detail=str(exc),
                              retryable=True) from exc
        except httpx.TransportError as exc:
            raise ReplyFailed("Mastodon did not confirm the reply: it may have been posted. Check the thread on "
                              "Mastodon before sending again.", kind="unknown_outcome",
                              detail=f"{type(exc).__name__}: {exc}") from exc

    def _refused(self, response: httpx.Response) -> ReplyFailed:
        status, detail = response.status_code, error_of(response)
        if status == 429:
            return self._failed(self._api.rate_limited(response, "/api/v1/statuses"))
        if status >= 500:
            return ReplyFailed(f"The reply was not sent: Mastodon is not answering properly ({status}). It is safe "
                               "to send again in a minute.", kind="unavailable", detail=detail, retryable=True,
                               status=status)
        if status in (401, 403):
            return ReplyFailed(f"Mastodon refused the brand account's token ({status}: {detail}). Nothing was sent. "
                               f"An admin needs a new {TOKEN_SETTING} with the write:statuses scope, then "
                               "`socialdesk auth mastodon` to check it.", kind="auth", detail=detail, status=status)
        if status == 422 and any(mark in detail.lower() for mark in _TOO_LONG):
            return ReplyFailed(f"Mastodon refused the reply as too long ({detail}). Shorten it and send again.",
                               kind="too_long", detail=detail, status=status)
        if status in (404, 410):
            return ReplyFailed("The reply was not sent: the post it answers was deleted or is no longer visible "
                               "to the brand account. Resolve the case or contact them another way.",
                               kind="gone", detail=detail, status=status)
        return ReplyFailed(f"Mastodon refused the reply ({status}: {detail}). Nothing was sent; change it, or "
                           "open the post on Mastodon.", kind="rejected", detail=detail, status=status)

    def _failed(self, exc: Exception) -> ReplyFailed:
        """An error while reading the customer's status (nothing was sent) or from the posting budget."""
        if isinstance(exc, RateLimited):
            return ReplyFailed(f"The reply was not sent: Mastodon's limit is reached until {exc.reset_at:%H:%M} UTC. "
                               "Send it again after that.", kind="rate_limited", reset_at=exc.reset_at,
                               retryable=True, status=429)
        if isinstance(exc, ApiUnavailable):
            return ReplyFailed(f"The reply was not sent: Mastodon is not answering right now ({exc}). It is safe "
                               "to send again in a minute.", kind="unavailable", detail=str(exc), retryable=True,
                               status=exc.status)
        assert isinstance(exc, ApiRejected)
        if exc.status in (401, 403):
            return ReplyFailed(f"The reply was not sent: {exc}.", kind="auth", detail=exc.error, status=exc.status)
        if exc.status in (404, 410):
            return ReplyFailed("The reply was not sent: the customer's post was deleted or is not visible to the "
                               "brand account. Resolve the case or contact them another way.", kind="gone",
                               detail=exc.error, status=exc.status)
        return ReplyFailed(f"Mastodon refused to show the post being answered ({exc.status}: {exc.error}). Nothing "
                           "was sent.", kind="rejected", detail=exc.error, status=exc.status)
