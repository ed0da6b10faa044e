"""What listeners need, handed to them by `app.build` (never imported as globals)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine

from socialdesk.replying import ReplyDesk
from socialdesk.sla import Policy
from socialdesk.slack.blocks.modals import SavedReply
from socialdesk.slack.permissions import ReplyPermissions


@dataclass(frozen=True)
class Deps:
    engine: Engine
    clock: Callable[[], datetime]
    desk: ReplyDesk | None = None
    permissions: ReplyPermissions | None = None
    brand: Callable[[], str] = lambda: "our account"
    saved_replies: Sequence[SavedReply] = ()
    tags: Sequence[str] = field(default_factory=list)
    sla_policy: Policy | None = None  # cards show when the first reply is due
