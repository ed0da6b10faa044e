"""Slack user ids shown as names (`@alice`, not `U0ALICE01`) where Slack does not render
`<@U…>` itself: exports, `socialdesk case show`, `socialdesk faq list`.

One `SlackNames` is made where the Slack client is (app.build; a CLI command that has a
token) and passed down; never a module-level cache. users.info is asked once per person,
and the answer kept for `ttl` seconds (a renamed person shows the new name after that) in
a bounded, least-recently-used table. A failure never fails the caller: the id is shown.
After Slack itself fails (down, rate-limited, a bad token) nobody is asked for
`pause` seconds, so an export naming many people does not wait a timeout for each.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING

from slack_sdk.errors import SlackApiError

if TYPE_CHECKING:
    from slack_sdk import WebClient

    from socialdesk.config import Settings

log = logging.getLogger(__name__)

USER_ID = re.compile(r"^[UW][A-Z0-9]{2,30}$")  # U…, or W… on Enterprise Grid
DEFAULT_SIZE = 2000
DEFAULT_TTL = 3600.0
DEFAULT_PAUSE = 60.0
# Answers about the person, not about Slack: remembered like a name (the id is what there is).
PERSON_ERRORS = frozenset({"user_not_found", "user_not_visible", "account_inactive"})


def display_name(user: dict) -> str | None:  # type: ignore[type-arg]
    """What Slack shows after the @: the display name, else the username, else the real name."""
    profile = user.get("profile") or {}
    name = profile.get("display_name") or user.get("name") or profile.get("real_name") or user.get("real_name")
    return str(name) if name else None


class SlackNames:
    """`names("U0ALICE01")` is "@alice"; anything that is not a user id ("system", "cli:root") is
    returned as it is, and so is an id Slack would not name."""

    def __init__(self, client: WebClient | None, *, size: int = DEFAULT_SIZE, ttl: float = DEFAULT_TTL,
                 pause: float = DEFAULT_PAUSE, clock: Callable[[], float] = time.monotonic) -> None:
        if size < 1:
            raise ValueError("a name cache needs room for at least one name")
        self._client, self._size, self._ttl, self._pause, self._clock = client, size, ttl, pause, clock
        # id -> (good until, shown, a person: not a bot, an app or a deactivated account; None: not known)
        self._names: OrderedDict[str, tuple[float, str, bool | None]] = OrderedDict()
        self._quiet_until = 0.0
        self._lock = threading.Lock()

    def __call__(self, user_id: str | None) -> str | None:
        return self.name(user_id) if user_id else user_id

    def __len__(self) -> int:
        return len(self._names)

    def name(self, user_id: str) -> str:
        return self._lookup(user_id)[0]

    def is_person(self, user_id: str) -> bool | None:
        """Whether `user_id` is someone who can work a case (not a bot, an app or a deactivated account);
        None when Slack could not say."""
        return self._lookup(user_id)[1]

    def _lookup(self, user_id: str) -> tuple[str, bool | None]:
        if self._client is None or not USER_ID.match(user_id):
            return user_id, None
        now = self._clock()
        with self._lock:
            cached = self._names.get(user_id)
            if cached is not None and cached[0] > now:
                self._names.move_to_end(user_id)
                return cached[1], cached[2]
            if now < self._quiet_until:  # a stale name beats an id
                return (cached[1], cached[2]) if cached is not None else (user_id, None)
        found = self._ask(user_id, now)
        if found is not None:
            return found
        return (cached[1], cached[2]) if cached is not None else (user_id, None)

    def _ask(self, user_id: str, now: float) -> tuple[str, bool | None] | None:
        """users.info; the name to show and whether it is a person, kept; None: nothing learnt (Slack failed)."""
        try:
            user = self._client.users_info(user=user_id).get("user") or {}  # type: ignore[union-attr]
        except SlackApiError as exc:
            error = str(exc.response.get("error", "")) if exc.response is not None else ""
            if error in PERSON_ERRORS:  # nobody Slack will show: not someone to give work to
                self._keep(user_id, user_id, False, now)
                return user_id, False
            self._rest(now, error or type(exc).__name__)
            return None
        except (OSError, ValueError) as exc:  # no connection, a timeout, an answer that is not JSON
            self._rest(now, type(exc).__name__)
            return None
        name = display_name(user)
        shown = f"@{name}" if name else user_id
        person = not (user.get("is_bot") or user.get("deleted") or user.get("id") == "USLACKBOT")
        self._keep(user_id, shown, person, now)
        return shown, person

    def _keep(self, user_id: str, shown: str, person: bool | None, now: float) -> None:
        with self._lock:
            self._names[user_id] = (now + self._ttl, shown, person)
            self._names.move_to_end(user_id)
            while len(self._names) > self._size:
                self._names.popitem(last=False)

    def _rest(self, now: float, why: str) -> None:
        with self._lock:
            self._quiet_until = now + self._pause
        log.info("users.info failed (%s): Slack ids are shown for %g s instead of names", why, self._pause)


def for_cli(settings: Settings) -> SlackNames:
    """A CLI command's names: through Slack when SLACK_BOT_TOKEN is set, else the ids as they are."""
    if settings.slack_bot_token is None:
        return SlackNames(None)
    from slack_sdk import WebClient

    return SlackNames(WebClient(token=settings.slack_bot_token.get_secret_value(), base_url=settings.slack_api_url,
                                timeout=10))
