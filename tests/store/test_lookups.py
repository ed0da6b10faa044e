from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from socialdesk.domain import EventKind
from socialdesk.listeners import commands
from socialdesk.listeners.deps import Deps
from socialdesk.store import ingest, lifecycle, lookups
from socialdesk.store.db import session_scope
from tests.support.factories import x_post

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def open_cases(engine, *posts, now=NOW) -> list[int]:
    with session_scope(engine) as session:
        return ingest.store_posts(session=session, posts=list(posts), rule_id=None, channel_id="C1", now=now)


def test_queue_is_unclaimed_oldest_first_and_pages(engine):
    ids = [open_cases(engine, x_post(f"post {i}", handle=f"c{i}"), now=NOW + timedelta(minutes=i))[0] for i in range(12)]
    with session_scope(engine) as session:
        lifecycle.claim(session=session, case_id=ids[0], user_id="UALICE", now=NOW)
    with session_scope(engine) as session:
        first = lookups.queue(session=session, limit=10, offset=0)
        second = lookups.queue(session=session, limit=10, offset=10)
    assert [i.case_id for i in first.items] == ids[1:11]
    assert first.total == 11 and first.has_more and not first.has_previous
    assert [i.case_id for i in second.items] == ids[11:] and not second.has_more and second.has_previous
    assert first.items[0].handle == "c1" and first.items[0].text == "post 1"


def test_mine_lists_claimed_and_replied_newest_activity_first(engine):
    a, b, c, d = open_cases(engine, *(x_post(f"p{i}", handle=f"h{i}") for i in range(4)))
    with session_scope(engine) as session:
        lifecycle.claim(session=session, case_id=a, user_id="UALICE", now=NOW + timedelta(minutes=1))
        lifecycle.claim(session=session, case_id=b, user_id="UALICE", now=NOW + timedelta(minutes=2))
        lifecycle.claim(session=session, case_id=c, user_id="UBOB", now=NOW + timedelta(minutes=3))
        lifecycle.claim(session=session, case_id=d, user_id="UALICE", now=NOW + timedelta(minutes=4))
    with session_scope(engine) as session:
        lifecycle.replied(session=session, case_id=a, user_id="UALICE", now=NOW + timedelta(minutes=5),
                          kind=EventKind.MARKED_REPLIED, payload={})
        lifecycle.resolve(session=session, case_id=d, user_id="UALICE", now=NOW + timedelta(minutes=6))
    with session_scope(engine) as session:
        page = lookups.my_cases(session=session, user_id="UALICE", limit=10, offset=0)
    assert [i.case_id for i in page.items] == [a, b] and page.total == 2
    assert page.items[0].status.value == "replied"


def test_author_is_case_insensitive_with_optional_at(engine):
    first = open_cases(engine, x_post("one", handle="Dana_K"), now=NOW)
    second = open_cases(engine, x_post("two", handle="Dana_K"), now=NOW + timedelta(hours=1))
    open_cases(engine, x_post("other", handle="someone"))
    with session_scope(engine) as session:
        page = lookups.author_cases(session=session, handle="@dana_k", limit=10, offset=0)
        none = lookups.author_cases(session=session, handle="nobody", limit=10, offset=0)
    assert [i.case_id for i in page.items] == second + first
    assert page.handle == "Dana_K" and page.post_count == 2 and page.name == "Dana_K".title()
    assert none.items == [] and none.total == 0 and none.name is None


def test_stats_counts_like_the_digests_in_the_team_time_zone(engine):
    """`/social stats` is store.figures over whole local days (lookups.stats, its duplicate, is gone).

    Changed from the old counting, on purpose: "today" starts at local midnight, "7d" is today
    and the 6 local days before it; the first-response median is over the cases first answered
    in the period (not opened in it), nearest rank (the lower middle value, no averaging).
    """
    a, b, c = open_cases(engine, *(x_post(f"s{i}", handle=f"s{i}") for i in range(3)))
    old = open_cases(engine, x_post("old", handle="old"), now=NOW - timedelta(days=3))[0]
    # 23:30 UTC the day before is 00:30 in Berlin: today there, yesterday in UTC.
    open_cases(engine, x_post("night", handle="night"), now=datetime(2026, 11, 26, 23, 30, tzinfo=UTC))
    with session_scope(engine) as session:
        lifecycle.claim(session=session, case_id=a, user_id="UALICE", now=NOW + timedelta(minutes=1))
        lifecycle.replied(session=session, case_id=a, user_id="UALICE", now=NOW + timedelta(minutes=10),
                          kind=EventKind.REPLY_SENT, payload={})
        lifecycle.replied(session=session, case_id=b, user_id="UBOB", now=NOW + timedelta(minutes=30),
                          kind=EventKind.MARKED_REPLIED, payload={})
        lifecycle.ignore(session=session, case_id=c, user_id="UBOB", reason="spam", now=NOW + timedelta(minutes=2))
        lifecycle.resolve(session=session, case_id=a, user_id="UALICE", now=NOW + timedelta(minutes=11))
        lifecycle.replied(session=session, case_id=old, user_id="UBOB", now=NOW + timedelta(minutes=1),
                          kind=EventKind.REPLY_SENT, payload={})

    def stats(text: str, tz: str = "Europe/Berlin") -> str:
        deps = Deps(engine=engine, clock=lambda: NOW + timedelta(hours=1), tz=ZoneInfo(tz))
        return commands.answer(deps, None, user_id="UALICE", text=text).text

    # First responses answered today: 10 m, 30 m and 3 d 1 m (the old case): nearest-rank median 30 m.
    assert stats("stats") == ("today (Europe/Berlin): opened 4, claimed 1, replied 3, resolved 1, ignored 1, "
                              "SLA breaches 0, median first response 30m")
    assert stats("stats today", "UTC").startswith("today (UTC): opened 3, claimed 1,")
    assert stats("stats 7d").startswith("last 7 days (Europe/Berlin): opened 5, claimed 1, replied 3,")
    assert stats("stats 30d").endswith("median first response 30m")
    assert stats("stats yesterday").startswith("`yesterday` is not a period")


def test_stats_periods_are_whole_local_days():
    berlin = ZoneInfo("Europe/Berlin")
    now = datetime(2026, 3, 30, 10, 0, tzinfo=UTC)  # the day after the spring-forward night
    assert commands.period_bounds("today", now, berlin) == (datetime(2026, 3, 29, 22, 0, tzinfo=UTC), now)
    # Today and the 6 days before: back across the DST change, still from local midnight.
    assert commands.period_bounds("7d", now, berlin)[0] == datetime(2026, 3, 23, 23, 0, tzinfo=UTC)
    assert commands.period_bounds("30d", now, ZoneInfo("UTC"))[0] == datetime(2026, 3, 1, tzinfo=UTC)
