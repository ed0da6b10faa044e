"""What listeners need, handed to them by `app.build` (never imported as globals)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from socialdesk.drafting.client import Drafter
from socialdesk.listeners.binding import run_now
from socialdesk.networks import registry
from socialdesk.networks.base import Network
from socialdesk.replying import ReplyDesk
from socialdesk.sla import Policy
from socialdesk.spend import Meter
from socialdesk.slack.blocks.modals import SavedReply
from socialdesk.slack.names import SlackNames
from socialdesk.slack.permissions import AdminCheck, ReplyPermissions

if TYPE_CHECKING:
    from socialdesk.config import Settings


@dataclass(frozen=True)
class Deps:
    engine: Engine
    clock: Callable[[], datetime]
    desk: ReplyDesk | None = None
    permissions: ReplyPermissions | None = None
    brand: Callable[[str], str] = lambda network: "our account"  # whom replies on a network go out as
    saved_replies: Sequence[SavedReply] = ()
    drafter: Drafter | None = None  # drafted replies from a language model (SOCIALDESK_LLM_URL); None: no button
    tags: Sequence[str] = field(default_factory=list)
    sla_policy: Policy | None = None  # cards show when the first reply is due
    admins: AdminCheck | None = None  # None: nobody manages from Slack (tests of agent features)
    tz: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))  # the team's time zone
    settings: Settings | None = None  # shown to admins in App Home (never the secrets)
    networks: Mapping[str, Network] = field(default_factory=dict)  # every known network, configured or not
    later: Callable[..., Future[Any]] = run_now  # work after the ack (app.build gives a Later pool)
    notify: Callable[[], object] = lambda: None  # a notice was queued: send what is due now (jobs.notices)
    names: SlackNames | None = None  # Slack ids as "@alice" where Slack does not show mentions (exports)
    meter: Meter | None = None  # the spend meter (`/social usage`); None: one made from `networks`
    # The rules the spend meter paused ((session=, now=) -> rule ids), for the Home's source states; None: none.
    budget_paused: Callable[..., set[int]] | None = None

    def spend_meter(self) -> Meter:
        return self.meter if self.meter is not None else Meter(self.networks)

    @property
    def case_tags(self) -> list[str]:
        """The tags a case can carry: the team's (SOCIALDESK_TAGS), then the care topics triage finds."""
        from socialdesk.triage.triaged import CARE_TAGS

        return list(dict.fromkeys([*self.tags, *CARE_TAGS]))

    def default_network(self) -> str:
        """For rules that name none: the first network with something configured, else the first known."""
        ready = [name for name in registry.names() if name in self.networks
                 and (self.networks[name].sources or self.networks[name].stream)]
        return (ready or list(registry.names()))[0]

    def is_admin(self, user_id: str) -> bool:
        return self.admins is not None and self.admins.is_admin(user_id)

    def admin_known(self, user_id: str) -> bool | None:
        """`is_admin` without asking Slack (for an ack); None: not known here, so ask after the ack."""
        return False if self.admins is None else self.admins.known(user_id)
