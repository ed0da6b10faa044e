"""The REST methods FakeMastodon answers, each as Mastodon answers it (docs/*.md, the recordings):
pagination by max_id / since_id / min_id with a `Link` header, the visibility rules, the
422 length check, Idempotency-Key, and Mastodon's error bodies."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from socialdesk.networks.mastodon.fake import markup
from socialdesk.networks.mastodon.fake.search import search_statuses
from socialdesk.networks.mastodon.fake.templates import (
    RECORDED,
    credential_json,
    instance_json,
)
from socialdesk.networks.mastodon.fake.world import VISIBILITIES, Account

if TYPE_CHECKING:
    from socialdesk.networks.mastodon.fake.rest import FakeMastodon

APP_NAME = "socialdesk"  # the application the brand's token belongs to, shown on its statuses
IDEMPOTENCY_SECONDS = 3600  # statuses.md: "Idempotency keys are stored for up to 1 hour"
_CURSORS = ("max_id", "since_id", "min_id")


class ApiError(Exception):
    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(f"{status} {body}")
        self.status, self.body = status, body


def unauthorized() -> ApiError:
    return ApiError(401, dict(RECORDED["errors"]["unauthorized"]))


def not_found() -> ApiError:
    return ApiError(404, dict(RECORDED["errors"]["not_found"]))


@dataclass
class Request:
    method: str
    path: str
    params: dict[str, str]  # the route's :names
    query: dict[str, list[str]]
    form: dict[str, list[str]]  # form or JSON body, as lists
    headers: dict[str, str]
    caller: Account | None

    def one(self, name: str, default: str | None = None) -> str | None:
        values = self.form.get(name) or self.query.get(name)
        return values[0] if values else default

    def many(self, name: str) -> list[str]:
        return self.query.get(f"{name}[]") or self.query.get(name) or self.form.get(f"{name}[]") or []

    def flag(self, name: str) -> bool:
        return (self.one(name) or "").lower() in ("1", "true", "on", "yes")


@dataclass
class Answer:
    status: int
    body: Any  # JSON-able; a str is sent as text/plain
    headers: dict[str, str] = field(default_factory=dict)


def _limit(request: Request, default: int, maximum: int) -> int:
    raw = request.one("limit")
    if raw is None:
        return default
    try:
        return min(abs(int(raw)), maximum)  # Mastodon: params[:limit].to_i.abs, at most the maximum
    except ValueError:
        return 0


def _id(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


class Routes:
    def __init__(self, fake: FakeMastodon) -> None:
        self.fake, self.world = fake, fake.world
        self._idempotent: dict[tuple[str, str], tuple[str, datetime]] = {}
        table: list[tuple[str, str, Callable[[Request], Answer], bool]] = [
            ("GET", "/api/v2/instance", self.instance, False),
            ("GET", "/api/v1/streaming/health", lambda r: Answer(200, "OK"), False),
            ("GET", "/api/v1/accounts/verify_credentials", self.verify_credentials, True),
            ("GET", "/api/v1/accounts/lookup", self.lookup_account, False),
            ("GET", "/api/v1/accounts/:id", self.get_account, False),
            ("GET", "/api/v1/timelines/tag/:hashtag", self.tag_timeline, False),
            ("GET", "/api/v1/timelines/public", self.public_timeline, False),
            ("GET", "/api/v1/notifications", self.notifications, True),
            ("GET", "/api/v1/notifications/:id", self.notification, True),
            ("GET", "/api/v2/search", self.search, False),
            ("GET", "/api/v1/statuses/:id", self.get_status, False),
            ("GET", "/api/v1/statuses/:id/context", self.context, False),
            ("POST", "/api/v1/statuses", self.post_status, True),
            ("DELETE", "/api/v1/statuses/:id", self.delete_status, True),
        ]
        self._table = [(method, pattern, re.compile("^" + re.sub(r":(\w+)", r"(?P<\1>[^/]+)", pattern) + "$"),
                        handler, needs_user) for method, pattern, handler, needs_user in table]

    def match(self, method: str, path: str) -> tuple[str, dict[str, str]] | None:
        """(route pattern, its params) for a request path; trailing slashes as Rails takes them."""
        path = path.rstrip("/") or "/"
        for route_method, pattern, compiled, _, _ in self._table:
            found = compiled.match(path)
            if found and route_method == method:
                return pattern, found.groupdict()
        return None

    def dispatch(self, pattern: str, method: str, request: Request) -> Answer:
        for route_method, route, _, handler, needs_user in self._table:
            if route == pattern and route_method == method:
                if needs_user and request.caller is None:
                    raise unauthorized()
                return handler(request)
        raise not_found()

    # --- pagination --------------------------------------------------------------------

    def page(self, request: Request, items: list[dict[str, Any]], *, default: int, maximum: int) -> Answer:
        """`items` newest first, paginated as Mastodon does; the Link header names the pages around."""
        limit = _limit(request, default, maximum)
        max_id, since_id, min_id = (_id(request.one(name)) for name in _CURSORS)
        below = [i for i in items if max_id is None or int(i["id"]) < max_id]
        if min_id is not None:  # the oldest `limit` newer than min_id: paging forward, nothing skipped
            newer = [i for i in below if int(i["id"]) > min_id]
            page = newer[max(len(newer) - limit, 0):] if limit else []
        else:
            page = [i for i in below if since_id is None or int(i["id"]) > since_id][:limit]
        headers = {}
        if page:
            kept = [(k, v) for k, values in request.query.items() if k not in _CURSORS for v in values]
            base = f"{self.fake.url}{request.path}"
            next_url = f"{base}?{urlencode([*kept, ('max_id', page[-1]['id'])])}"
            prev_url = f"{base}?{urlencode([*kept, ('min_id', page[0]['id'])])}"
            headers["Link"] = f'<{next_url}>; rel="next", <{prev_url}>; rel="prev"'
        return Answer(200, page, headers)

    # --- instance and accounts ---------------------------------------------------------

    def instance(self, request: Request) -> Answer:
        return Answer(200, instance_json(self.world, streaming_url=self.fake.streaming.url))

    def verify_credentials(self, request: Request) -> Answer:
        assert request.caller is not None
        view = self.world.account_view(request.caller)
        return Answer(200, credential_json(request.caller, statuses=view["statuses_count"],
                                           last_status_at=view["last_status_at"]))

    def lookup_account(self, request: Request) -> Answer:
        found = self.world.lookup(request.one("acct") or "")
        if found is None:
            raise not_found()
        return Answer(200, self.world.account_view(found))

    def get_account(self, request: Request) -> Answer:
        if request.params["id"] not in self.world.accounts:
            raise not_found()
        return Answer(200, self.world.account_view(request.params["id"]))

    # --- timelines and notifications ---------------------------------------------------

    def tag_timeline(self, request: Request) -> Answer:
        tag = request.params["hashtag"].lower()
        if tag not in self.world.tags:
            raise not_found()  # timelines.md: 404 "Hashtag does not exist"
        statuses = self.world.timeline(tag=tag, local=request.flag("local"), remote=request.flag("remote"),
                                       only_media=request.flag("only_media"))
        wanted_any = {t.lower() for t in request.many("any")}
        wanted_all = {t.lower() for t in request.many("all")}
        unwanted = {t.lower() for t in request.many("none")}
        if wanted_any or wanted_all or unwanted:
            statuses = self.world.timeline(local=request.flag("local"), remote=request.flag("remote"),
                                           only_media=request.flag("only_media"))
            statuses = [s for s in statuses if (names := {t["name"] for t in s["tags"]})
                        and names & ({tag} | wanted_any) and wanted_all <= names and not names & unwanted]
        return self.page(request, statuses, default=20, maximum=40)

    def public_timeline(self, request: Request) -> Answer:
        statuses = self.world.timeline(local=request.flag("local"), remote=request.flag("remote"),
                                       only_media=request.flag("only_media"))
        return self.page(request, statuses, default=20, maximum=40)

    def notifications(self, request: Request) -> Answer:
        types, excluded = set(request.many("types")), set(request.many("exclude_types"))
        account_id = request.one("account_id")
        listed = [self.world.notification_view(n) for n in reversed(self.world.notifications)
                  if (not types or n["type"] in types) and n["type"] not in excluded
                  and (account_id is None or n["account"]["id"] == account_id)]
        return self.page(request, listed, default=40, maximum=80)

    def notification(self, request: Request) -> Answer:
        for notification in self.world.notifications:
            if notification["id"] == request.params["id"]:
                return Answer(200, self.world.notification_view(notification))
        raise not_found()

    # --- search ------------------------------------------------------------------------

    def search(self, request: Request) -> Answer:
        q = (request.one("q") or "").strip()
        kind = request.one("type")
        limit = _limit(request, 20, 40)
        offset_raw = request.one("offset")
        if offset_raw and request.caller is None:
            raise unauthorized()  # search.md: offset needs a user token
        offset = int(offset_raw) if offset_raw and offset_raw.isdigit() else 0
        answer: dict[str, Any] = {"accounts": [], "statuses": [], "hashtags": [], "collections": []}
        if not q:
            return Answer(200, answer)
        if kind in (None, "accounts"):
            needle = q.lstrip("@").lower()
            found = [a for a in self.world.accounts.values()
                     if needle in a.acct.lower() or (a.display_name and needle in a.display_name.lower())]
            answer["accounts"] = [self.world.account_view(a) for a in found][offset:offset + limit]
        if kind in (None, "hashtags"):
            name = q.lstrip("#").lower()
            answer["hashtags"] = [{"name": t, "url": f"https://{self.world.domain}/tags/{markup.quote(t)}",
                                   "history": [], "following": False}
                                  for t in sorted(self.world.tags) if t.startswith(name)][offset:offset + limit]
        if kind in (None, "statuses"):
            statuses = search_statuses(self.world, q, request.caller, account_id=request.one("account_id"))
            max_id, min_id = _id(request.one("max_id")), _id(request.one("min_id"))
            statuses = [s for s in statuses if (max_id is None or int(s["id"]) < max_id)
                        and (min_id is None or int(s["id"]) > min_id)]
            if min_id is not None:  # as on timelines: the ones just after min_id
                statuses = statuses[max(len(statuses) - offset - limit, 0):len(statuses) - offset]
            else:
                statuses = statuses[offset:offset + limit]
            answer["statuses"] = statuses
        return Answer(200, answer)

    # --- statuses ----------------------------------------------------------------------

    def _visible_status(self, status_id: str, viewer: Account | None) -> dict[str, Any]:
        status = self.world.statuses.get(status_id)
        if status is None or not self.world.visible(status, viewer):
            raise not_found()  # a private status is "not found" to those who may not see it
        return status

    def get_status(self, request: Request) -> Answer:
        self._visible_status(request.params["id"], request.caller)
        return Answer(200, self.world.status_view(request.params["id"]))

    def context(self, request: Request) -> Answer:
        self._visible_status(request.params["id"], request.caller)
        return Answer(200, self.world.context(request.params["id"], request.caller))

    def post_status(self, request: Request) -> Answer:
        with self.world.lock:  # two retries racing with one Idempotency-Key still post once
            return self._post_status(request)

    def _post_status(self, request: Request) -> Answer:
        caller = request.caller
        assert caller is not None
        key = request.headers.get("idempotency-key")
        now = self.world.clock()
        if key:
            earlier = self._idempotent.get((caller.id, key))
            if earlier and (now - earlier[1]).total_seconds() < IDEMPOTENCY_SECONDS \
                    and earlier[0] in self.world.statuses:
                return Answer(200, self.world.status_view(earlier[0]))  # the same status, not a new one
        text = request.one("status") or ""
        spoiler = request.one("spoiler_text") or ""
        visibility = request.one("visibility") or "public"
        if not text.strip() and not request.many("media_ids"):
            raise ApiError(422, dict(RECORDED["errors"]["blank"]))
        if visibility not in VISIBILITIES:
            raise ApiError(422, {"error": "Validation failed: Visibility is not included in the list"})
        if markup.status_length(text, spoiler, url_length=self.world.characters_reserved_per_url) \
                > self.world.max_characters:
            raise ApiError(422, {"error": f"Validation failed: Text character limit of "
                                          f"{self.world.max_characters} exceeded"})
        reply_to = request.one("in_reply_to_id")
        if reply_to:
            self._visible_status(reply_to, caller)
        status = self.world.add_status(caller, text, reply_to=reply_to or None, visibility=visibility,
                                       spoiler_text=spoiler, language=request.one("language") or "en",
                                       application=APP_NAME, sensitive=request.flag("sensitive"))
        if key:
            self._idempotent[(caller.id, key)] = (status["id"], now)
        return Answer(200, self.world.status_view(status["id"]))

    def delete_status(self, request: Request) -> Answer:
        status = self._visible_status(request.params["id"], request.caller)
        if request.caller is None or status["account"]["id"] != request.caller.id:
            raise not_found()
        view = self.world.status_view(status["id"])
        view["text"] = self.world.text_of(status["id"])  # the delete answer carries the source text
        self.world.delete_status(status["id"])
        return Answer(200, view)
