"""Ops alerts (jobs.ops_alerts): one row per incident told to the ops channel.

Taken before posting, as store.notices does: inserting the row (its key is the primary key)
is taking the alert, and setting `recovered_at` is taking its recovery, each a conditional
write that exactly one replica wins. A crash between taking and posting loses that one message
rather than repeating it. Rows are kept KEEP after they recovered (a key seen again within it
is not told again), then pruned.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, update
from sqlmodel import Session, select

from socialdesk.store.models import OpsAlertRow
from socialdesk.store.once import insert_once

# At least the longest month and a day: a once-only alert of a month (a budget's 80 %, a cap) told on its first
# day is still remembered on its last, so it is not told again.
KEEP = timedelta(days=32)


@dataclass(frozen=True)
class OpenAlert:
    key: str
    text: str
    channel_id: str
    opened_at: datetime
    message_ts: str | None


def take_alert(*, session: Session, key: str, text: str, fix: str, channel_id: str, now: datetime,
               recovers: bool = True) -> bool:
    """Take the alert for posting; False when this incident was taken before (here or by another replica).

    `recovers`: False for an event told once, with no recovery (it is closed as it is taken)."""
    values = {"key": key[:200], "text": text, "fix": fix, "channel_id": channel_id[:32], "opened_at": now,
              "recovered_at": None if recovers else now}
    return insert_once(session=session, table=OpsAlertRow.__table__, values=values, key="key")  # type: ignore[arg-type]


def posted(*, session: Session, key: str, message_ts: str | None, error: str | None = None) -> None:
    """What became of a taken alert: its message ts, or why Slack did not take it."""
    session.execute(update(OpsAlertRow).where(OpsAlertRow.key == key)
                    .values(message_ts=message_ts, error=(error or None) and error[:2000]))


def open_alerts(*, session: Session) -> list[OpenAlert]:
    """Alerts told and not recovered, oldest first."""
    rows = session.exec(select(OpsAlertRow).where(OpsAlertRow.recovered_at.is_(None))  # type: ignore[union-attr]
                        .order_by(OpsAlertRow.opened_at, OpsAlertRow.key)).all()
    return [OpenAlert(key=r.key, text=r.text, channel_id=r.channel_id, opened_at=r.opened_at,
                      message_ts=r.message_ts) for r in rows]


def take_recovery(*, session: Session, key: str, now: datetime) -> bool:
    """Take the alert's recovery for posting: True for exactly one caller."""
    return session.execute(update(OpsAlertRow).where(OpsAlertRow.key == key,
                                                     OpsAlertRow.recovered_at.is_(None))  # type: ignore[union-attr]
                           .values(recovered_at=now)).rowcount == 1


def prune(*, session: Session, before: datetime) -> int:
    """Forget alerts recovered before `before`; how many."""
    return session.execute(delete(OpsAlertRow).where(OpsAlertRow.recovered_at < before)).rowcount  # type: ignore[operator]
