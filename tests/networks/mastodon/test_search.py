"""MastodonSearch against a running FakeMastodon: hashtag timelines read forward, full-text search walks."""

from __future__ import annotations

from datetime import timedelta

import pytest

from socialdesk.matcher import parse, target_of
from socialdesk.networks.base import RateLimited, SourceRejected
from socialdesk.networks.mastodon.search import (
    INDEXING_WARNING,
    MastodonSearch,
    branches,
    cursor_since,
)

TAG = "/api/v1/timelines/tag/:hashtag"
SEARCH = "/api/v2/search"


@pytest.fixture
def search(api, threads, clock) -> MastodonSearch:
    return MastodonSearch(api, threads, limit=3, clock=clock)


@pytest.fixture
def ann(fake):
    return fake.world.add_account("ann", "Ann", followers=12)


@pytest.fixture
def bob(fake):
    return fake.world.add_account("bob", "Bob", domain="social.example")


def post(fake, clock, account, text: str, **kwargs) -> str:
    clock.advance(seconds=1)
    return fake.world.add_status(account, text, **kwargs)["id"]


def walk(search: MastodonSearch, query: str, cursor: dict | None, max_pages: int = 20) -> tuple[list[str], dict, int]:
    """Fetch pages until the source is caught up: (ids in order, cursor, pages)."""
    ids: list[str] = []
    for pages in range(1, max_pages + 1):
        page = search.fetch(query, cursor)
        ids += [p.external_id for p in page.posts]
        cursor = page.cursor
        if page.done:
            return ids, cursor, pages
    raise AssertionError("the walk never finished")


def test_a_new_hashtag_rule_takes_the_newest_page_only(fake, clock, ann, bob, search) -> None:
    ids = [post(fake, clock, ann if i % 2 else bob, f"#AcmePhones number {i}") for i in range(5)]
    page = search.fetch("#acmephones", None)
    assert [p.external_id for p in page.posts] == ids[2:]  # oldest first
    assert page.done and page.warnings == [] and page.cursor == {"tags": {"acmephones": {"min_id": ids[-1]}}}
    handles = {p.author.handle for p in page.posts}
    assert handles == {"ann@mastodon.example", "bob@social.example"}
    assert all(p.network == "mastodon" and "#AcmePhones" in p.text for p in page.posts)
    [request] = fake.requests(TAG)
    assert request.path == "/api/v1/timelines/tag/acmephones" and request.query["limit"] == ["3"]


def test_later_walks_read_every_new_post_once_forward(fake, clock, ann, search) -> None:
    post(fake, clock, ann, "#acme one")
    first = search.fetch("#acme", None)
    new = [post(fake, clock, ann, f"#acme number {i}") for i in range(7)]
    post(fake, clock, ann, "no tag here")
    ids, cursor, pages = walk(search, "#acme", first.cursor)
    assert ids == new and pages == 3
    assert all("min_id" in r.query for r in fake.requests(TAG)[1:])
    again, _, _ = walk(search, "#acme", cursor)
    assert again == []


def test_an_or_of_hashtags_walks_each_tag_with_its_own_cursor(fake, clock, ann, search) -> None:
    post(fake, clock, ann, "#acme older")
    post(fake, clock, ann, "#acmefail older")
    first = search.fetch("#acme OR #acmefail", None)
    assert len(first.posts) == 2 and set(first.cursor["tags"]) == {"acme", "acmefail"}
    both = post(fake, clock, ann, "#acme #acmefail broken")
    only = post(fake, clock, ann, "#acmefail again")
    ids, cursor, _ = walk(search, "#acme OR #acmefail", first.cursor)
    assert sorted(ids) == sorted([both, only]) and len(ids) == 2  # the post with both tags comes once
    assert cursor["tags"]["acmefail"]["min_id"] == only and cursor["tags"]["acme"]["min_id"] == both
    assert SEARCH not in {r.route for r in fake.requests()}


def test_a_tag_nobody_used_yet_is_empty_then_found(fake, clock, ann, search) -> None:
    page = search.fetch("#brandnew", None)
    assert page.posts == [] and page.done
    clock.advance(seconds=2)
    later = post(fake, clock, ann, "#brandnew launch day")
    ids, _, _ = walk(search, "#brandnew", page.cursor)
    assert ids == [later]


def test_a_hashtag_with_words_reads_the_timeline_and_the_local_match_decides(fake, clock, ann, search) -> None:
    first = search.fetch("#acme refund -spam", None)
    wanted = post(fake, clock, ann, "#acme I want a refund")
    post(fake, clock, ann, "#acme love it")
    post(fake, clock, ann, "#acme refund spam")
    page = search.fetch("#acme refund -spam", first.cursor)
    assert len(page.posts) == 3 and SEARCH not in {r.route for r in fake.requests()}
    rule = parse("#acme refund -spam")
    assert [p.external_id for p in page.posts if rule.matches(target_of(p))] == [wanted]


def test_keywords_use_full_text_search_and_say_what_it_cannot_find(fake, clock, ann, search) -> None:
    hidden = fake.world.add_account("cy", "Cy", indexable=False)
    found = post(fake, clock, ann, "my acme phone is broken")
    post(fake, clock, hidden, "my acme phone is broken too")
    page = search.fetch("acme broken", None)
    assert [p.external_id for p in page.posts] == [found]
    assert page.warnings == [INDEXING_WARNING] and "opted in" in page.warnings[0]
    [request] = fake.requests(SEARCH)
    assert request.query["type"] == ["statuses"] and request.query["q"] == ["acme broken"]
    assert search.fetch("acme broken", page.cursor).warnings == []


def test_a_search_walk_reads_everything_once_even_as_posts_arrive(fake, clock, ann, search) -> None:
    first = search.fetch("acme", None)
    new = [post(fake, clock, ann, f"acme trouble {i}") for i in range(7)]
    page = search.fetch("acme", first.cursor)
    assert not page.done and len(page.posts) == 3
    during = post(fake, clock, ann, "acme trouble while walking")  # after the walk's ceiling
    ids = [p.external_id for p in page.posts]
    rest, cursor, _ = walk(search, "acme", page.cursor)
    assert sorted(ids + rest) == sorted(new) and len(ids + rest) == len(new)
    later, _, _ = walk(search, "acme", cursor)
    assert later == [during]
    assert all(r.query.get("min_id") for r in fake.requests(SEARCH)[1:])


def test_mixed_alternatives_use_both_and_share_one_page(fake, clock, ann, search) -> None:
    first = search.fetch("#acme OR refund", None)
    assert first.warnings == [INDEXING_WARNING]
    tagged = post(fake, clock, ann, "#acme hello")
    worded = post(fake, clock, ann, "refund please")
    ids, cursor, _ = walk(search, "#acme OR refund", first.cursor)
    assert sorted(ids) == sorted([tagged, worded])
    assert set(cursor) == {"tags", "searches"}


def test_a_stream_gap_is_read_from_its_time_in_every_branch(fake, clock, ann, search) -> None:
    post(fake, clock, ann, "#acme before the gap")
    post(fake, clock, ann, "acme words before the gap")
    clock.advance(seconds=5)
    gap_start = clock()
    after = [post(fake, clock, ann, "#acme in the gap"), post(fake, clock, ann, "acme words in the gap")]
    ids, _, _ = walk(search, "#acme OR words", cursor_since(gap_start - timedelta(seconds=1)))
    assert sorted(ids) == sorted(after)


def test_replies_join_their_threads_root(fake, clock, ann, bob, search, threads) -> None:
    root = post(fake, clock, ann, "#acme my phone died")
    middle = post(fake, clock, fake.world.brand, "@ann sorry! which model?", reply_to=root)
    reply = post(fake, clock, ann, "#acme the X3", reply_to=middle)
    page = search.fetch("#acme", {"tags": {"acme": {"min_id": "1"}}})
    conversations = {p.external_id: p.conversation_id for p in page.posts}
    assert conversations == {root: root, reply: root}
    assert next(p for p in page.posts if p.external_id == reply).in_reply_to_account == "acmecare@mastodon.example"
    assert len(fake.requests("/api/v1/statuses/:id/context")) == 1
    post(fake, clock, ann, "#acme still dead", reply_to=reply)
    page = search.fetch("#acme", page.cursor)
    assert [p.conversation_id for p in page.posts] == [root]
    assert len(fake.requests("/api/v1/statuses/:id/context")) == 1  # the parent's root was known


def test_a_thread_that_cannot_be_read_falls_back_to_the_parent(fake, clock, ann, search) -> None:
    root = post(fake, clock, ann, "one")
    reply = post(fake, clock, ann, "two", reply_to=root)
    deeper = post(fake, clock, ann, "#acme three", reply_to=reply)
    fake.fail("/api/v1/statuses/:id/context", 503)
    page = search.fetch("#acme", {"tags": {"acme": {"min_id": "1"}}})
    assert [(p.external_id, p.conversation_id) for p in page.posts] == [(deeper, reply)]
    assert search.fetch("#acme", {"tags": {"acme": {"min_id": "1"}}}).posts[0].conversation_id == root


def test_replies_wait_for_the_budget_rather_than_lose_their_thread(fake, clock, ann, api, search) -> None:
    api.instance(), api.me()
    root = post(fake, clock, ann, "one")
    reply = post(fake, clock, ann, "#acme two", reply_to=post(fake, clock, ann, "between", reply_to=root))
    reset = clock() + timedelta(minutes=4)
    fake.limit("*", 1, reset_at=reset)
    with pytest.raises(RateLimited) as limited:
        search.fetch("#acme", {"tags": {"acme": {"min_id": "1"}}})
    assert abs(limited.value.reset_at - reset) < timedelta(seconds=1)
    clock.advance(minutes=5)
    [again] = search.fetch("#acme", {"tags": {"acme": {"min_id": "1"}}}).posts
    assert (again.external_id, again.conversation_id) == (reply, root)


def test_a_spent_budget_sets_not_before(fake, clock, ann, search) -> None:
    post(fake, clock, ann, "#acme hi")
    reset = clock() + timedelta(minutes=4)
    fake.limit("*", 3, reset_at=reset)
    page = search.fetch("#acme", None)
    assert page.not_before is not None and abs(page.not_before - reset) < timedelta(seconds=1)


def test_queries_are_spread_into_tags_and_searches() -> None:
    assert branches("#Acme") == (["acme"], [])
    assert branches("#acme OR #acmefail OR #acme") == (["acme", "acmefail"], [])
    assert branches('acme (refund OR "money back") -spam lang:en') == (
        [], ["acme refund language:en", 'acme "money back" language:en'])
    assert branches("from:ann@social.example @acmecare@mastodon.example") == (
        [], ["from:ann@social.example acmecare"])
    assert branches("#2024 phone") == ([], ["#2024 phone"])  # digits only are no Mastodon hashtag
    with pytest.raises(SourceRejected, match="split it"):
        branches("(a OR b OR c) (d OR e OR f)")
    with pytest.raises(SourceRejected, match="cannot be read"):
        branches('"unclosed')


BROKEN_HTML = '<p><a href="https://social.example/tags/acmephones" class="hashtag">#acmephones</a> is <![ broken</p>'


def test_a_status_that_cannot_be_read_is_skipped_and_the_rest_of_the_page_is_kept(fake, clock, ann, bob, api,
                                                                                   threads) -> None:
    """QA's markup (BeautifulSoup raised ParserRejectedMarkup, which no skip caught: the rule's poll failed
    forever) is read as text now; a status of the wrong shape is skipped, the page around it kept."""
    before = post(fake, clock, ann, "#acmephones before")
    broken = post(fake, clock, bob, "#acmephones is broken", html=BROKEN_HTML)
    wrong = post(fake, clock, bob, "#acmephones of the wrong shape")
    fake.world.statuses[wrong]["in_reply_to_id"] = ["1"]  # an id is a string (or a number)
    after = post(fake, clock, ann, "#acmephones after")
    page = MastodonSearch(api, threads, clock=clock).fetch("#acmephones", cursor_since(clock.now - timedelta(minutes=5)))
    texts = {p.external_id: p.text for p in page.posts}
    assert list(texts) == [before, broken, after]
    assert texts[broken] == "#acmephones is <![ broken"
    assert page.cursor == {"tags": {"acmephones": {"min_id": after}}}  # past both
