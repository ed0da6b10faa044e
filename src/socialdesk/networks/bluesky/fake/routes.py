"""The XRPC methods FakeBluesky answers, each as Bluesky answers it (shapes from the lexicons
and the bskyr recordings; error names and messages as bsky.social sends them)."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from importlib import resources
from typing import TYPE_CHECKING, Any

import regex

from socialdesk.networks.bluesky.fake.world import POST, cid_for, tid

if TYPE_CHECKING:
    from socialdesk.networks.bluesky.fake.pds import FakeBluesky

# Recorded bsky.social answers and headers (provenance inside the file).
RECORDED = json.loads(resources.files(__package__).joinpath("recorded.json").read_text(encoding="utf-8"))
_GRAPHEME = regex.compile(r"\X")
MAX_GRAPHEMES = 300


class XrpcError(Exception):
    def __init__(self, status: int, error: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{status} {error}: {message}")
        self.status, self.error, self.message, self.headers = status, error, message, headers or {}


def _one(query: dict[str, list[str]], name: str, *, required: bool = False) -> str | None:
    values = query.get(name) or []
    if required and not values:
        raise XrpcError(400, "InvalidRequest", f'Error: Params must have the property "{name}"')
    return values[0] if values else None


def _int(query: dict[str, list[str]], name: str, default: int, maximum: int) -> int:
    raw = _one(query, name)
    if raw is None:
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= maximum:
        raise XrpcError(400, "InvalidRequest", f"Error: {name} must be an integer between 1 and {maximum}")
    return int(raw)


def _when(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise XrpcError(400, "InvalidRequest", f"Error: invalid datetime {value!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class Routes:
    def __init__(self, fake: FakeBluesky) -> None:
        self.fake, self.world = fake, fake.world
        self._table = {
            ("POST", "com.atproto.server.createSession"): (self.create_session, False),
            ("POST", "com.atproto.server.refreshSession"): (self.refresh_session, False),
            ("GET", "com.atproto.identity.resolveHandle"): (self.resolve_handle, False),
            ("GET", "com.atproto.repo.getRecord"): (self.get_record, False),
            ("GET", "app.bsky.actor.getProfiles"): (self.get_profiles, True),
            ("GET", "app.bsky.feed.searchPosts"): (self.search_posts, True),
            ("GET", "app.bsky.feed.getPosts"): (self.get_posts, True),
            ("GET", "app.bsky.notification.listNotifications"): (self.list_notifications, True),
            ("POST", "com.atproto.repo.createRecord"): (self.create_record, True),
        }

    def dispatch(self, method: str, nsid: str, query: dict[str, list[str]], headers: dict[str, str],
                 body: Any) -> tuple[int, dict[str, Any]]:
        entry = self._table.get((method, nsid))
        if entry is None:
            if any(n == nsid for _, n in self._table):
                raise XrpcError(405, "InvalidRequest", f"Incorrect HTTP method ({method}) for {nsid}")
            raise XrpcError(501, "MethodNotImplemented", "Method Not Implemented")
        handler, needs_auth = entry
        caller = self.fake.caller(headers) if needs_auth else None
        if nsid == "com.atproto.server.refreshSession":
            caller = headers.get("authorization", "").removeprefix("Bearer ").strip()
        return 200, handler(query=query, body=body if isinstance(body, dict) else {}, caller=caller)

    # --- sessions -----------------------------------------------------------------------

    def create_session(self, *, query: Any, body: dict[str, Any], caller: Any) -> dict[str, Any]:
        identifier, password = body.get("identifier"), body.get("password")
        if not isinstance(identifier, str) or not isinstance(password, str):
            raise XrpcError(400, "InvalidRequest", 'Input must have the property "identifier"')
        self.fake.count_login()
        did = self.world.did_of(identifier)
        account = self.world.accounts.get(did or "")
        if account is None or account.password is None or account.password != password:
            raise XrpcError(401, "AuthenticationRequired", "Invalid identifier or password")
        return self.fake.issue_session(account.did)

    def refresh_session(self, *, query: Any, body: Any, caller: str) -> dict[str, Any]:
        if not caller:
            raise XrpcError(401, "AuthMissing", "Authentication Required")
        did = self.fake.take_refresh(caller)
        session = self.fake.issue_session(did)
        session.pop("email", None)
        session.pop("emailConfirmed", None)
        return session

    # --- identities and profiles --------------------------------------------------------

    def resolve_handle(self, *, query: dict[str, list[str]], body: Any, caller: Any) -> dict[str, Any]:
        handle = _one(query, "handle", required=True) or ""
        did = self.world.did_of(handle)
        if did is None or did == handle:
            raise XrpcError(400, "InvalidRequest", "Unable to resolve handle")
        return {"did": did}

    def get_profiles(self, *, query: dict[str, list[str]], body: Any, caller: Any) -> dict[str, Any]:
        actors = query.get("actors") or []
        if not actors:
            raise XrpcError(400, "InvalidRequest", 'Error: Params must have the property "actors"')
        if len(actors) > 25:
            raise XrpcError(400, "InvalidRequest", "Error: actors must not have more than 25 elements")
        dids = [d for a in actors if (d := self.world.did_of(a))]
        return {"profiles": [self.world.profile_view(d, detailed=True) for d in dict.fromkeys(dids)]}

    # --- posts --------------------------------------------------------------------------

    def search_posts(self, *, query: dict[str, list[str]], body: Any, caller: Any) -> dict[str, Any]:
        q = _one(query, "q", required=True) or ""
        limit = _int(query, "limit", 25, 100)
        cursor = _one(query, "cursor")
        if cursor is not None and (self.fake.reject_cursors or not cursor.isdigit()):
            raise XrpcError(400, "InvalidRequest", "Invalid cursor")
        views = self.world.search(q, author=_one(query, "author"), lang=_one(query, "lang"),
                                  mentions=_one(query, "mentions"), since=_when(_one(query, "since")),
                                  until=_when(_one(query, "until")))
        offset = int(cursor or 0)  # bsky.social's searchPosts cursor is an offset ("25")
        page = views[offset:offset + limit]
        answer: dict[str, Any] = {"posts": page}
        if offset + limit < len(views):
            answer["cursor"] = str(offset + limit)
        return answer

    def get_posts(self, *, query: dict[str, list[str]], body: Any, caller: Any) -> dict[str, Any]:
        uris = query.get("uris") or []
        if len(uris) > 25:
            raise XrpcError(400, "InvalidRequest", "Error: uris must not have more than 25 elements")
        return {"posts": [v for u in uris if (v := self.world.post_view(u)) is not None]}

    def get_record(self, *, query: dict[str, list[str]], body: Any, caller: Any) -> dict[str, Any]:
        repo = _one(query, "repo", required=True) or ""
        collection = _one(query, "collection", required=True)
        rkey = _one(query, "rkey", required=True)
        did = self.world.did_of(repo) or repo
        post = self.world.posts.get(f"at://{did}/{collection}/{rkey}")
        if post is None:
            raise XrpcError(400, "RecordNotFound", f"Could not locate record: at://{did}/{collection}/{rkey}")
        return {"uri": post.uri, "cid": post.cid, "value": copy.deepcopy(post.record)}

    def list_notifications(self, *, query: dict[str, list[str]], body: Any, caller: str) -> dict[str, Any]:
        if caller != self.world.brand_did:
            return {"notifications": [], "seenAt": None}
        limit = _int(query, "limit", 50, 100)
        reasons = set() if self.fake.ignore_reasons else set(query.get("reasons") or [])
        cursor = _one(query, "cursor")
        if cursor is not None and self.fake.reject_cursors:
            raise XrpcError(400, "InvalidRequest", "Invalid cursor")
        # Newest first; the cursor is the indexedAt and uri of the last one given (keyset).
        listed = sorted(self.world.notifications, key=lambda n: (n["indexedAt"], n["uri"]), reverse=True)
        if reasons:
            listed = [n for n in listed if n["reason"] in reasons]
        if cursor:
            at, _, uri = cursor.partition("::")
            listed = [n for n in listed if (n["indexedAt"], n["uri"]) < (at, uri)]
        page = copy.deepcopy(listed[:limit])
        answer: dict[str, Any] = {"notifications": page, "priority": False}
        if len(listed) > limit:
            answer["cursor"] = f"{page[-1]['indexedAt']}::{page[-1]['uri']}"
        return answer

    def create_record(self, *, query: Any, body: dict[str, Any], caller: str) -> dict[str, Any]:
        repo, collection, record = body.get("repo"), body.get("collection"), body.get("record")
        if not isinstance(repo, str) or not isinstance(collection, str) or not isinstance(record, dict):
            raise XrpcError(400, "InvalidRequest", 'Input must have the properties "repo", "collection", "record"')
        if self.world.did_of(repo) != caller:
            raise XrpcError(400, "InvalidRequest", "Invalid repo: not the authenticated account")
        if collection != POST or record.get("$type") != POST:
            raise XrpcError(400, "InvalidRequest", f"Invalid collection for this fake: {collection}")
        text = record.get("text")
        if not isinstance(text, str) or not isinstance(record.get("createdAt"), str):
            raise XrpcError(400, "InvalidRequest", 'Invalid app.bsky.feed.post record: Record must have the property "text"')
        if len(_GRAPHEME.findall(text)) > MAX_GRAPHEMES:
            recorded = RECORDED["create_record_too_long"]
            raise XrpcError(recorded["status"], recorded["body"]["error"], recorded["body"]["message"])
        reply = record.get("reply")
        if reply is not None:
            for name in ("root", "parent"):
                ref = (reply or {}).get(name) or {}
                post = self.world.posts.get(ref.get("uri") or "")
                if post is None or post.cid != ref.get("cid"):
                    raise XrpcError(400, "InvalidRequest",
                                    f"Invalid app.bsky.feed.post record: reply {name} does not match a post: {ref}")
        created = self.world.create_post(caller, record)
        answer = copy.deepcopy(RECORDED["create_record_ok"]["body"])
        answer.update({"uri": created["uri"], "cid": created["cid"]})
        answer["commit"] = {"cid": cid_for([created["cid"], "commit"]),
                            "rev": tid(int(self.world.clock().timestamp() * 1_000_000), 7)}
        return answer

