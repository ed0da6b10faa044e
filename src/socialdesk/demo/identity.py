"""The demo workspace's fixed ids and the error its Web API methods raise (shared by its modules)."""

from __future__ import annotations

from typing import Any

APP_ID = "A0SOCIALDK"
BOT_ID = "B0SOCIALDK"
BOT_USER_ID = "U0SOCIALDK"
BOT_NAME = "socialdesk"


class ApiError(Exception):
    """A Web API method's `{"ok": false, "error": …}` answer; `extra` goes beside the error."""

    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra
