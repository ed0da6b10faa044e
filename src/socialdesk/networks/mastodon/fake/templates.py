"""The entities the fake serves, built on the recorded ones (recorded.json, provenance inside):
every key a real Mastodon 4.6 answer has, in its order, with the fake's values filled in."""

from __future__ import annotations

import copy
import hashlib
import json
from importlib import resources
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from socialdesk.networks.mastodon.fake.world import Account, MastodonWorld

RECORDED: dict[str, Any] = json.loads(
    resources.files(__package__).joinpath("recorded.json").read_text(encoding="utf-8"))
_RECORDED_HOST = "http://localhost:3000"


def account_json(account: Account, *, statuses: int, last_status_at: str | None) -> dict[str, Any]:
    view = copy.deepcopy(RECORDED["account"])
    missing = f"https://{account.instance}/avatars/original/missing.png"
    view.update(
        id=account.id, username=account.username, acct=account.acct, display_name=account.display_name,
        discoverable=account.indexable, indexable=account.indexable, noindex=not account.indexable,
        created_at=account.created_at.strftime("%Y-%m-%dT00:00:00.000Z"),  # Mastodon shows the day only
        url=account.url, uri=account.uri, avatar=missing, avatar_static=missing,
        header=missing.replace("avatars", "headers"), header_static=missing.replace("avatars", "headers"),
        followers_count=account.followers, statuses_count=statuses, last_status_at=last_status_at)
    return view


def credential_json(account: Account, *, statuses: int, last_status_at: str | None) -> dict[str, Any]:
    """verify_credentials: the account with its `source` and `role` (the recorded owner's)."""
    recorded = RECORDED["credential_account"]
    view = account_json(account, statuses=statuses, last_status_at=last_status_at)
    source = copy.deepcopy(recorded["source"])
    source.update(indexable=account.indexable, discoverable=account.indexable)
    answer: dict[str, Any] = {}
    for key in recorded:  # the recorded key order, with source and role in their places
        answer[key] = source if key == "source" else copy.deepcopy(recorded[key]) if key == "role" else view.get(key)
    return answer


def status_json(*, id: str, created_at: str, author: Account, account: dict[str, Any], remote_id: str,
                parent: dict[str, Any] | None, visibility: str, spoiler_text: str, language: str | None,
                content: str, mentions: list[dict[str, Any]], tags: list[dict[str, Any]],
                media: list[dict[str, Any]], application: str | None) -> dict[str, Any]:
    status = copy.deepcopy(RECORDED["status"])
    if author.local:
        uri, url = f"{author.uri}/statuses/{id}", f"{author.url}/{id}"
    else:  # a federated status keeps its server's own id in its uri and url
        uri, url = f"{author.uri}/statuses/{remote_id}", f"{author.url}/{remote_id}"
    status.update(
        id=id, created_at=created_at, in_reply_to_id=parent["id"] if parent else None,
        in_reply_to_account_id=parent["account"]["id"] if parent else None,
        sensitive=bool(spoiler_text), spoiler_text=spoiler_text, visibility=visibility, language=language,
        uri=uri, url=url, replies_count=0, reblogs_count=0, favourites_count=0, quotes_count=0, edited_at=None,
        content=content, account=account, media_attachments=media, mentions=mentions, tags=tags)
    if visibility in ("private", "direct"):
        status["quote_approval"] = {"automatic": [], "manual": [], "current_user": "denied"}
    if application is None:  # shown only to the author, and `pinned` only on one's own statuses
        del status["application"], status["pinned"]
    else:
        status["application"] = {"name": application, "website": None}
    return status


def media_json(media_id: str, author: Account, description: str) -> dict[str, Any]:
    media = copy.deepcopy(RECORDED["media_attachment"])
    digest = hashlib.sha256(media_id.encode()).hexdigest()[:16]
    folder = "/".join(media_id.zfill(18)[i:i + 3] for i in range(0, 18, 3))
    base = f"https://{author.instance}/system/{'' if author.local else 'cache/'}media_attachments/files/{folder}"
    media.update(id=media_id, url=f"{base}/original/{digest}.png", preview_url=f"{base}/small/{digest}.png",
                 remote_url=None if author.local else f"https://{author.domain}/media/{digest}.png",
                 text_url=None, description=description or None)
    return media


def instance_json(world: MastodonWorld, *, streaming_url: str) -> dict[str, Any]:
    """/api/v2/instance: the recorded one, on this world's domain, limits and streaming server."""
    text = json.dumps(RECORDED["instance"]).replace(_RECORDED_HOST, f"https://{world.domain}")
    view = json.loads(text)
    view["domain"] = world.domain
    view["configuration"]["urls"]["streaming"] = streaming_url
    view["configuration"]["statuses"].update(max_characters=world.max_characters,
                                             characters_reserved_per_url=world.characters_reserved_per_url)
    return view
