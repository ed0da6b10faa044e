"""Bluesky as a socialdesk network: what it is (INFO) and its parts once configured (build).

Posts arrive live from Jetstream (one connection per deployment, matched locally
against every Bluesky rule by jobs.stream); search and mentions are polled through the
brand account's PDS: search fills gaps (new rules, a stream down past its rewind, no
stream configured), mentions come from notifications. Deletions come with the stream.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import httpx

from socialdesk.networks.base import CredentialStore, Network, NetworkInfo
from socialdesk.networks.bluesky import links
from socialdesk.networks.bluesky.parse import profile_url
from socialdesk.networks.bluesky.text import MAX_GRAPHEMES, grapheme_length

NAME = "bluesky"
MAX_QUERY_LENGTH = 1000  # our own query language, matched locally; Bluesky's search documents no limit
# Jetstream ticks every few seconds of stream time and the worker saves the cursor every 2 s: a
# connected stream whose cursor stood still this long has stalled behind the firehose.
STREAM_BEHIND_AFTER = timedelta(minutes=2)
SIGN_IN = "SOCIALDESK_BLUESKY_HANDLE and SOCIALDESK_BLUESKY_APP_PASSWORD are not set; add them and restart"

INFO = NetworkInfo(
    name=NAME,
    label="Bluesky",
    icon="🦋",
    text_limit=MAX_GRAPHEMES,
    text_length=grapheme_length,
    text_hint=f"Bluesky allows {MAX_GRAPHEMES} characters, counted as people see them (an emoji counts 1).",
    query_max_length=MAX_QUERY_LENGTH,
    kinds=("search", "mentions"),
    post_url_example="https://bsky.app/profile/acme.bsky.social/post/3l…",
    query_hint=("Words (all must appear), \"exact phrases\", OR, (groups), -exclusions, #hashtag, @mention, "
                "from:handle, lang:en. Matched on every post of the live stream."),
    poll_hint="With the live stream on, search only fills gaps.",
    profile_url=profile_url,
    conversation_url=links.conversation_url,
    reply_link_id=links.reply_link_id,
    redact_link=links.redact_link,
    handle_link_pattern=links.HANDLE_LINK,
    is_newer=links.is_newer,
    setting_hint={"search": SIGN_IN, "mentions": SIGN_IN},
    mentions_query=r"did:[a-z]+:[A-Za-z0-9._:%-]{1,200}",
    mentions_query_example="did:plc:…",
    local_match=True,
)


def build(settings: Any, *, http: httpx.Client, clock: Callable[[], datetime],
          credentials: Callable[[str], CredentialStore]) -> Network:
    from socialdesk.networks.bluesky.jetstream import JetstreamStream
    from socialdesk.networks.bluesky.mentions import BlueskyMentions
    from socialdesk.networks.bluesky.profiles import Profiles
    from socialdesk.networks.bluesky.reply import BlueskyReplier
    from socialdesk.networks.bluesky.search import BlueskySearch
    from socialdesk.networks.bluesky.session import Session
    from socialdesk.networks.bluesky.walk import cursor_since
    from socialdesk.networks.bluesky.xrpc import XrpcClient

    password = settings.bluesky_app_password.get_secret_value() if settings.bluesky_app_password else None
    signed_in = bool(settings.bluesky_handle and password)
    session = Session(http=http, store=credentials(NAME), handle=settings.bluesky_handle,
                      app_password=password, service_url=settings.bluesky_service_url, clock=clock) \
        if signed_in else None
    xrpc = XrpcClient(http, settings.bluesky_service_url, session=session, clock=clock)
    profiles = Profiles(xrpc, clock=clock)
    network = Network(
        info=INFO,
        brand_handle=lambda: settings.bluesky_handle,
        reply_not_configured=f"Replies to Bluesky are not set up: {SIGN_IN}.",
    )
    if session is not None:
        network.search_since = cursor_since
        network.sources = {"search": BlueskySearch(xrpc, profiles=profiles, clock=clock),
                           "mentions": BlueskyMentions(xrpc, profiles=profiles, clock=clock)}
        network.replier = BlueskyReplier(xrpc, session, resolve_handle=profiles.resolve_handle, clock=clock)
        network.check = lambda: check_session(session, xrpc)
    if settings.bluesky_jetstream_url:
        network.stream = JetstreamStream(settings.bluesky_jetstream_url, complete=profiles.complete,
                                         resolve_handle=profiles.resolve_handle)
        network.stream_behind_after = STREAM_BEHIND_AFTER
    return network


def check_session(session: Any, xrpc: Any) -> str:
    """The app password signs in (or the stored session still works): one authenticated call proves it."""
    from socialdesk.networks.bluesky.xrpc import as_source_errors

    with as_source_errors():
        account = session.account()
        xrpc.get("app.bsky.actor.getProfiles", {"actors": [account.account_id]})
    return f"signed in as @{account.account_handle} ({account.account_id})"
