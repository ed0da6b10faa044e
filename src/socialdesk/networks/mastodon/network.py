"""Mastodon as a socialdesk network: what it is (INFO) and its parts once configured (build).

The brand's account lives on one instance (SOCIALDESK_MASTODON_URL) and acts through
an access token (SOCIALDESK_MASTODON_TOKEN). Hashtag rules read that instance's
hashtag timelines, keyword rules its full-text search, mentions rules its
notifications; all are polled forward with min_id and matched locally. The live
stream (streaming.py) is the lead's; replies go out through the REST API.

Limits are the instance's own: `reply_rules` holds replies to its max_characters and
link length (asked once, Mastodon's 500/23 until it answers).
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx

from socialdesk.networks.base import CredentialStore, Network, NetworkInfo, SourceError, SourceUnavailable
from socialdesk.networks.mastodon import links
from socialdesk.networks.mastodon.text import DEFAULT_LIMIT, counter, hint, text_length

NAME = "mastodon"
MAX_QUERY_LENGTH = 1000  # our own query language, matched locally
SETTINGS_NEEDED = "SOCIALDESK_MASTODON_URL and SOCIALDESK_MASTODON_TOKEN are not set; add them and restart"
BRAND_RETRY_SECONDS = 60.0  # how often an unanswered "who is the brand" is asked again

INFO = NetworkInfo(
    name=NAME,
    label="Mastodon",
    icon="🐘",
    text_limit=DEFAULT_LIMIT,
    text_length=text_length,
    text_hint=hint(),
    query_max_length=MAX_QUERY_LENGTH,
    kinds=("search", "mentions"),
    post_url_example="https://mastodon.social/@acmephones/1131…",
    query_hint=("Hashtags are the reliable intake: #acmephones reads every post the brand's instance knows "
                "with that tag. Words (all must appear), \"exact phrases\", OR, (groups), -exclusions, "
                "@user@server, from:user@server and lang:en are matched on each post. A rule without a hashtag "
                "uses Mastodon's search, which finds only posts of accounts that opted in to search, and only "
                "on instances with full-text search."),
    poll_hint="Mastodon allows 300 requests per 5 minutes for the brand's token, shared by all rules.",
    profile_url=links.profile_url,
    conversation_url=links.conversation_url,
    reply_link_id=links.reply_link_id,
    redact_link=links.redact_link,
    handle_link_pattern=links.HANDLE_LINK,
    is_newer=links.is_newer,
    setting_hint={"search": SETTINGS_NEEDED, "mentions": SETTINGS_NEEDED},
    local_match=True,
    mentions_query=r"\d{1,30}",
    mentions_query_example="109876543210987654",
    reply_opening=lambda handle: f"@{handle} " if handle else "",  # a reply addresses its author, as on Mastodon
)


def rules_for(max_characters: int, reserved_per_url: int, domain: str) -> NetworkInfo:
    """INFO with an instance's limit and link length."""
    return dataclasses.replace(INFO, text_limit=max_characters, text_length=counter(reserved_per_url),
                               text_hint=hint(max_characters, reserved_per_url, domain))


def build(settings: Any, *, http: httpx.Client, clock: Callable[[], datetime],
          credentials: Callable[[str], CredentialStore]) -> Network:
    """The token is the whole sign-in (no credential store): without URL and token, no parts."""
    from socialdesk.networks.mastodon.api import MastodonApi
    from socialdesk.networks.mastodon.mentions import MastodonMentions
    from socialdesk.networks.mastodon.parse import handle_of
    from socialdesk.networks.mastodon.reply import MastodonReplier
    from socialdesk.networks.mastodon.search import MastodonSearch, cursor_since
    from socialdesk.networks.mastodon.threads import Threads

    network = Network(info=INFO, reply_not_configured=f"Replies to Mastodon are not set up: {SETTINGS_NEEDED}.")
    token = settings.mastodon_token.get_secret_value() if settings.mastodon_token else None
    if not (settings.mastodon_url and token):
        return network
    api = MastodonApi(http, settings.mastodon_url, token, clock=clock)
    threads = Threads(api)
    asked: list[float] = []  # when the brand account was last asked for and not told

    def brand_handle() -> str | None:
        me = api.cached_me()
        if me is None and (not asked or time.monotonic() - asked[-1] > BRAND_RETRY_SECONDS):
            try:
                me = api.me()
            except SourceError:
                asked[:] = [time.monotonic()]
        if me is None:
            return None
        return handle_of(str(me.get("acct") or ""), api.instance().domain) or None

    cached: dict[Any, NetworkInfo] = {}
    asking = threading.Lock()

    def ask_instance() -> None:
        with asking:
            api.instance()

    def reply_rules() -> NetworkInfo:
        # Never asks the instance itself: the modal and its submit run before the ack. The stream
        # asks at connect; until the instance has answered, Mastodon's defaults stand in.
        instance = api.cached_instance()
        if instance is None or not instance.reachable:
            if not asking.locked():
                threading.Thread(target=ask_instance, name="mastodon-instance", daemon=True).start()
            return INFO
        key = (instance.max_characters, instance.characters_reserved_per_url, instance.domain)
        if key not in cached:
            cached.clear()
            cached[key] = rules_for(*key)
        return cached[key]

    network.sources = {"search": MastodonSearch(api, threads, clock=clock),
                       "mentions": MastodonMentions(api, threads, clock=clock)}
    network.replier = MastodonReplier(api, threads)
    network.search_since = cursor_since
    network.brand_handle = brand_handle
    network.check = lambda: check_token(api)
    network.reply_rules = reply_rules
    if settings.mastodon_streaming:
        from socialdesk.networks.mastodon.streaming import MastodonStream

        network.stream = MastodonStream(api, threads, http_get=http.get, clock=clock)
    return network


def check_token(api: Any) -> str:
    """The token works: verify_credentials names its account (asked anew, not `me()`'s cached answer);
    a refused token raises ApiRejected naming SOCIALDESK_MASTODON_TOKEN."""
    from socialdesk.networks.mastodon.parse import handle_of

    me = api.get("/api/v1/accounts/verify_credentials").json
    if not isinstance(me, dict) or not me.get("id"):
        raise SourceUnavailable("Mastodon answered verify_credentials without an account; try again later")
    handle = handle_of(str(me.get("acct") or ""), api.instance().domain)  # the instance's domain, as people write it
    return f"the token is accepted: signed in as @{handle} (account id {me['id']})"
