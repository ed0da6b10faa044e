"""Recorded X API v2 shapes and the pure helpers behind `FakeX`.

Bodies are copied from real responses; each names where it was seen, so a
reader can tell an observed shape from a documented one. The helpers build
post objects: snowflake ids, timestamps, t.co links, entities, truncation.
"""

from __future__ import annotations

import html

import hashlib
import re
from datetime import UTC, datetime
from http import HTTPStatus

from socialdesk.networks.x import text as x_text

TWITTER_EPOCH_MS = 1288834974657  # snowflake ids count milliseconds from here
API_VERSION = "2.159"  # the `api-version` header; matches refs/x/openapi
JSON = "application/json; charset=utf-8"  # X's content-type for 200s and invalid-request 400s
PROBLEM_JSON = "application/problem+json"  # X's content-type for about:blank problems (401, 403, 429)

# Observed from the live API (xdevplatform/xurl#8, node-twitter-api-v2#425: content-type
# application/problem+json, no x-rate-limit-* headers).
UNAUTHORIZED = {"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"}
# refs/x/derived/error_samples.json "rate_limited_429_observed".
TOO_MANY_REQUESTS = {"title": "Too Many Requests", "type": "about:blank", "status": 429,
                     "detail": "Too Many Requests"}
# refs/x/derived/error_samples.json "invalid_request_documented" (docs' example, verbatim).
QUERY_REQUIRED = {
    "title": "Invalid Request",
    "detail": "The 'query' parameter is required.",
    "type": "https://api.x.com/2/problems/invalid-request",
}
# refs/x/derived/error_samples.json "partial_error_in_200_documented": the `errors` half.
PARTIAL_ERRORS = [
    {
        "resource_id": "456",
        "resource_type": "tweet",
        "title": "Not Found Error",
        "detail": "Could not find tweet with id: [456].",
        "type": "https://api.x.com/2/problems/resource-not-found",
    }
]
# Both seen from the live API in many clients' error handling (POST /2/tweets, 403). The
# duplicate body verbatim, 2026-02: github.com/akrherz/iembot/issues/163 (also sferik/x-ruby#24).
DUPLICATE_CONTENT = {
    "detail": "You are not allowed to create a Tweet with duplicate content.",
    "type": "about:blank", "title": "Forbidden", "status": 403,
}
REPLY_TARGET_GONE = {
    "detail": "You attempted to reply to a Tweet that is deleted or not visible to you.",
    "type": "about:blank", "title": "Forbidden", "status": 403,
}
# Replying as a self-serve app to a post whose author did not mention or quote the account
# (X's anti-spam change of February 2026, github.com/plhery/node-twitter-api-v2/issues/629).
# Two wordings are observed, both 403. This one is quoted verbatim as "the real X 403
# reply-restriction body" in third-party tests (GitHub code index: a vitest
# `isReplyForbiddenError` spec, a Rust `test_format_x_api_error_reply_engagement_gate`) and in a
# plugin's notes "in live testing ... X API `403 Forbidden`".
REPLY_NOT_ENGAGED = {
    "detail": "Reply to this conversation is not allowed because you have not been mentioned or "
              "otherwise engaged by the author of the post you are replying to.",
    "type": "about:blank", "title": "Forbidden", "status": 403,
}
# The later wording: "the EXACT raw error body" of a 2026-07-16 incident, replayed in a
# third-party regression fixture (GitHub code index, `fixture-classify-403.ts`).
REPLY_ONLY_MENTIONED = {
    "detail": "You can only reply to or quote posts where you are mentioned or are the author.",
    "status": 403, "title": "Authorization Error",
    "type": "https://api.x.com/2/problems/not-authorized-for-resource",
}
# An app-only bearer token on a user-context endpoint. It is a 403, not a 401:
# POST /2/tweets github.com/plhery/node-twitter-api-v2/issues/475, GET /2/users/me
# github.com/xdevplatform/bookmarks-search/issues/10 (note X's two spaces after "endpoint.").
UNSUPPORTED_AUTH = {
    "title": "Unsupported Authentication",
    "detail": "Authenticating with OAuth 2.0 Application-Only is forbidden for this endpoint.  "
              "Supported authentication types are [OAuth 1.0a User Context, OAuth 2.0 User Context].",
    "type": "https://api.twitter.com/2/problems/unsupported-authentication",
    "status": 403,
}
# OAuth 1.0a keys of an app whose permissions are "Read" only (third-party test, GitHub code index).
OAUTH1_READ_ONLY = {
    "title": "Forbidden", "status": 403,
    "detail": "Your client app is not configured with the appropriate oauth1 app permissions for this endpoint.",
    "type": "https://api.twitter.com/2/problems/oauth1-permissions",
}

# POST /2/oauth2/token answers in RFC 6749 shape, and X says invalid_request where the RFC says
# invalid_grant. Code spent, expired (30 s) or PKCE mismatch: github.com/plhery/node-twitter-api-v2/issues/496.
TOKEN_BAD_CODE = {"error": "invalid_request",
                  "error_description": "Value passed for the authorization code was invalid."}
# A refresh token already used or revoked: the same text in several clients' tests (GitHub code index).
TOKEN_BAD_REFRESH = {"error": "invalid_request", "error_description": "Value passed for the token was invalid."}
# Confidential client without (or with a wrong) Basic header, 401:
# github.com/unasuke/omniauth-twitter2/issues/4, github.com/plhery/node-twitter-api-v2/issues/319.
TOKEN_NO_BASIC = {"error": "unauthorized_client", "error_description": "Missing valid authorization header"}
# client_id missing from the form, even with a Basic header (a Japanese walkthrough of the flow).
TOKEN_NO_CLIENT_ID = {"error": "invalid_request", "error_description": "Missing required parameter [client_id]."}
# Assumed, not observed: an unknown client id or grant type.
TOKEN_BAD_CLIENT = {"error": "invalid_client", "error_description": "Client authentication failed."}
TOKEN_BAD_GRANT_TYPE = {"error": "invalid_request", "error_description": "Value passed for the grant type was invalid."}
TOKEN_SCOPES = "tweet.read tweet.write users.read offline.access"
AUTHORIZE_CODE_SECONDS = 30  # docs: an approved code is valid for 30 seconds

TEXT_TOO_LONG = (
    "Your Tweet text is too long. For more information on how Twitter determines "
    "text length see https://github.com/twitter/twitter-text."
)
NOT_JSON = "Requests with bodies must have content-type of application/json."
NOT_FOUND_ROUTE = {"errors": [{"message": "Sorry, that page does not exist", "code": 34}]}

# Per-15-minute limits as the recordings' x-rate-limit-limit headers show them.
RATE_LIMITS = {"search": 450, "mentions": 450, "me": 75, "user": 300, "lookup": 300, "create": 200,
               "token": 10_000,  # the token endpoint publishes no limit
               # The filtered stream per app (X's rate-limit table): 50 connects, 450 reads and changes of rules.
               "stream": 50, "rules": 450, "rules_update": 450}

# Allowed values, from refs/x/openapi (tweet.fields is the v2.159 name, post.fields v2.167).
TWEET_FIELDS = frozenset(
    "article attachments author_id card_uri community_id context_annotations conversation_id "
    "created_at display_text_range edit_controls edit_history_tweet_ids entities geo id "
    "in_reply_to_user_id lang media_metadata non_public_metrics note_tweet organic_metrics "
    "possibly_sensitive promoted_metrics public_metrics referenced_tweets reply_settings "
    "scopes source suggested_source_links text withheld".split()
)
USER_FIELDS = frozenset(
    "affiliation confirmed_email connection_status created_at description entities id location "
    "most_recent_tweet_id name parody pinned_tweet_id profile_banner_url profile_image_url "
    "protected public_metrics receives_your_dm subscription subscription_type url username "
    "verified verified_followers_count verified_type withheld".split()
)
EXPANSIONS = frozenset(
    "attachments.media_keys attachments.poll_ids author_id edit_history_tweet_ids "
    "entities.mentions.username geo.place_id in_reply_to_user_id referenced_tweets.id "
    "referenced_tweets.id.author_id".split()
)
DEFAULT_TWEET_FIELDS = ("edit_history_tweet_ids", "id", "text")  # what X sends with no tweet.fields
DEFAULT_USER_FIELDS = ("id", "name", "username")


def invalid_request(errors: list[dict]) -> dict:
    """The envelope X wraps parameter errors in (observed; see node-twitter-api-v2#591)."""
    return {
        "errors": errors,
        "title": "Invalid Request",
        "detail": "One or more parameters to your request was invalid.",
        "type": "https://api.twitter.com/2/problems/invalid-request",
    }


def bad_param(name: str, value: str, message: str) -> dict:
    return invalid_request([{"parameters": {name: [value]}, "message": message}])


def since_id_too_old(value: str, oldest: datetime) -> dict:
    """Recent search refuses a since_id from before its 7 days. Observed from the live API (third-party
    clients' fixtures and handlers on GitHub, e.g. rooteco/tweetscape#421 for the `parameters` part): the
    cut-off to the minute, and the smallest id X would take."""
    cut = oldest.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")
    return bad_param("since_id", value, f"'since_id' must be a tweet id created after {cut}. Please use a "
                                        f"'since_id' that is larger than {snowflake(oldest)}")


def not_found(parameter: str, value: str, what: str = "user") -> dict:
    """X answers 200 with only `errors` when a looked-up user or post does not exist."""
    return {"errors": [{
        "value": value, "detail": f"Could not find {what} with {parameter}: [{value}].",
        "title": "Not Found Error", "resource_type": what, "parameter": parameter,
        "resource_id": value, "type": "https://api.twitter.com/2/problems/resource-not-found",
    }]}


def generic_problem(status: int) -> dict:
    phrase = HTTPStatus(status).phrase
    return {"title": phrase, "type": "about:blank", "status": status, "detail": phrase}


# --- ids and times ---------------------------------------------------------------

def snowflake(when: datetime, sequence: int = 0) -> int:
    ms = int(when.timestamp() * 1000)
    return ((ms - TWITTER_EPOCH_MS) << 22) | (sequence & 0x3FFFFF)


def time_of(tweet_id: int) -> datetime:
    return datetime.fromtimestamp(((tweet_id >> 22) + TWITTER_EPOCH_MS) / 1000, UTC)


def x_time(when: datetime) -> str:
    """X's timestamp style: whole seconds, literal `.000Z`."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


# --- text, entities, truncation ---------------------------------------------------

_URL = re.compile(r"https?://[^\s]+")
_MENTION = re.compile(r"(?<![A-Za-z0-9_@])@([A-Za-z0-9_]{1,15})(?![A-Za-z0-9_])")
_HASHTAG = re.compile(r"(?<![\w&#])#(\w*[^\W\d]\w*)")


def _url_spans(text: str) -> list[tuple[int, int]]:
    spans = []
    for m in _URL.finditer(text):
        end = m.end()
        while end > m.start() and text[end - 1] in ".,!?;:)'\"":  # trailing punctuation is prose
            end -= 1
        spans.append((m.start(), end))
    return spans


def shorten_urls(text: str) -> tuple[str, dict[str, str]]:
    """Replace links with t.co ones as X does; returns the text and t.co -> original."""
    out, expanded, last = [], {}, 0
    for start, end in _url_spans(text):
        url = text[start:end]
        short = url if url.startswith("https://t.co/") else (
            "https://t.co/" + hashlib.sha1(url.encode()).hexdigest()[:10])
        expanded[short] = expanded.get(short, url)
        out += [text[last:start], short]
        last = end
    return "".join(out) + text[last:], expanded


def entities(text: str, expanded: dict[str, str], user_id_of) -> dict:
    """X's entities: indices count code points, include the sigil, end is exclusive."""
    found: dict[str, list] = {}
    for start, end in _url_spans(text):
        url = text[start:end]
        full = expanded.get(url, url)
        display = re.sub(r"^https?://(www\.)?", "", full)
        display = display if len(display) <= 26 else display[:25] + "…"
        found.setdefault("urls", []).append(
            {"start": start, "end": end, "url": url, "expanded_url": full, "display_url": display})
    for m in _HASHTAG.finditer(text):
        found.setdefault("hashtags", []).append({"start": m.start(), "end": m.end(), "tag": m.group(1)})
    for m in _MENTION.finditer(text):
        mention = {"start": m.start(), "end": m.end(), "username": m.group(1)}
        if (uid := user_id_of(m.group(1))) is not None:
            mention["id"] = uid
        found.setdefault("mentions", []).append(mention)
    return dict(sorted(found.items()))


def truncate(text: str, limit: int) -> str:
    """Cut to `limit` code points ending in an ellipsis, as X does for RTs and notes."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def truncate_note(text: str) -> str:
    """A long post's `text`: the start of the note, cut at a word near 280."""
    if len(text) <= 280:
        return text
    cut = text[:279]
    space = cut.rfind(" ")
    return (cut[:space] if space > 200 else cut).rstrip() + "…"


def weighted_length(text: str) -> int:
    """X's weighted length (the one implementation lives in `sources.x_text`)."""
    return x_text.weighted_length(text)


def full_text(post: dict) -> str:
    """What the author wrote (stored posts hold X's escaped form)."""
    return html.unescape(post.get("note_tweet", {}).get("text") or post["text"])


def all_entities(post: dict) -> dict:
    """Entities of the text and of the note (a long post's mentions may be past 280)."""
    merged = {k: list(v) for k, v in post.get("entities", {}).items()}
    for key, items in post.get("note_tweet", {}).get("entities", {}).items():
        merged.setdefault(key, []).extend(items)
    return merged


def html_escape(text: str) -> str:
    """Escape as X does in v2 text: only &, < and > (quotes stay as they are)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
