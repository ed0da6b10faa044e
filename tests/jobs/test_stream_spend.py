"""The stream worker meters what each streamed post was billed for, and stops carrying a rule its budget pauses.

The in-process tagging stream of test_stream_network_matched, billing each post it sends as a network
that bills per read does; real SQLite and PostgreSQL underneath."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from socialdesk.jobs.poll import Poller
from socialdesk.jobs.stream import StreamWorker
from socialdesk.networks.base import BilledReads, Billing, StreamEvent
from socialdesk.spend import Meter
from socialdesk.store import rules as rule_store
from socialdesk.store import spend as spend_store
from socialdesk.store.db import session_scope
from tests.jobs.test_stream_network_matched import NETWORK, Desk, TaggingStream, add_rule, cases, wait_for

BILLING = Billing(rates={"post": 0.005}, labels={"post": "post reads"})


class BillingStream(TaggingStream):
    def events(self, cursor: dict[str, Any] | None, connected=lambda cursor: None) -> Iterator[StreamEvent]:  # type: ignore[no-untyped-def]
        for event in super().events(cursor, connected):
            if event.post is not None:
                event = dataclasses.replace(event, billed=(BilledReads("post", (event.post.external_id,)),))
            yield event


@pytest.fixture
def desk(engine) -> Iterator[Desk]:  # type: ignore[no-untyped-def]
    made = Desk(engine)
    made.stream = BillingStream(made.world)
    made.network = dataclasses.replace(made.network, stream=made.stream, billing=BILLING)
    made.poller = Poller(engine=engine, networks={NETWORK: made.network}, own_handles=frozenset(),
                         clock=lambda: datetime.now(UTC))
    made.worker = StreamWorker(engine=engine, network=made.network, poller=made.poller,
                               clock=lambda: datetime.now(UTC))
    yield made
    made.worker.stop()


def spent(engine) -> dict[tuple[int, str], int]:  # type: ignore[no-untyped-def]
    today = datetime.now(UTC).date()
    with session_scope(engine) as session:
        return {(r.rule_id, r.kind): r.reads
                for r in spend_store.spent(session=session, start=today.replace(day=1), end=today.replace(year=today.year + 1))}


def test_a_streamed_post_is_billed_to_the_rule_it_matched_once(engine, desk):
    acme = add_rule(engine, "acme")
    desk.start()
    first, second = desk.world.post("acme broke"), desk.world.post("acme again")
    for post in (first, second, first):  # the network sent one twice: billed once that day
        desk.stream.publish(post)
    other = desk.world.post("nothing of ours")
    desk.stream.publish(other, tags=[])  # sent, matched no rule of ours: billed all the same
    wait_for(lambda: spent(engine).get((spend_store.NO_RULE, "post")), what="the unmatched post to be billed")
    assert spent(engine) == {(acme, "post"): 2, (spend_store.NO_RULE, "post"): 1}


def test_a_rule_paused_by_budget_is_no_longer_carried(engine, desk):
    capped, open_rule = add_rule(engine, "acme"), add_rule(engine, "refund")
    with session_scope(engine) as session:
        rule_store.set_budget(session=session, rule_id=capped, monthly_budget=0.01)
    desk.start()
    assert {r.rule_id for r in desk.stream.tracked[-1]} == {capped, open_rule}
    for text in ("acme one", "acme two"):  # $0.01: the budget is spent
        desk.stream.publish(desk.world.post(text))
    wait_for(lambda: spent(engine).get((capped, "post")) == 2, what="the two posts to be billed")
    wait_for(lambda: {r.rule_id for r in desk.stream.tracked[-1]} == {open_rule}, what="the paused rule to go")
    with session_scope(engine) as session:
        assert Meter({NETWORK: desk.network}).paused_by_budget(session=session, now=datetime.now(UTC)) == {capped}
    late = desk.world.post("acme three")
    desk.stream.publish(late, tags=[capped])  # still tagged by the network a moment after: not stored
    refund = desk.world.post("refund please")
    desk.stream.publish(refund)
    wait_for(lambda: refund.external_id in cases(engine), what="the open rule's post")
    assert late.external_id not in cases(engine)
