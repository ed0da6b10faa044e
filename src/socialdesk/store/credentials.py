"""Tokens of the network accounts we post as (one row per network)."""

from __future__ import annotations

import threading
from datetime import datetime

from sqlalchemy import Engine
from sqlmodel import Session, select

from socialdesk.networks.base import StoredCredential
from socialdesk.store.db import as_utc, session_scope, utcnow
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


class DatabaseCredentials:
    """One network's brand-account tokens in the database: the CredentialStore networks are given.

    `load(lock=True)` holds the row until the next `save` or `release` (FOR UPDATE on
    PostgreSQL; SQLite's BEGIN IMMEDIATE holds the database), so two replicas refreshing a
    single-use token queue up instead of both spending it. Held while the network answers
    a refresh, which is rare (tokens last hours).
    """

    def __init__(self, engine: Engine, network: str) -> None:
        self._engine, self._network = engine, network
        self._held = threading.local()

    def load(self, *, lock: bool = False) -> StoredCredential | None:
        if lock:
            self.release()  # never two held sessions on one thread
            session = Session(self._engine)
            try:
                session.begin()
                row = get_credential(session=session, network=self._network, lock=True)
            except BaseException:
                session.close()
                raise
            self._held.session = session
        else:
            with session_scope(self._engine) as session:
                row = get_credential(session=session, network=self._network)
        if row is None:
            return None
        return StoredCredential(access_token=row.access_token, refresh_token=row.refresh_token,
                                expires_at=as_utc(row.expires_at) if row.expires_at else None, account_id=row.account_id,
                                account_handle=row.account_handle)

    def save(self, credential: StoredCredential) -> None:
        held: Session | None = getattr(self._held, "session", None)
        try:
            if held is not None:
                self._write(held, credential)
                held.commit()
            else:
                with session_scope(self._engine) as session:
                    self._write(session, credential)
        finally:
            self.release()

    def release(self) -> None:
        """Let go of a row `load(lock=True)` holds, without writing."""
        held: Session | None = getattr(self._held, "session", None)
        if held is not None:
            self._held.session = None
            held.close()

    def delete(self) -> bool:
        with session_scope(self._engine) as session:
            return delete_credential(session=session, network=self._network)

    def _write(self, session: Session, credential: StoredCredential) -> None:
        save_credential(session=session, network=self._network, access_token=credential.access_token,
                        refresh_token=credential.refresh_token, expires_at=credential.expires_at,
                        account_id=credential.account_id, account_handle=credential.account_handle, now=utcnow())
