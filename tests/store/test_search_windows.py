"""`/social search` in time windows: a page found among recent documents is the page a
search of everything gives; older pages, rare words and `since:` fall back to everything."""

from __future__ import annotations

from datetime import timedelta

from socialdesk.store import lifecycle
from socialdesk.store.db import session_scope
from tests.store.test_search import NOW, find, ids, open_case


def seeded(engine) -> tuple[list[int], int, list[int]]:
    """Widgets: 12 recent cases, 4 from 100+ days ago (one with a note today), one recent case stored last."""
    recent = [open_case(engine, f"widget broke {i}", when=NOW - timedelta(hours=i)) for i in range(12)]
    old = [open_case(engine, f"widget ancient {i}", when=NOW - timedelta(days=100 + i)) for i in range(4)]
    with session_scope(engine) as session:  # an old case brought up by a note 30 minutes ago
        assert lifecycle.add_note(session=session, case_id=old[0], user_id="U1", text="widget swap agreed",
                                  now=NOW - timedelta(minutes=30)).ok
    late = open_case(engine, "widget late arrival", when=NOW - timedelta(days=2))  # highest id, not the newest
    return recent, late, old


def test_a_full_page_from_the_last_days_is_the_page_of_everything(engine):
    recent, late, old = seeded(engine)
    everything = [recent[0], old[0], *recent[1:], late, *old[1:]]  # newest matching document first

    first = find(engine, "widget", limit=5)
    assert ids(first) == everything[:5]
    assert first.total is None and first.has_more  # "more than this page": not counted
    assert first.hits[1].kind == "note" and first.hits[1].snippet == "widget swap agreed"
    second = find(engine, "widget", limit=5, offset=5)
    assert ids(second) == everything[5:10] and second.has_more

    # Past what the window holds: everything is searched, exactly, with a total.
    third = find(engine, "widget", limit=5, offset=10)
    assert ids(third) == everything[10:15] and third.total == 17 and third.has_more
    last = find(engine, "widget", limit=5, offset=15)
    assert ids(last) == everything[15:] and last.total == 17 and not last.has_more


def test_words_only_in_old_documents_and_filters_still_find_everything(engine):
    recent, late, old = seeded(engine)
    ancient = find(engine, "ancient")
    assert ids(ancient) == old and ancient.total == 4
    assert ids(find(engine, "widget since:3d", limit=20)) == [recent[0], old[0], *recent[1:], late]
    assert ids(find(engine, "widget status:new", limit=3)) == [recent[0], old[0], recent[1]]
    assert ids(find(engine, "widget from:@customer", limit=100)) == [recent[0], old[0], *recent[1:], late, *old[1:]]
