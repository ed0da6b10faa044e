"""The mentions timeline source against FakeX, and mentions rules from the CLI to the poller."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest
from sqlmodel import select


from socialdesk.jobs.poll import Poller
from socialdesk.networks.x.fake.server import FakeX
from socialdesk.networks.base import CursorExpired, RateLimited, SourceRejected, SourceUnavailable
from socialdesk.networks.x.search import SEARCH_PATH, XSource
from socialdesk.networks.x.mentions import XMentionsSource, lookup_user_id
from socialdesk.networks.x.parse import snowflake_at
from socialdesk.store import rules as rule_store
from socialdesk.store import spend as spend_store
from socialdesk.store.db import make_engine, session_scope
from socialdesk.store.models import PostRow
from tests.support.db import engine  # noqa: F401  (fixture)
from tests.support.networks import x_network

TOKEN = "mentions-bearer"


@pytest.fixture
def fake_x() -> Iterator[FakeX]:
    with FakeX(bearer_token=TOKEN, own_username="acmephones") as server:
        yield server


def source(fake_x: FakeX, http: httpx.Client, page_size: int = 100, token: str = TOKEN) -> XMentionsSource:
    return XMentionsSource(http=http, api_url=fake_x.url, bearer_token=token, page_size=page_size)


def query(fake_x: FakeX) -> str:
    return f"user:{fake_x.own_user['id']}"


def mention(fake_x: FakeX, n: int) -> list[str]:
    return [fake_x.post(username=f"cust{i % 3}", text=f"@acmephones help #{i}")["id"] for i in range(n)]


def mentions_path(fake_x: FakeX) -> str:
    return f"/2/users/{fake_x.own_user['id']}/mentions"


def test_a_new_rule_takes_the_newest_page_with_the_search_fields(fake_x, http):
    ids = mention(fake_x, 7)
    fake_x.post(username="other", text="no mention of anyone")
    page = source(fake_x, http, page_size=5).fetch(query(fake_x), None)
    assert [p.external_id for p in page.posts] == ids[::-1][:5]
    assert page.done and page.cursor == {"since_id": ids[-1]}
    assert page.posts[0].author.handle == "cust0" and page.posts[0].text == "@acmephones help #6"
    [request] = fake_x.requests_to(mentions_path(fake_x))
    assert request.query["max_results"] == "5" and request.query["expansions"] == "author_id"
    assert "conversation_id" in request.query["tweet.fields"] and "since_id" not in request.query


def test_a_backfill_walks_every_page_with_pagination_tokens_then_continues(fake_x, http):
    ids = mention(fake_x, 12)
    mentions = source(fake_x, http, page_size=5)
    cursor: dict = {}
    seen: list[str] = []
    for _ in range(5):
        page = mentions.fetch(query(fake_x), cursor)
        seen += [p.external_id for p in page.posts]
        cursor = page.cursor
        if page.done:
            break
    assert sorted(seen) == sorted(ids) and cursor == {"since_id": ids[-1]}
    tokens = [r.query.get("pagination_token") for r in fake_x.requests_to(mentions_path(fake_x))]
    assert tokens[0] is None and all(tokens[1:]) and "next_token" not in fake_x.requests[-1].query
    newer = mention(fake_x, 2)
    page = mentions.fetch(query(fake_x), cursor)
    assert [p.external_id for p in page.posts] == newer[::-1]
    assert fake_x.requests[-1].query["since_id"] == ids[-1]


def test_errors_are_the_source_errors(fake_x, http):
    mentions = source(fake_x, http)
    path = mentions_path(fake_x)
    reset = fake_x.rate_limit_next(path, 120)
    with pytest.raises(RateLimited) as limited:
        mentions.fetch(query(fake_x), None)
    assert limited.value.reset_at == datetime.fromtimestamp(reset, UTC)
    fake_x.unavailable_next(path)
    with pytest.raises(SourceUnavailable):
        mentions.fetch(query(fake_x), None)
    with pytest.raises(CursorExpired):
        mentions.fetch(query(fake_x), {"since_id": "1", "next_token": "gone", "pending_newest_id": "2"})
    with pytest.raises(SourceRejected, match="SOCIALDESK_X_BEARER_TOKEN"):
        source(fake_x, http, token="wrong").fetch(query(fake_x), None)
    with pytest.raises(SourceRejected, match="user:12345"):
        mentions.fetch("acme phone", None)


def test_a_stale_page_token_is_cursor_expired_for_search_too(fake_x, http):
    # Shared error handling: X names the refused parameter only inside "Invalid Request"'s errors.
    search = XSource(http=http, api_url=fake_x.url, bearer_token=TOKEN)
    with pytest.raises(CursorExpired, match="next_token"):
        since = snowflake_at(datetime.now(UTC) - timedelta(minutes=5))  # within recent search's 7 days
        search.fetch("acme", {"since_id": str(since), "next_token": "gone", "pending_newest_id": str(since + 1)})


def test_the_account_is_looked_up_by_handle(fake_x, http):
    own = fake_x.own_user["id"]
    assert lookup_user_id(http=http, api_url=fake_x.url, bearer_token=TOKEN, handle="@AcmePhones") == own
    with pytest.raises(SourceRejected, match="no account @nobody_here"):
        lookup_user_id(http=http, api_url=fake_x.url, bearer_token=TOKEN, handle="nobody_here")


def test_the_poller_polls_a_mentions_rule_with_the_mentions_source(engine, fake_x, http):
    with session_scope(engine) as session:
        rule_id = rule_store.add_rule(session=session, network="x", kind="mentions", query=query(fake_x),
                                      channel_id="C1", every_seconds=60, lang=None, include_reposts=False,
                                      now=datetime.now(UTC), backfill=True).id
    ids = mention(fake_x, 3)
    fake_x.post(username="acmephones", text="@cust1 sorry! DM us")  # our own: no case
    search = XSource(http=http, api_url=fake_x.url, bearer_token=TOKEN)
    poller = Poller(engine=engine, networks=x_network(search, source(fake_x, http)), own_handles=frozenset({"acmephones"}),
                    clock=lambda: datetime.now(UTC))
    assert poller.poll_rule(rule_id) == 3
    with session_scope(engine) as session:
        assert sorted(session.exec(select(PostRow.external_id))) == sorted(ids)
    assert fake_x.requests_to(SEARCH_PATH) == []
    # Without a mentions source, the rule says so instead of searching for "user:…".
    with session_scope(engine) as session:
        other = rule_store.add_rule(session=session, network="x", kind="mentions", query=query(fake_x),
                                    channel_id="C1", every_seconds=60, lang=None, include_reposts=False,
                                    now=datetime.now(UTC)).id
    Poller(engine=engine, networks=x_network(search), own_handles=frozenset(),
           clock=lambda: datetime.now(UTC)).poll_rule(other)
    with session_scope(engine) as session:
        assert "SOCIALDESK_X_BEARER_TOKEN" in rule_store.get_rule(session=session, rule_id=other).last_error
    assert fake_x.requests_to(SEARCH_PATH) == []


@pytest.fixture
def run_cli(cli):
    """The command in-process (tests.support.cli): a process would add only its start-up."""
    return cli


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_rules_add_mentions_resolves_our_account_once(run_cli, db_url, fake_x):
    env = {"SOCIALDESK_DATABASE_URL": db_url, "SOCIALDESK_X_API_URL": fake_x.url,
           "SOCIALDESK_X_BEARER_TOKEN": TOKEN, "SOCIALDESK_OWN_HANDLES": "@AcmePhones, acme_help"}
    own = fake_x.own_user["id"]
    added = run_cli("rules", "add", "--network", "x", "--kind", "mentions", "--channel", "C0123ABCD", env=env)
    assert added.returncode == 0, added.stderr
    assert added.stdout.strip() == f"rule 1 added: x mentions of @AcmePhones (user:{own}) → C0123ABCD every 60 s"
    assert len(fake_x.requests_to("/2/users/by/username/AcmePhones")) == 1
    fake_x.add_user(username="acme_help")
    other = run_cli("rules", "add", "--network", "x", "--kind", "mentions", "--account", "@acme_help",
                    "--channel", "C0123ABCD", env=env)
    assert other.returncode == 0 and "mentions of @acme_help (user:" in other.stdout
    listed = run_cli("rules", "list", env=env).stdout
    assert f"user:{own}" in listed
    engine = make_engine(db_url)
    with session_scope(engine) as session:  # each lookup was one billed user read, no rule's
        assert [(s.rule_id, s.kind, s.reads) for s in spend_store.spent(session=session, start=date(2000, 1, 1),
                                                                          end=date(2100, 1, 1))] == [(0, "user", 2)]
    again = run_cli("rules", "add", "--network", "x", "--kind", "mentions", "--account", "@acme_help",
                    "--channel", "C0OTHER01", env=env)
    assert again.returncode == 0, again.stderr
    with session_scope(engine) as session:  # the same account the same day: X bills it once
        assert spend_store.seen_count(session=session, network="x") == {"user": 2}
    engine.dispose()
    unknown = run_cli("rules", "add", "--network", "x", "--kind", "mentions", "--account", "nobody_here",
                      "--channel", "C0123ABCD", env=env)
    assert unknown.returncode == 2 and "no account @nobody_here" in unknown.stderr
    no_account = run_cli("rules", "add", "--network", "x", "--kind", "mentions", "--channel", "C0123ABCD",
                         env={**env, "SOCIALDESK_OWN_HANDLES": ""})
    assert no_account.returncode == 2 and "--account HANDLE or set SOCIALDESK_OWN_HANDLES" in no_account.stderr
    no_query = run_cli("rules", "add", "--network", "x", "--channel", "C0123ABCD", env=env)
    assert no_query.returncode == 2 and "--query is required for a search rule" in no_query.stderr
    fake_x.fail_next("/2/users/by/username/", status=503)  # X down: the environment, so exit 1, try later
    down = run_cli("rules", "add", "--network", "x", "--kind", "mentions", "--account", "@acme_help",
                   "--channel", "C0123ABCD", env=env)
    assert down.returncode == 1 and "try again later" in down.stderr, down.stderr
