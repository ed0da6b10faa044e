"""Which posts X no longer shows: GET /2/tweets?ids=… (up to 100 ids, app bearer token).

A deleted post comes back in `errors` as a "Not Found Error" (resource-not-found); a
withheld one carries a `withheld` object. Every lookup counts against the X app's
monthly read cap, so jobs.removal asks rarely (see there).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx

from socialdesk.networks.base import BilledReads, Removal
from socialdesk.networks.x.api import get
from socialdesk.networks.x.billing import POST_READ

LOOKUP_PATH = "/2/tweets"
LOOKUP_IDS = 100  # X's maximum per request
NOT_FOUND_TYPE = "resource-not-found"


def parse_lookup(body: dict[str, Any], asked: Sequence[str]) -> Removal:
    """Read GET /2/tweets?ids=…: only a resource-not-found error for a post counts as deleted.

    Other errors (e.g. "not authorized" for a protected account) say nothing about deletion.
    """
    asked_set = set(asked)
    deleted = []
    for error in body.get("errors") or []:
        kind = str(error.get("type") or "")
        post_id = str(error.get("resource_id") or error.get("value") or "")
        if (kind.endswith(NOT_FOUND_TYPE) or error.get("title") == "Not Found Error") and post_id in asked_set \
                and error.get("resource_type", "tweet") in ("tweet", "post"):
            deleted.append(post_id)
    withheld = {}
    for post in body.get("data") or []:
        held = post.get("withheld")
        if isinstance(held, dict) and str(post.get("id")) in asked_set:
            withheld[str(post["id"])] = [str(c) for c in held.get("country_codes") or []]
    found = tuple(str(post["id"]) for post in body.get("data") or [] if isinstance(post, dict) and "id" in post)
    return Removal(deleted=sorted(set(deleted)), withheld=withheld,
                   billed=(BilledReads(POST_READ, found),) if found else ())  # each post still there is a read


class XRemovalCheck:
    batch_size = LOOKUP_IDS

    def __init__(self, *, http: httpx.Client, api_url: str, bearer_token: str) -> None:
        self._http = http
        self._url = api_url.rstrip("/") + LOOKUP_PATH
        self._headers = {"Authorization": f"Bearer {bearer_token}"}

    def check(self, external_ids: Sequence[str]) -> Removal:
        params = {"ids": ",".join(external_ids), "tweet.fields": "withheld"}
        response = get(self._http, self._url, params, self._headers, what="post lookup")
        return parse_lookup(response.json(), external_ids)
