"""Billed reads: what each network charged per day, rule and kind, and what it already billed
today (read again, free). Split from store/models.py, which re-exports them."""

from __future__ import annotations

from datetime import date

from sqlmodel import Field, SQLModel


class BilledSeenRow(SQLModel, table=True):
    """A resource a network billed on a UTC day: read again that day, it costs nothing (the network
    de-duplicates within the day, and so does the meter). Pruned once its month is over."""

    __tablename__ = "billed_seen"

    network: str = Field(primary_key=True, max_length=16)
    day: date = Field(primary_key=True, index=True)  # retention prunes by day (the key starts with network)
    kind: str = Field(primary_key=True, max_length=16)  # the network's Billing.rates key
    resource_id: str = Field(primary_key=True, max_length=64)


class SpendRow(SQLModel, table=True):
    """Billed reads counted per network, UTC day, rule and kind, with what they cost at the rate of the day."""

    __tablename__ = "spend"

    network: str = Field(primary_key=True, max_length=16)
    day: date = Field(primary_key=True)
    rule_id: int = Field(primary_key=True)  # 0: no rule (a reply's post, a lookup); no foreign key (rules go)
    kind: str = Field(primary_key=True, max_length=16)
    reads: int = 0
    cost: float = 0.0  # dollars
