"""X as a socialdesk network: what it is (INFO) and its parts once configured (build)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import httpx

from socialdesk.networks.base import Billing, ConversationWalk, CredentialStore, Network, NetworkInfo
from socialdesk.networks.x import links
from socialdesk.networks.x.text import MAX_WEIGHTED_LENGTH, weighted_length

NAME = "x"
MAX_QUERY_LENGTH = 512  # recent search on self-serve plans

INFO = NetworkInfo(
    name=NAME,
    label="X",
    icon="𝕏",
    text_limit=MAX_WEIGHTED_LENGTH,
    text_length=weighted_length,
    text_hint=f"X allows {MAX_WEIGHTED_LENGTH} characters; links count 23, emoji and CJK characters count 2.",
    query_max_length=MAX_QUERY_LENGTH,
    kinds=("search", "mentions"),
    post_url_example="https://x.com/acmephones/status/123…",
    query_hint="X's search syntax, e.g. @acme OR \"acme phone\" -is:retweet. X allows 512 characters.",
    poll_hint="X's search allows a few hundred requests per 15 minutes.",
    profile_url=links.profile_url,
    conversation_url=links.conversation_url,
    reply_link_id=links.reply_link_id,
    compose_url=links.intent_url,
    redact_link=links.redact_link,
    handle_link_pattern=links.HANDLE_LINK,
    is_newer=links.is_newer,
    setting_hint={kind: "SOCIALDESK_X_BEARER_TOKEN is not set; add it and restart" for kind in ("search", "mentions")},
    mentions_query=r"user:\d+",
    mentions_query_example="user:12345",
    # The filtered stream on pay-per-use access: 1,000 rules of 1,024 characters per project
    # (refs/x/docs/introduction.mdx; Enterprise allows 25,000+ of 2,048).
    stream_rules_max=1000,
    stream_query_max_length=1024,
)


class FollowUpSearch:
    def walks(self, floors: Mapping[str, str], now: datetime) -> list[ConversationWalk]:
        from socialdesk.networks.x.search import conversation_walks

        return conversation_walks({c: int(f) if str(f).isdigit() else 0 for c, f in floors.items()}, now)


def billing(settings: Any) -> Billing:
    """X's pay-per-use billing as the settings say (X's published rates by default)."""
    from socialdesk.networks.x.billing import OWNED_READ, POST_CREATED, POST_CREATED_URL, POST_READ, USER_READ

    return Billing(
        rates={POST_READ: settings.x_rate_post_read, USER_READ: settings.x_rate_user_read,
               OWNED_READ: settings.x_rate_owned_read, POST_CREATED: settings.x_rate_post_created,
               POST_CREATED_URL: settings.x_rate_post_created_with_url},
        labels={POST_READ: "post reads", USER_READ: "user reads", OWNED_READ: "owned reads",
                POST_CREATED: "posts created", POST_CREATED_URL: "posts created with a URL"},
        caps={POST_READ: settings.x_monthly_post_reads_cap},
        monthly_budget=settings.x_monthly_budget,
    )


def build(settings: Any, *, http: httpx.Client, clock: Callable[[], datetime],
          credentials: Callable[[str], CredentialStore]) -> Network:
    from socialdesk.networks.x.auth import XAuthError, XUserAuth
    from socialdesk.networks.x.mentions import XMentionsSource
    from socialdesk.networks.x.removal import XRemovalCheck
    from socialdesk.networks.x.reply import XReplier
    from socialdesk.networks.x.search import RECENT_SEARCH_REACH, XSource, cursor_since
    from socialdesk.networks.x.stream import XStream

    auth = XUserAuth(settings, http=http, credentials=credentials(INFO.name), clock=clock)

    def brand_handle() -> str | None:
        try:
            return auth.cached_handle()
        except XAuthError:
            return None

    network = Network(
        info=INFO,
        replier=XReplier(http=http, api_url=settings.x_api_url, auth=auth, clock=clock),
        brand_handle=brand_handle,
        reply_not_configured="Replies to X are not set up: an admin must run `socialdesk auth x`.",
        billing=billing(settings),
    )
    if settings.x_bearer_token:
        token = settings.x_bearer_token.get_secret_value()
        network.sources = {
            "search": XSource(http=http, api_url=settings.x_api_url, bearer_token=token, clock=clock),
            "mentions": XMentionsSource(http=http, api_url=settings.x_api_url, bearer_token=token),
        }
        network.removal = XRemovalCheck(http=http, api_url=settings.x_api_url, bearer_token=token)
        network.follow_ups = FollowUpSearch()
        network.check = lambda: check_bearer(http=http, api_url=settings.x_api_url, bearer_token=token)
        network.search_since = lambda when: cursor_since(when, clock())  # the stream's gaps, when the worker fills them
        network.gap_limit = RECENT_SEARCH_REACH  # recent search: 7 days back
        # Always there, so rules added with --stream are streamed; with none the worker does not connect.
        network.stream = XStream(http=http, api_url=settings.x_api_url, bearer_token=token,
                                 opt_in=not settings.x_stream, clock=clock)
    return network


def check_bearer(*, http: httpx.Client, api_url: str, bearer_token: str) -> str:
    """The bearer token works: it lists the app's stream rules. That reads no post or user, the resources X
    bills reads of (refs/x/docs/pricing.mdx), so a check costs nothing; search would bill each post it returns."""
    from socialdesk.networks.x.stream_rules import StreamRules

    rules = StreamRules(http=http, api_url=api_url, bearer_token=bearer_token).list()
    return f"the bearer token is accepted (the app's filtered stream has {len(rules)} rule(s))"
