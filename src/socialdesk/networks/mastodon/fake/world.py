"""An in-memory Mastodon instance for tests and the demo: accounts, statuses, notifications.

Everything is shaped as a real instance answers (recorded.json: a Status, an Account, the
instance, from Mastodon.py's recordings of Mastodon 4.6; a Notification from the docs).
Ids are snowflakes as Mastodon makes them (milliseconds since 1970 << 16, low bits
random), strictly increasing; notification ids count up. Statuses are written in plain
text and rendered to Mastodon's HTML (markup.py); hashtags and mentions come from the text.

Accounts are local (on `domain`) or remote (`domain=` another host, `acct` "user@host").
A status that mentions the brand gives it a `mention` notification. Every change is
announced to `subscribe()`d callbacks as a StreamMessage: which streams carry it
(["public"], ["hashtag", "acme"], ["user:notification"] …), the event and its payload,
exactly what the streaming server sends. Thread-safe.
"""

from __future__ import annotations

import copy
import json
import random
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from socialdesk.networks.mastodon.fake import markup
from socialdesk.networks.mastodon.fake.templates import (
    RECORDED,
    account_json,
    media_json,
    status_json,
)

VISIBILITIES = ("public", "unlisted", "private", "direct")


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(when: datetime) -> str:
    """Mastodon's datetime format: UTC, milliseconds, "Z"."""
    when = when.astimezone(UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


@dataclass
class Account:
    id: str
    username: str
    domain: str | None  # None: an account of this instance
    display_name: str
    followers: int
    indexable: bool
    created_at: datetime
    instance: str  # this instance's domain

    @property
    def local(self) -> bool:
        return self.domain is None

    @property
    def host(self) -> str:
        return self.domain or self.instance

    @property
    def acct(self) -> str:
        return self.username if self.domain is None else f"{self.username}@{self.domain}"

    @property
    def url(self) -> str:
        return f"https://{self.host}/@{self.username}"

    @property
    def uri(self) -> str:
        if self.domain is None:
            return f"https://{self.instance}/ap/users/{self.id}"
        return f"https://{self.domain}/users/{self.username}"


@dataclass(frozen=True)
class StreamMessage:
    streams: list[list[str]]  # every stream that carries it: ["public"], ["hashtag", "acme"], …
    event: str  # "update", "status.update", "delete", "notification"
    payload: str  # the entity as a JSON string; for "delete" the status id


class MastodonWorld:
    def __init__(self, *, domain: str = "mastodon.example", brand_username: str = "acmecare",
                 brand_token: str = "brand-token", max_characters: int = 500,
                 characters_reserved_per_url: int = 23, clock: Callable[[], datetime] | None = None,
                 brand_id: str | None = None, brand_name: str | None = None) -> None:
        self.domain = domain
        self.brand_token = brand_token
        self.max_characters = max_characters
        self.characters_reserved_per_url = characters_reserved_per_url
        self.clock = clock or utcnow
        self.lock = threading.RLock()  # held by readers that look at several things at once (search)
        self._random = random.Random(domain)
        self._last_id = 0
        self._last_notification = 0
        self.accounts: dict[str, Account] = {}
        self.statuses: dict[str, dict[str, Any]] = {}  # id → Status JSON (its account as when stored)
        self.notifications: list[dict[str, Any]] = []  # oldest first
        self.tags: set[str] = set()  # every hashtag ever used, lower case (others 404 on their timeline)
        self._texts: dict[str, str] = {}  # status id → its plain source text (search, edits)
        self._favourites: dict[str, set[str]] = {}
        self._posted: dict[str, list[str]] = {}  # account id → its statuses' created_at, for its counts
        self._subscribers: list[Callable[[StreamMessage], None]] = []
        self.brand = self.add_account(brand_username, brand_name or brand_username, followers=1200)
        if brand_id is not None:  # a fixed id (the demo's rules name it across runs)
            del self.accounts[self.brand.id]
            self.brand.id = brand_id
            self.accounts[brand_id] = self.brand

    # --- ids ---------------------------------------------------------------------------

    def next_id(self, when: datetime | None = None) -> str:
        with self.lock:
            millis = int((when or self.clock()).timestamp() * 1000)
            self._last_id = max((millis << 16) | self._random.getrandbits(16), self._last_id + 1)
            return str(self._last_id)

    # --- accounts ----------------------------------------------------------------------

    def add_account(self, username: str, display_name: str = "", *, domain: str | None = None,
                    followers: int = 0, indexable: bool = True) -> Account:
        with self.lock:
            remote = domain if domain and domain.lower() != self.domain else None
            account = Account(self.next_id(), username, remote.lower() if remote else None, display_name,
                              followers, indexable, self.clock(), self.domain)
            self.accounts[account.id] = account
            return account

    def account(self, ref: Account | str) -> Account:
        """An account by object, id or acct ("ann", "ann@other.example", "@ann")."""
        if isinstance(ref, Account):
            return ref
        with self.lock:
            if ref in self.accounts:
                return self.accounts[ref]
            found = self.lookup(ref)
            if found is None:
                raise KeyError(f"no account {ref!r}")
            return found

    def lookup(self, acct: str, *, near: Account | None = None) -> Account | None:
        """The account `acct` names; a bare username is one of `near`'s server, else a local one."""
        username, _, domain = acct.lstrip("@").partition("@")
        username, domain = username.lower(), domain.lower() or None
        if domain == self.domain:
            domain = None
        with self.lock:
            hosts = [domain] if domain else ([near.domain] if near is not None and near.domain else []) + [None]
            for host in hosts:
                for account in self.accounts.values():
                    if account.username.lower() == username and account.domain == host:
                        return account
        return None

    def token_owner(self, token: str | None) -> Account | None:
        return self.brand if token and token == self.brand_token else None

    def account_view(self, ref: Account | str) -> dict[str, Any]:
        account = self.account(ref)
        with self.lock:
            posted = self._posted.get(account.id, [])
            last = max(posted, default=None)
        return account_json(account, statuses=len(posted), last_status_at=last[:10] if last else None)

    # --- statuses ----------------------------------------------------------------------

    def add_status(self, account: Account | str, text: str, *, reply_to: str | None = None,
                   visibility: str = "public", spoiler_text: str = "", media: Sequence[str] = (),
                   language: str | None = "en", html: str | None = None, created_at: datetime | None = None,
                   application: str | None = None, sensitive: bool = False) -> dict[str, Any]:
        """Store a status by `account` (plain `text`, rendered as Mastodon would) and announce it.

        `media`: one image per description; `html`: the content as given (a remote server's
        markup) instead of the rendering; `application`: the app name shown on the author's
        own statuses (those posted through the API); `created_at`: backdated (its id still
        sorts after every earlier one). `reply_to` must be a stored status id (KeyError).
        """
        if visibility not in VISIBILITIES:
            raise ValueError(f"visibility must be one of {VISIBILITIES}")
        author = self.account(account)
        with self.lock:
            parent = self.statuses[reply_to] if reply_to else None
            when = created_at or self.clock()
            status_id = self.next_id(when)
            mentions, tags, content = self._render(author, text)
            self._posted.setdefault(author.id, []).append(iso(when))
            status = status_json(
                id=status_id, created_at=iso(when), author=author, account=self.account_view(author),
                remote_id=self.next_id(when) if author.domain else status_id, parent=parent, visibility=visibility,
                spoiler_text=spoiler_text, language=language, content=content if html is None else html,
                mentions=mentions, tags=tags, media=[media_json(self.next_id(when), author, d) for d in media],
                application=application)
            status["sensitive"] = sensitive or bool(spoiler_text)
            self.statuses[status_id] = status
            self._texts[status_id] = text
            self.tags.update(t["name"] for t in tags)
            if parent is not None:
                parent["replies_count"] += 1
            self._announce(self._streams(status), "update", self.status_view(status_id))
            if self.brand.id in {m["id"] for m in mentions} and author.id != self.brand.id:
                self._notify("mention", author, status_id)
            return copy.deepcopy(status)

    def edit_status(self, status_id: str, text: str, *, spoiler_text: str | None = None) -> dict[str, Any]:
        with self.lock:
            status = self.statuses[status_id]
            author = self.accounts[status["account"]["id"]]
            before = {m["id"] for m in status["mentions"]}
            mentions, tags, content = self._render(author, text)
            status.update(content=content, mentions=mentions, tags=tags, edited_at=iso(self.clock()))
            if spoiler_text is not None:
                status.update(spoiler_text=spoiler_text, sensitive=bool(spoiler_text) or bool(status["sensitive"]))
            self._texts[status_id] = text
            self.tags.update(t["name"] for t in tags)
            self._announce(self._streams(status), "status.update", self.status_view(status_id))
            if self.brand.id in {m["id"] for m in mentions} - before and author.id != self.brand.id:
                self._notify("mention", author, status_id)
            return copy.deepcopy(status)

    def delete_status(self, status_id: str) -> None:
        with self.lock:
            status = self.statuses.pop(status_id)
            self._texts.pop(status_id, None)
            posted = self._posted.get(status["account"]["id"], [])
            if status["created_at"] in posted:
                posted.remove(status["created_at"])
            parent = self.statuses.get(status["in_reply_to_id"] or "")
            if parent is not None:
                parent["replies_count"] = max(parent["replies_count"] - 1, 0)
            self.notifications = [n for n in self.notifications if (n.get("status") or {}).get("id") != status_id]
            streams = self._streams(status)
            if self.brand.id in {m["id"] for m in status["mentions"]} and ["user"] not in streams:
                streams.append(["user"])  # a mentioned local account's timeline drops it too
            self._announce(streams, "delete", status_id)

    def favourite(self, account: Account | str, status_id: str) -> None:
        """`account` favourites a status (the brand's: a "favourite" notification)."""
        fan = self.account(account)
        with self.lock:
            status = self.statuses[status_id]
            self._favourites.setdefault(status_id, set()).add(fan.id)
            status["favourites_count"] = len(self._favourites[status_id])
            if status["account"]["id"] == self.brand.id and fan.id != self.brand.id:
                self._notify("favourite", fan, status_id)

    def follow(self, account: Account | str) -> None:
        """`account` follows the brand (a "follow" notification, without a status)."""
        follower = self.account(account)
        with self.lock:
            self.brand.followers += 1
            self._notify("follow", follower, None)

    def text_of(self, status_id: str) -> str:
        """The status's source text, as its author wrote it."""
        return self._texts.get(status_id, "")

    def status_view(self, status_id: str) -> dict[str, Any]:
        """The Status as served now (its account's counts current)."""
        with self.lock:
            status = copy.deepcopy(self.statuses[status_id])
            status["account"] = self.account_view(status["account"]["id"])
            return status

    def visible(self, status: dict[str, Any], viewer: Account | None) -> bool:
        if status["visibility"] in ("public", "unlisted"):
            return True
        return viewer is not None and (status["account"]["id"] == viewer.id
                                       or viewer.id in {m["id"] for m in status["mentions"]})

    def notification_view(self, notification: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            view = copy.deepcopy(notification)
            view["account"] = self.account_view(view["account"]["id"])
            if view.get("status") is not None:
                view["status"] = self.status_view(view["status"]["id"])
            return view

    # --- what the REST routes read ----------------------------------------------------

    def timeline(self, *, tag: str | None = None, local: bool = False, remote: bool = False,
                 only_media: bool = False) -> list[dict[str, Any]]:
        """Public statuses (a tag's, when given), newest first: what public and tag timelines page over."""
        with self.lock:
            found = [s for s in self.statuses.values() if s["visibility"] == "public" and s["reblog"] is None
                     and (tag is None or tag.lower() in {t["name"] for t in s["tags"]})
                     and (not local or self.accounts[s["account"]["id"]].local)
                     and (not remote or not self.accounts[s["account"]["id"]].local)
                     and (not only_media or s["media_attachments"])]
            return [self.status_view(s["id"]) for s in sorted(found, key=lambda s: int(s["id"]), reverse=True)]

    def context(self, status_id: str, viewer: Account | None) -> dict[str, list[dict[str, Any]]]:
        """Ancestors (the root first) and descendants (depth first, oldest branch first)."""
        with self.lock:
            ancestors, parent_id = [], self.statuses[status_id]["in_reply_to_id"]
            while parent_id in self.statuses:
                ancestors.insert(0, self.statuses[parent_id])
                parent_id = self.statuses[parent_id]["in_reply_to_id"]
            children: dict[str, list[dict[str, Any]]] = {}
            for status in sorted(self.statuses.values(), key=lambda s: int(s["id"])):
                children.setdefault(status["in_reply_to_id"] or "", []).append(status)
            descendants, stack = [], list(reversed(children.get(status_id, [])))
            while stack:
                status = stack.pop()
                descendants.append(status)
                stack.extend(reversed(children.get(status["id"], [])))
            return {name: [self.status_view(s["id"]) for s in group if self.visible(s, viewer)]
                    for name, group in (("ancestors", ancestors), ("descendants", descendants))}

    # --- internals ---------------------------------------------------------------------

    def _render(self, author: Account, text: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]], str]:
        mentions: dict[str, dict[str, Any]] = {}
        tags: dict[str, dict[str, Any]] = {}

        def link(entity: markup.Entity) -> str | None:
            if entity.kind == "url":
                return markup.link_html(entity.value)
            if entity.kind == "hashtag":
                name = entity.value.lower()
                tags.setdefault(name, {"name": name, "url": f"https://{self.domain}/tags/{markup.quote(name)}"})
                return markup.hashtag_html(entity.value, author.host)
            target = self.lookup(f"{entity.value}@{entity.domain}" if entity.domain else entity.value, near=author)
            if target is None:
                return None  # an unknown account stays text, as Mastodon leaves it
            mentions.setdefault(target.id, {"id": target.id, "username": target.username, "url": target.url,
                                            "acct": target.acct})
            return markup.mention_html(target.username, target.url)

        content = markup.to_html(text, link)
        return list(mentions.values()), list(tags.values()), content

    def _streams(self, status: dict[str, Any]) -> list[list[str]]:
        """The streams a status goes out on (Mastodon's fan-out: public ones only for public statuses)."""
        author = self.accounts[status["account"]["id"]]
        streams = [["user"]] if author.id == self.brand.id else []
        if status["visibility"] != "public" or status["reblog"] is not None:
            return streams
        where = "local" if author.local else "remote"
        streams += [["public"], [f"public:{where}"]]
        if status["media_attachments"]:
            streams += [["public:media"], [f"public:{where}:media"]]
        for tag in status["tags"]:
            streams.append(["hashtag", tag["name"]])
            if author.local:
                streams.append(["hashtag:local", tag["name"]])
        return streams

    def _notify(self, kind: str, account: Account, status_id: str | None) -> None:
        self._last_notification += 1
        notification = copy.deepcopy(RECORDED["notification"])
        notification.update(id=str(self._last_notification), type=kind, created_at=iso(self.clock()),
                            group_key=f"ungrouped-{self._last_notification}", account=self.account_view(account),
                            status=self.status_view(status_id) if status_id else None)
        if status_id is None:
            del notification["status"]
        self.notifications.append(notification)
        self._announce([["user"], ["user:notification"]], "notification", notification)

    def _announce(self, streams: list[list[str]], event: str, payload: dict[str, Any] | str) -> None:
        """Called with the lock held, so every subscriber sees changes in the order they were made."""
        if not streams:
            return
        text = payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
        for callback in list(self._subscribers):
            callback(StreamMessage([list(s) for s in streams], event, text))

    def subscribe(self, callback: Callable[[StreamMessage], None]) -> Callable[[], None]:
        """Call `callback(message)` for every change from now on; returns the unsubscribe function."""
        with self.lock:
            self._subscribers.append(callback)

        def unsubscribe() -> None:
            with self.lock:
                if callback in self._subscribers:
                    self._subscribers.remove(callback)
        return unsubscribe


