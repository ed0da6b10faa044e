"""A mentions rule's poll: its query names an account, not words, so the posts it reads are not
matched against it (the demo's seeded Mastodon mention never became a card)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
from sqlmodel import select

from socialdesk.config import Settings
from socialdesk.jobs.poll import Poller
from socialdesk.networks import registry
from socialdesk.networks.mastodon.fake.rest import FakeMastodon
from socialdesk.store import rules as rule_store
from socialdesk.store.credentials import DatabaseCredentials
from socialdesk.store.db import session_scope
from socialdesk.store.models import PostRow


def now() -> datetime:
    return datetime.now(UTC)


@pytest.fixture
def fake() -> Iterator[FakeMastodon]:
    with FakeMastodon() as server:
        yield server


def test_a_mention_made_before_the_first_poll_opens_a_case(engine, fake: FakeMastodon) -> None:  # type: ignore[no-untyped-def]
    world = fake.world
    aiko = world.add_account("aiko", "Aiko")
    mention = world.add_status(aiko, f"@{world.brand.username} I was charged twice for order 4471")
    settings = Settings(_env_file=None, SOCIALDESK_MASTODON_URL=fake.url, SOCIALDESK_MASTODON_TOKEN=world.brand_token)
    with httpx.Client(timeout=5) as http:
        network = registry.build(settings, http=http, clock=now,
                                 credentials=lambda name: DatabaseCredentials(engine, name))["mastodon"]
        poller = Poller(engine=engine, networks={"mastodon": network}, own_handles=frozenset(), clock=now)
        with session_scope(engine) as session:
            rule = rule_store.add_rule(session=session, network="mastodon", kind="mentions", query=world.brand.id,
                                       channel_id="C1", every_seconds=60, lang=None, include_reposts=False, now=now())
            rule_id = rule.id
        poller.poll_rule(rule_id)
    with session_scope(engine) as session:
        posts = {p.external_id: p.case_id for p in session.exec(select(PostRow))}
    assert posts.get(mention["id"]) is not None, posts
