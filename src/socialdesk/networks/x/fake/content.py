"""FakeX's content: the users and posts it holds, made as X would store them.

A mixin over FakeX's state (FakeX sets up `_users`, `_user_ids`, `_posts`, `_match_ctx`,
`_seq` and `_last_auto_id`, and supplies `_lock` and the stream's `_publish`): tests and
the scripted day add users and posts here; the endpoints (fake/api.py) read them.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

from socialdesk.networks.x.fake import data as d
from socialdesk.networks.x.fake import query as xq


class Content:
    """Users and posts: what tests add, and the ids, mentions and search context they get."""

    def add_user(self, *, username: str, name: str | None = None, followers: int = 10,
                 verified: bool = False, user_id: str | None = None, created_at: datetime | None = None) -> dict:
        """Create (or redefine) a user; returns X's user object with every field.

        `created_at`: when the account was made (default: years ago)."""
        with self._lock:
            uid = self._user_ids.get(username.casefold())
            if uid is None:
                uid = user_id or str(1_500_000_000_000_000_000 + len(self._users))
                while uid in self._users and uid != user_id:
                    uid = str(int(uid) + 1)
                self._users[uid] = {
                    "created_at": "2019-03-14T09:26:53.000Z", "description": "", "id": uid,
                    "name": name or username,
                    "profile_image_url": f"https://pbs.twimg.com/profile_images/{uid}/avatar_normal.jpg",
                    "protected": False,
                    "public_metrics": {"followers_count": followers, "following_count": 0,
                                       "tweet_count": 0, "listed_count": 0},
                    "username": username, "verified": verified,
                }
                self._user_ids[username.casefold()] = uid
            user = self._users[uid]
            user["name"] = name or user["name"]
            user["public_metrics"]["followers_count"] = followers
            user["verified"] = verified
            user["verified_type"] = "blue" if verified else "none"
            if created_at is not None:
                user["created_at"] = d.x_time(created_at)
            return copy.deepcopy(user)

    def post(self, *, username: str, text: str, lang: str = "en", conversation_id: str | None = None,
             in_reply_to: str | None = None, retweet_of: str | None = None, quote_of: str | None = None,
             long_text: str | None = None, created_at: datetime | None = None,
             tweet_id: str | None = None) -> dict:
        """Add a post as X would store it and return it with every field.

        Links become t.co links (entities keep the original as expanded_url). A
        retweet's text is built from the original ("RT @user: …", 140 code points),
        so `text` is ignored for it; `long_text` over 280 makes a note_tweet and,
        when `text` is empty, the truncated `text`. Ids follow created_at like real
        snowflakes; `tweet_id` pins one (e.g. to mirror a recording).
        """
        with self._lock:
            author = self._users[self._ensure_user(username)]
            parent = self._posts.get(int(in_reply_to)) if in_reply_to else None
            original = self._posts.get(int(retweet_of)) if retweet_of else None
            if retweet_of and original is None:
                raise ValueError(f"retweet_of={retweet_of}: post it on this FakeX first")
            tid = self._new_id(created_at, tweet_id)
            when = created_at or (d.time_of(tid) if tweet_id else datetime.now(UTC))
            if original is not None:
                orig_author = self._users[original["author_id"]]["username"]
                text = d.truncate(f"RT @{orig_author}: {d.full_text(original)}", 140)
                lang = original["lang"]
            note_text, note_expanded = d.shorten_urls(long_text or "")
            has_note = bool(long_text) and d.weighted_length(long_text) > 280
            if long_text and not text:
                text = d.truncate_note(note_text) if has_note else note_text
            text, expanded = d.shorten_urls(text)
            # Links already shortened (from long_text or the retweeted post) keep their originals.
            inherited = d.all_entities(original).get("urls", []) if original else []
            expanded |= {u["url"]: u["expanded_url"] for u in inherited} | note_expanded
            post: dict[str, Any] = {
                "author_id": author["id"],
                "conversation_id": conversation_id or (parent["conversation_id"] if parent else str(tid)),
                "created_at": d.x_time(when), "edit_history_tweet_ids": [str(tid)], "id": str(tid),
                "lang": lang, "possibly_sensitive": False,
                "public_metrics": {"retweet_count": 0, "reply_count": 0, "like_count": 0,
                                   "quote_count": 0, "bookmark_count": 0, "impression_count": 0},
                "reply_settings": "everyone", "source": "Twitter Web App", "text": text,
            }
            if ents := d.entities(text, expanded, self._user_id):
                post["entities"] = ents
            refs = [{"type": kind, "id": str(ref)} for kind, ref in
                    (("retweeted", retweet_of), ("quoted", quote_of), ("replied_to", in_reply_to)) if ref]
            if refs:
                post["referenced_tweets"] = refs
            reply_user = parent["author_id"] if parent else self._leading_mention(text) if in_reply_to else None
            if reply_user:
                post["in_reply_to_user_id"] = reply_user
            if has_note:
                post["note_tweet"] = {"text": note_text}
                if note_ents := d.entities(note_text, note_expanded, self._user_id):
                    post["note_tweet"]["entities"] = note_ents
            for ref, metric in ((parent, "reply_count"), (original, "retweet_count"),
                                (self._posts.get(int(quote_of)) if quote_of else None, "quote_count")):
                if ref is not None:
                    ref["public_metrics"][metric] += 1
            author["public_metrics"]["tweet_count"] += 1
            # X's v2 JSON carries text with &, < and > HTML-escaped (see the recordings).
            post["text"] = d.html_escape(post["text"])
            if has_note:
                post["note_tweet"]["text"] = d.html_escape(post["note_tweet"]["text"])
            post = dict(sorted(post.items()))  # X sends keys alphabetically
            self._posts[tid] = post
            self._match_ctx[tid] = self._context(post, original)
            self._publish(tid)
            return copy.deepcopy(post)

    def posts(self) -> list[dict]:
        """Every stored post, oldest first, with its author's `username` and `name` beside (local pages)."""
        with self._lock:
            return [copy.deepcopy(post) | {"username": self._users[post["author_id"]]["username"],
                                           "name": self._users[post["author_id"]]["name"]}
                    for _, post in sorted(self._posts.items())]

    def delete_post(self, tweet_id: str) -> None:
        """The author deleted it: lookups answer X's "Not Found Error", searches no longer find it."""
        with self._lock:
            self._posts.pop(int(tweet_id))
            self._match_ctx.pop(int(tweet_id), None)

    def withhold_post(self, tweet_id: str, country_codes: list[str], *, copyright: bool = False) -> None:
        """Withheld in these countries: the post gains X's `withheld` field (tweet.fields=withheld)."""
        with self._lock:
            self._posts[int(tweet_id)]["withheld"] = {
                "copyright": copyright, "country_codes": [c.upper() for c in country_codes], "scope": "tweet"}

    def _new_id(self, created_at: datetime | None, tweet_id: str | None) -> int:
        if tweet_id is not None:
            if int(tweet_id) in self._posts:
                raise ValueError(f"post {tweet_id} already exists")
            return int(tweet_id)
        self._seq += 1
        tid = d.snowflake(created_at or datetime.now(UTC), self._seq)
        if created_at is None:  # posts made "now" always sort after the ones before them
            tid = self._last_auto_id = max(tid, self._last_auto_id + 1)
        while tid in self._posts:
            tid += 1
        return tid

    def _user_id(self, username: str) -> str | None:
        return self._user_ids.get(username.casefold())

    def _leading_mention(self, text: str) -> str | None:
        word = text.split(maxsplit=1)[0] if text.strip() else ""
        return self._ensure_user(word[1:]) if word.startswith("@") and len(word) > 1 else None

    def _ensure_user(self, username: str) -> str:
        return self._user_ids.get(username.casefold()) or self.add_user(username=username)["id"]

    def _context(self, post: dict, original: dict | None) -> dict:
        """What search matches a post on, fixed when it is made."""
        def names(uid: str | None) -> set[str]:
            user = self._users.get(uid or "")
            return {user["username"], user["id"]} if user else set()

        words = " ".join([d.full_text(post), d.full_text(original) if original else ""])
        return {"words": xq.tokens(words), "author": self._users[post["author_id"]],
                "reply_to_user": names(post.get("in_reply_to_user_id")),
                "retweeted_author": names(original["author_id"]) if original else set()}
