"""The X API v2 endpoints FakeX serves, as a mixin over its in-memory state.

Each endpoint returns (status, body, extra headers) or raises _Refusal with X's
error body. Shapes follow refs/x (tweepy cassettes, python-twitter testdata,
openapi): only requested fields plus id/text/edit_history_tweet_ids (id/name/
username for users), `includes` only when non-empty, `{"meta": {"result_count": 0}}`
when nothing matches.
"""

from __future__ import annotations

import copy
import json
import secrets
import string
from datetime import UTC, datetime, timedelta
from typing import Any

from socialdesk.networks.x.fake import data as d
from socialdesk.networks.x.fake import query as xq

_PAGE_PARAMS = {"since_id", "until_id", "max_results", "start_time", "end_time",
                "expansions", "tweet.fields", "post.fields", "user.fields",
                "media.fields", "poll.fields", "place.fields"}
_SEARCH_PARAMS = _PAGE_PARAMS | {"query", "next_token", "pagination_token", "sort_order"}
_MENTIONS_PARAMS = _PAGE_PARAMS | {"pagination_token"}
_USER_PARAMS = {"user.fields", "expansions", "tweet.fields"}
_LOOKUP_PARAMS = {"expansions", "tweet.fields", "post.fields", "user.fields",
                  "media.fields", "poll.fields", "place.fields"}
_CREATE_KEYS = {"text", "reply", "quote_tweet_id", "media", "poll", "reply_settings", "geo",
                "for_super_followers_only", "direct_message_deep_link", "community_id",
                "nullcast", "card_uri", "share_with_followers", "made_with_ai", "paid_partnership"}
_TOKEN_CHARS = string.ascii_lowercase + string.digits


class _Refusal(Exception):
    def __init__(self, body: dict, status: int = 400):
        super().__init__(body)
        self.body, self.status = body, status



class XApi:
    """Endpoints; FakeX supplies _users, _user_ids, _posts, _match_ctx, _tokens, own_user, post(),
    restrict_replies, reply_restriction_body, and _token (fake_x_auth)."""

    # Recent search refuses a since_id from before this (refs/x/openapi: start_time "Must be within the
    # last 7 days"; X says the same of since_id). None: no limit (tests mirroring old recordings).
    recent_search_reach: timedelta | None = timedelta(days=7)

    def _route(self, method: str, path: str):
        parts = path.strip("/").split("/")
        if path == "/2/tweets/search/stream/rules" and method in ("GET", "POST"):
            return ("rules", self._rules_get, ()) if method == "GET" else ("rules_update", self._rules_post, ())
        if method == "GET":
            if path == "/2/tweets/search/stream":
                return "stream", self._stream_connect, ()
            if path == "/2/tweets/search/recent":
                return "search", self._search, ()
            if path == "/2/users/me":
                return "me", self._me, ()
            if len(parts) == 5 and parts[:4] == ["2", "users", "by", "username"]:
                return "user", self._user_by_username, (parts[4],)
            if len(parts) == 4 and parts[:2] == ["2", "users"] and parts[3] == "mentions":
                return "mentions", self._mentions, (parts[2],)
            if path == "/2/tweets":
                return "lookup", self._lookup, (None,)
            if len(parts) == 3 and parts[:2] == ["2", "tweets"] and parts[2].isdigit():
                return "lookup", self._lookup, (parts[2],)
        if method == "POST" and path == "/2/tweets":
            return "create", self._create, ()
        if method == "POST" and path == "/2/oauth2/token":
            return "token", self._token, ()
        return None, None, ()

    # --- endpoints ---------------------------------------------------------------
    def _search(self, q, body, headers):
        _check_params(q, _SEARCH_PARAMS)
        if not q.get("query"):
            raise _Refusal(d.QUERY_REQUIRED)
        max_results = _max_results(q, 10, 100)
        since = _id_param(q, "since_id")
        if since is not None and self.recent_search_reach is not None:
            oldest = datetime.now(UTC) - self.recent_search_reach
            if d.time_of(since) < oldest:
                raise _Refusal(d.since_id_too_old(q["since_id"], oldest))
        try:
            tree = xq.parse_query(q["query"])
        except xq.QueryError as exc:
            raise _Refusal(d.bad_param("query", q["query"], str(exc))) from None
        found = [p for pid, p in self._newest_first() if xq.matches(tree, p, self._match_ctx[pid])]
        token_name = "pagination_token" if "pagination_token" in q else "next_token"
        return 200, self._page(found, q, max_results, token_name), {}

    def _mentions(self, q, body, headers, user_id):
        _check_params(q, _MENTIONS_PARAMS)
        user = self._users.get(user_id)
        if user is None:
            return 200, d.not_found("id", user_id), {}
        max_results = _max_results(q, 5, 100)
        name = user["username"].casefold()
        found = [p for _, p in self._newest_first()
                 if any(m["username"].casefold() == name for m in d.all_entities(p).get("mentions", []))]
        return 200, self._page(found, q, max_results, "pagination_token"), {}

    def _me(self, q, body, headers):
        _check_params(q, _USER_PARAMS)
        fields = _fields(q, ("user.fields",), d.USER_FIELDS)
        return 200, {"data": _pick(self._users[self._own_id], fields, d.DEFAULT_USER_FIELDS)}, {}

    def _user_by_username(self, q, body, headers, username):
        _check_params(q, _USER_PARAMS)
        uid = self._user_ids.get(username.casefold())
        if uid is None:
            return 200, d.not_found("username", username), {}
        fields = _fields(q, ("user.fields",), d.USER_FIELDS)
        return 200, {"data": _pick(self._users[uid], fields, d.DEFAULT_USER_FIELDS)}, {}

    def _lookup(self, q, body, headers, one_id):
        _check_params(q, _LOOKUP_PARAMS | ({"ids"} if one_id is None else set()))
        fields = _fields(q, ("tweet.fields", "post.fields"), d.TWEET_FIELDS)
        ids = [one_id] if one_id else [i for i in q.get("ids", "").split(",") if i]
        found = [self._posts[int(i)] for i in ids if i.isdigit() and int(i) in self._posts]
        answer: dict[str, Any] = {}
        if found:
            rendered = [_pick(p, fields, d.DEFAULT_TWEET_FIELDS) for p in found]
            answer["data"] = rendered[0] if one_id else rendered
            if includes := self._includes(found, q, fields):
                answer["includes"] = includes
        missing = [i for i in ids if not (i.isdigit() and int(i) in self._posts)]
        if missing:
            param = "id" if one_id else "ids"
            answer["errors"] = [d.not_found(param, i, "tweet")["errors"][0] for i in missing]
        return 200, answer, {}

    def _create(self, q, body, headers):
        if not headers.get("content-type", "").startswith("application/json"):
            raise _Refusal(d.invalid_request([{"message": d.NOT_JSON}]))
        try:
            payload = json.loads(body or b"null")
        except ValueError:
            payload = None
        if not isinstance(payload, dict):
            raise _Refusal(d.invalid_request([{"message": "$: the request body must be a JSON object"}]))
        for key in payload.keys() - _CREATE_KEYS:  # X validates bodies against a closed schema
            raise _Refusal(d.invalid_request([{"message": f"$.{key}: is not defined in the schema and the "
                                                           "schema does not allow additional properties"}]))
        text = payload.get("text")
        if not isinstance(text, str) or not text.strip():
            raise _Refusal(d.invalid_request([{"message": "$.text: is missing but it is required"}]))
        if d.weighted_length(text) > 280:
            raise _Refusal(d.invalid_request([{"message": d.TEXT_TOO_LONG}]))
        reply_to = (payload.get("reply") or {}).get("in_reply_to_tweet_id")
        if reply_to is not None and not (str(reply_to).isdigit() and int(reply_to) in self._posts):
            raise _Refusal(d.REPLY_TARGET_GONE, 403)
        parent = self._posts[int(reply_to)] if reply_to is not None else None
        if parent is not None and self._users[parent["author_id"]].get("protected"):
            raise _Refusal(d.REPLY_TARGET_GONE, 403)  # "not visible to you"
        if parent is not None and self.restrict_replies and not self._engaged(parent):
            raise _Refusal(self.reply_restriction_body, 403)
        own_id = self._own_id
        # Stored text is X's escaped form; compare what was written.
        if any(p["author_id"] == own_id and d.full_text(p) == d.shorten_urls(text)[0] for p in self._posts.values()):
            raise _Refusal(d.DUPLICATE_CONTENT, 403)
        made = self.post(username=self.own_user["username"], text=text, in_reply_to=reply_to,
                         quote_of=payload.get("quote_tweet_id"))
        data = {k: made[k] for k in ("edit_history_tweet_ids", "id", "text")}
        return 201, {"data": data}, {"location": f"{self.url}/2/tweets/{made['id']}"}

    # --- helpers -----------------------------------------------------------------
    def _engaged(self, parent: dict) -> bool:
        """May a self-serve app reply to this post as own_user? (X's rule since 2026-02.)"""
        own = self._own_id
        if own in (parent["author_id"], parent.get("in_reply_to_user_id")):
            return True
        name = self._users[own]["username"].casefold()
        if any(m["username"].casefold() == name for m in d.all_entities(parent).get("mentions", [])):
            return True
        quoted = [self._posts.get(int(r["id"])) for r in parent.get("referenced_tweets", []) if r["type"] == "quoted"]
        return any(q is not None and q["author_id"] == own for q in quoted)

    def _page(self, posts: list[dict], q: dict, max_results: int, token_name: str) -> dict:
        since, until = _id_param(q, "since_id"), _id_param(q, "until_id")
        start, end = _time_param(q, "start_time"), _time_param(q, "end_time")
        bound = None
        if token := q.get(token_name):
            bound = self._tokens.get(token)
            if bound is None:
                raise _Refusal(d.bad_param(token_name, token,
                                           f"The `{token_name}` query parameter value [{token}] is not valid"))
        chosen = [p for p in posts
                  if (since is None or int(p["id"]) > since) and (until is None or int(p["id"]) < until)
                  and (bound is None or int(p["id"]) < bound)
                  and (start is None or d.parse_time(p["created_at"]) >= start)
                  and (end is None or d.parse_time(p["created_at"]) < end)]
        page = chosen[:max_results]
        if not page:
            return {"meta": {"result_count": 0}}  # X omits data, includes and ids when empty
        fields = _fields(q, ("tweet.fields", "post.fields"), d.TWEET_FIELDS)
        answer: dict[str, Any] = {"data": [_pick(p, fields, d.DEFAULT_TWEET_FIELDS) for p in page]}
        if includes := self._includes(page, q, fields):
            answer["includes"] = includes
        meta: dict[str, Any] = {"newest_id": page[0]["id"], "oldest_id": page[-1]["id"], "result_count": len(page)}
        if len(chosen) > max_results:
            token = "".join(secrets.choice(_TOKEN_CHARS) for _ in range(45))  # recorded tokens are 45 chars
            self._tokens[token] = int(page[-1]["id"])
            meta["next_token"] = token
        answer["meta"] = meta
        return answer

    def _includes(self, page: list[dict], q: dict, tweet_fields: set[str]) -> dict:
        expansions = _fields(q, ("expansions",), d.EXPANSIONS)
        user_fields = _fields(q, ("user.fields",), d.USER_FIELDS)
        users: dict[str, dict] = {}
        tweets: dict[str, dict] = {}

        def add_user(uid: str | None) -> None:
            if uid in self._users and uid not in users:
                users[uid] = _pick(self._users[uid], user_fields, d.DEFAULT_USER_FIELDS)

        for post in page:
            if "author_id" in expansions:
                add_user(post["author_id"])
            if "in_reply_to_user_id" in expansions:
                add_user(post.get("in_reply_to_user_id"))
            if "entities.mentions.username" in expansions:
                for mention in post.get("entities", {}).get("mentions", []):
                    add_user(mention.get("id"))
            for ref in post.get("referenced_tweets", []):
                target = self._posts.get(int(ref["id"]))
                if target is None:
                    continue
                if "referenced_tweets.id" in expansions:
                    tweets.setdefault(target["id"], _pick(target, tweet_fields, d.DEFAULT_TWEET_FIELDS))
                if "referenced_tweets.id.author_id" in expansions:
                    add_user(target["author_id"])
        found = {"users": list(users.values()), "tweets": list(tweets.values())}
        return {k: v for k, v in found.items() if v}  # X never sends an empty list here

    def _newest_first(self):
        return [(pid, self._posts[pid]) for pid in sorted(self._posts, reverse=True)]


def _pick(obj: dict, fields: set[str], defaults: tuple[str, ...]) -> dict:
    """Only what was asked for, plus what X always sends."""
    return copy.deepcopy({k: v for k, v in obj.items() if k in fields or k in defaults})


def _fields(q: dict, names: tuple[str, ...], allowed: frozenset[str]) -> set[str]:
    chosen: set[str] = set()
    for name in names:
        for value in filter(None, q.get(name, "").split(",")):
            if value not in allowed:
                raise _Refusal(d.bad_param(name, value, f"The `{name}` query parameter value [{value}] "
                                                        f"is not one of [{','.join(sorted(allowed))}]"))
            chosen.add(value)
    return chosen


def _check_params(q: dict, allowed: set[str]) -> None:
    """Refuse unknown parameters and field values up front, as X does even for empty results."""
    for name in q.keys() - allowed:
        raise _Refusal(d.bad_param(name, q[name], f"The query parameter [{name}] is not one of "
                                                  f"[{','.join(sorted(allowed))}]"))
    _fields(q, ("tweet.fields", "post.fields"), d.TWEET_FIELDS)
    _fields(q, ("user.fields",), d.USER_FIELDS)
    _fields(q, ("expansions",), d.EXPANSIONS)


def _max_results(q: dict, low: int, high: int) -> int:
    raw = q.get("max_results", "10")
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise _Refusal(d.bad_param("max_results", raw, f"The `max_results` query parameter value [{raw}] "
                                                       f"is not between {low} and {high}"))
    return int(raw)


def _id_param(q: dict, name: str) -> int | None:
    raw = q.get(name)
    if raw is None:
        return None
    if not (raw.isdigit() and len(raw) <= 19):
        raise _Refusal(d.bad_param(name, raw, f"The `{name}` query parameter value [{raw}] is not valid"))
    return int(raw)


def _time_param(q: dict, name: str):
    if not q.get(name):
        return None
    try:
        return d.parse_time(q[name])
    except ValueError:
        raise _Refusal(d.bad_param(name, q[name], f"The `{name}` query parameter value [{q[name]}] is not "
                                                  "a valid RFC 3339 timestamp")) from None
