from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import create_engine, text

from socialdesk.slack import ids


def cards(slack_emulator, channel: str) -> list[dict]:
    """socialdesk's cards in the channel, oldest first."""
    return [m for m in reversed(slack_emulator.history(channel))
            if (m.get("metadata") or {}).get("event_type") == ids.CASE_METADATA_TYPE]


def case_id_of(card: dict) -> int:
    return card["metadata"]["event_payload"]["case_id"]


def block_text(card: dict, block_id: str) -> str:
    block = next(b for b in card["blocks"] if b.get("block_id") == block_id)
    if "text" in block:
        return block["text"]["text"]
    return " ".join(e.get("text", "") for e in block.get("elements", []))


def button_ids(card: dict) -> list[str]:
    block = next(b for b in card["blocks"] if b["type"] == "actions")
    return [e["action_id"] for e in block["elements"]]


def _rows(db_url: str, sql: str) -> list:
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(text(sql)))
    finally:
        engine.dispose()


def _utc(value) -> datetime | None:  # type: ignore[no-untyped-def]
    """A timestamp read with plain SQL: SQLite gives naive UTC (a string with some drivers)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def polled_since(db_url: str, moment: datetime) -> bool:
    """Every active rule has finished a poll (follow-up searches included) that began after `moment`:
    a poll's lease is taken when it begins (`last_polled_at`) and given back when it ends."""
    rows = _rows(db_url, "SELECT last_polled_at, lease_until FROM rules WHERE NOT paused")
    return bool(rows) and all((_utc(began) or moment) > moment and lease is None for began, lease in rows)


def nothing_to_post(db_url: str) -> bool:
    """No case waits for its card and no follow-up for its thread message: the publisher has nothing left."""
    [(cards_due,)] = _rows(db_url, "SELECT count(*) FROM cases WHERE message_ts IS NULL AND status != 'ignored'")
    [(threads_due,)] = _rows(db_url, "SELECT count(*) FROM posts p JOIN cases c ON c.id = p.case_id "
                                     "WHERE p.thread_ts IS NULL AND p.id != c.first_post_id "
                                     "AND c.message_ts IS NOT NULL AND c.status != 'ignored'")
    return cards_due == 0 and threads_due == 0


__all__ = ["cards", "case_id_of", "block_text", "button_ids", "ids", "polled_since", "nothing_to_post"]
