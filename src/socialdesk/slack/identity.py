"""Who the app is in Slack, for Bolt's authorization, without a Slack call on the ack path.

Bolt's single-workspace authorization calls `auth.test` on the first request and again on
every request while that fails, inside the request: after a restart the first burst of
clicks, and every click while Slack's API is slow, would wait for Slack before their ack.
Here `auth.test` runs in the background (retried until it answers) and `authorize` only
reads what it found; until then requests carry the bot token without the bot's ids, which
only the self-event filter uses (socialdesk listens to no event its bot could cause).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from slack_bolt.authorization import AuthorizeResult
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

log = logging.getLogger(__name__)
RETRY_SECONDS = 30.0


class BotIdentity:
    def __init__(self, client: WebClient, token: str) -> None:
        self._client = client
        self._token = token
        self._found: dict[str, str | None] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._look_up, name="slack-identity", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _look_up(self) -> None:
        while not self._stop.is_set():
            try:
                answer = self._client.auth_test()
                self._found = {"bot_user_id": answer.get("user_id"), "bot_id": answer.get("bot_id"),
                               "team": answer.get("team"), "url": answer.get("url")}
                return
            except Exception as exc:  # noqa: BLE001 - Slack down or the token refused: said, and tried again
                reason = exc.response.get("error") if isinstance(exc, SlackApiError) else type(exc).__name__
                log.warning("Slack's auth.test failed (%s); trying again in %.0f s. Check SLACK_BOT_TOKEN if "
                            "this goes on.", reason, RETRY_SECONDS)
            self._stop.wait(RETRY_SECONDS)

    def authorizer(self) -> Callable[..., AuthorizeResult]:
        """Bolt's `authorize` (a plain function: Bolt passes arguments by their names)."""
        def authorize(enterprise_id: str | None, team_id: str | None, user_id: str | None) -> AuthorizeResult:
            return AuthorizeResult(enterprise_id=enterprise_id, team_id=team_id, user_id=user_id,
                                   bot_token=self._token, **self._found)

        return authorize
