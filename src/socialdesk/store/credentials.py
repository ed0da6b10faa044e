"""Tokens of the network accounts we post as (one row per network)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, select

from socialdesk.store.models import CredentialRow


def get_credential(*, session: Session, network: str, lock: bool = False) -> CredentialRow | None:
    """The stored row; `lock` holds it (FOR UPDATE) until the transaction ends, so two
    replicas refreshing at once queue up instead of both spending a single-use token."""
    query = select(CredentialRow).where(CredentialRow.network == network)
    if lock:
        query = query.with_for_update()  # SQLite: our BEGIN IMMEDIATE already serializes writers
    return session.exec(query).first()


def save_credential(
    *,
    session: Session,
    network: str,
    access_token: str,
    refresh_token: str | None,
    expires_at: datetime | None,
    account_id: str | None,
    account_handle: str | None,
    now: datetime,
) -> CredentialRow:
    """Insert or replace the row. account_id / account_handle None keep the stored ones
    (a token refresh does not change whose account it is)."""
    row = session.get(CredentialRow, network)
    if row is None:
        row = CredentialRow(network=network, access_token=access_token, updated_at=now)
    row.access_token = access_token
    row.refresh_token = refresh_token
    row.expires_at = expires_at
    row.account_id = account_id if account_id is not None else row.account_id
    row.account_handle = account_handle if account_handle is not None else row.account_handle
    row.updated_at = now
    session.add(row)
    session.flush()
    return row


def set_account(*, session: Session, network: str, account_id: str, account_handle: str) -> None:
    """Remember whose account the stored token belongs to."""
    row = session.get(CredentialRow, network)
    if row is not None:
        row.account_id, row.account_handle = account_id, account_handle
        session.add(row)


def delete_credential(*, session: Session, network: str) -> bool:
    row = session.get(CredentialRow, network)
    if row is None:
        return False
    session.delete(row)
    return True
