"""What X bills for: the kinds of read and write it charges, and what a page read.

network.billing prices these kinds (X's pay-per-use rates by default). A page of a walk
(search, the mentions timeline) reports its reads with `billed_reads`; the stream, the
removal check and a reply (reply.py) name the kinds they spent.
"""

from __future__ import annotations

from typing import Any

from socialdesk.networks.base import BilledReads

# What X bills (refs/x/docs/pricing.mdx), as network.billing names them: a post read, a user read,
# an owned read (the app owner's own data read with that user's token, not the app's bearer token),
# a post created (a reply), and a post created with a URL in it ("Post: Create (with URL)", dearer).
POST_READ, USER_READ, OWNED_READ, POST_CREATED, POST_CREATED_URL = "post", "user", "owned", "created", "created_url"


def billed_reads(body: Any, *, owned: bool = False) -> list[BilledReads]:
    """What X charges for a page it returned: each post in `data` and each user in `includes`.

    `owned`: the app owner's own data read with that user's own token, billed as owned reads whatever the
    resource (X: "when {id} matches the authenticated user"; the app's bearer token authenticates no user)."""
    posts = tuple(str(t["id"]) for t in body.get("data") or [])
    users = tuple(str(u["id"]) for u in (body.get("includes") or {}).get("users") or [])
    if owned:
        return [BilledReads(OWNED_READ, posts + tuple(f"user:{u}" for u in users))] if posts or users else []
    return [reads for reads in (BilledReads(POST_READ, posts), BilledReads(USER_READ, users)) if reads.ids]
