"""X's filtered stream under the stream worker, as app.build wires it: FakeX (the stream, its rules and
recent search) and a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlmodel import select

from socialdesk.config import Settings
from socialdesk.jobs.poll import Poller
from socialdesk.jobs.stream import StreamWorker
from socialdesk.networks.x import network as x
from socialdesk.networks.x.billing import POST_READ
from socialdesk.networks.x.fake.server import FakeX
from socialdesk.networks.x.parse import snowflake_time
from socialdesk.store import rules as rule_store
from socialdesk.store import spend as spend_store
from socialdesk.store.credentials import DatabaseCredentials
from socialdesk.store.db import session_scope
from socialdesk.store.models import PostRow
from tests.support.waiting import wait_for

TOKEN = "test-bearer"


def now() -> datetime:
    return datetime.now(UTC)


@pytest.fixture
def fake_x() -> Iterator[FakeX]:
    with FakeX(bearer_token=TOKEN) as server:
        server.stream_keepalive_seconds = 0.1
        yield server


class Desk:
    def __init__(self, engine, fake_x: FakeX) -> None:  # type: ignore[no-untyped-def]
        self.http = httpx.Client(timeout=5)
        settings = Settings(_env_file=None, SOCIALDESK_X_API_URL=fake_x.url, SOCIALDESK_X_BEARER_TOKEN=TOKEN)
        self.network = x.build(settings, http=self.http, clock=now,
                               credentials=lambda name: DatabaseCredentials(engine, name))
        self.opened: list[int] = []
        self.poller = Poller(engine=engine, networks={"x": self.network}, own_handles=frozenset(), clock=now,
                             on_new_cases=self.opened.extend)
        self.worker = StreamWorker(engine=engine, network=self.network, poller=self.poller, clock=now)


@pytest.fixture
def desk(engine, fake_x: FakeX) -> Iterator[Desk]:  # type: ignore[no-untyped-def]
    made = Desk(engine, fake_x)
    yield made
    made.worker.stop()
    made.http.close()


def stored(engine) -> list[str]:  # type: ignore[no-untyped-def]
    with session_scope(engine) as session:
        return sorted(p.external_id for p in session.exec(select(PostRow)))


def test_a_post_delivered_out_of_order_across_a_drop_is_stored_once(engine, fake_x: FakeX, desk: Desk) -> None:
    """X delivers posts "not in sorted order" (refs/x/docs/consuming-streaming-data.mdx): a post made before
    the newest one seen may still be on its way when the connection drops. The gap's search after the
    reconnect reads it; what it reads again is stored once."""
    with session_scope(engine) as session:
        rule = rule_store.add_rule(session=session, network="x", query="acme", channel_id="C1", every_seconds=60,
                                   lang=None, include_reposts=False, now=now(), stream=True)
        rule_store.save_cursor(session=session, rule_id=rule.id, cursor={"since_id": None}, not_before=None,
                               now=now())  # as if its newest page had been taken: only the stream brings posts
    day = now().date()
    desk.worker.start()
    wait_for(lambda: fake_x.stream_connections() == 1 and fake_x.stream_rules, timeout=15,
             what="the worker to connect with the rule at X")
    newest = fake_x.post(username="bob", text="acme charger broke")["id"]
    wait_for(lambda: stored(engine) == [newest], timeout=10, what="the streamed post")
    fake_x.drop_stream()
    # Queued behind the drop, so never sent on that connection; made 2 s before `newest` (a lower id).
    late = fake_x.post(username="ann", text="acme screen cracked",
                       created_at=snowflake_time(newest) - timedelta(seconds=2))["id"]
    assert int(late) < int(newest)
    wait_for(lambda: late in stored(engine), timeout=15, what="the post X had not delivered")
    after = fake_x.post(username="cy", text="acme case split")["id"]
    wait_for(lambda: after in stored(engine), timeout=10, what="a post after the reconnect")
    assert stored(engine) == sorted([newest, late, after])
    assert len(desk.opened) == 3 == len(set(desk.opened))  # one case each, none opened twice
    if now().date() == day:  # X bills a post once a UTC day however often it is read; so does the meter
        with session_scope(engine) as session:
            reads = {r.kind: r.reads for r in spend_store.spent(session=session, start=day, end=day + timedelta(days=1))}
        assert reads[POST_READ] == 3  # `newest`, read again by the gap's search, is not billed again
