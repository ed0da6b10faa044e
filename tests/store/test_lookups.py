import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from socialdesk import sla
from socialdesk.domain import EventKind
from socialdesk.listeners import commands
from socialdesk.listeners.deps import Deps
from socialdesk.queue_filter import QueueFilter, parse
from socialdesk.store import ingest, lifecycle, lookups
from socialdesk.store import rules as rule_store
from socialdesk.store import sla as sla_store
from socialdesk.store.db import session_scope
from socialdesk.store.models import CaseRow
from sqlmodel import select
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


def test_a_case_its_customer_reopened_stays_its_owners_not_the_queues(engine):
    mine, theirs = open_cases(engine, x_post("p1", handle="h1"), x_post("p2", handle="h2"))
    with session_scope(engine) as session:
        for case_id in (mine, theirs):
            lifecycle.claim(session=session, case_id=case_id, user_id="UALICE", now=NOW)
            lifecycle.resolve(session=session, case_id=case_id, user_id="UALICE", now=NOW)
        lifecycle.reopen(session=session, case_id=theirs, user_id="UBOB", now=NOW)  # Reopen: back to anyone
    set_case(engine, mine, status="reopened")  # the customer wrote again (store.conversations): the owner is kept
    with session_scope(engine) as session:
        assert [i.case_id for i in lookups.queue(session=session, limit=10, offset=0).items] == [theirs]
        assert [i.case_id for i in lookups.my_cases(session=session, user_id="UALICE", limit=10,
                                                     offset=0).items] == [mine]


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


POLICY = sla.Policy(targets={"high": timedelta(minutes=30), "normal": timedelta(hours=2), "low": timedelta(hours=8)})


def set_case(engine, case_id: int, **values) -> None:
    with session_scope(engine) as session:
        row = session.get(CaseRow, case_id)
        for key, value in values.items():
            setattr(row, key, value)


def queued(engine, **kwargs) -> list[int]:
    with session_scope(engine) as session:
        return [i.case_id for i in lookups.queue(session=session, limit=50, offset=0, **kwargs).items]


def test_the_queue_is_worked_by_sla_due_then_priority_then_age(engine):
    def case(text: str, priority: str, minutes_ago: int) -> int:
        [case_id] = open_cases(engine, x_post(text, handle=text), now=NOW - timedelta(minutes=minutes_ago))
        set_case(engine, case_id, priority=priority)
        return case_id

    late_low = case("low", "low", 10 * 60)          # due 2 h ago
    old_normal = case("normal", "normal", 100)      # due in 20 min
    high = case("high", "high", 5)                  # due in 25 min
    newer_high = case("newhigh", "high", 1)         # due in 29 min
    # Answered, resolved, then reopened 2 min ago: its clock runs again from the reopening (due in 28 min).
    reopened = case("reopened", "high", 300)
    set_case(engine, reopened, status="reopened", first_response_at=NOW - timedelta(minutes=290),
             sla_started_at=NOW - timedelta(minutes=2))
    claimed = case("claimed", "high", 200)
    set_case(engine, claimed, status="claimed", assignee="UALICE")

    assert queued(engine, policy=POLICY) == [late_low, old_normal, high, reopened, newer_high]
    with session_scope(engine) as session:
        page = lookups.queue(session=session, limit=2, offset=1, policy=POLICY)
    assert [i.case_id for i in page.items] == [old_normal, high] and page.total == 5
    assert page.items[0].due == NOW + timedelta(minutes=20) and page.items[0].text == "normal"
    # Without due times (no policy), priority and then age decide.
    assert queued(engine) == [reopened, high, newer_high, old_normal, late_low]


def test_cases_without_a_target_follow_by_priority_then_age_and_a_rule_s_own_target_counts(engine):
    with session_scope(engine) as session:
        rule = rule_store.add_rule(session=session, network="x", query="acme", channel_id="C1", every_seconds=60,
                                   lang=None, include_reposts=False, now=NOW)
        rule.sla_targets = "normal=10m"
        rule_id = rule.id
    only_high = sla.Policy(targets={"high": timedelta(hours=1)})
    [old_low] = open_cases(engine, x_post("a", handle="a"), now=NOW - timedelta(hours=3))
    [old_normal] = open_cases(engine, x_post("b", handle="b"), now=NOW - timedelta(hours=2))
    [new_normal] = open_cases(engine, x_post("c", handle="c"), now=NOW - timedelta(hours=1))
    [high] = open_cases(engine, x_post("d", handle="d"), now=NOW - timedelta(minutes=10))
    [ruled] = open_cases(engine, x_post("e", handle="e"), now=NOW - timedelta(minutes=5))
    set_case(engine, old_low, priority="low")
    set_case(engine, high, priority="high")
    set_case(engine, ruled, rule_id=rule_id)  # normal, due in 5 min by its rule's target
    assert queued(engine, policy=only_high) == [ruled, high, old_normal, new_normal, old_low]


def test_queue_filters_narrow_it_and_values_of_one_key_are_alternatives(engine):
    with session_scope(engine) as session:
        rule_id = rule_store.add_rule(session=session, network="x", query="acme", channel_id="C1", every_seconds=60,
                                      lang=None, include_reposts=False, now=NOW).id
    a, b, c, d = (open_cases(engine, x_post(f"p{i}", handle=f"h{i}"), now=NOW + timedelta(minutes=i))[0]
                  for i in range(4))
    set_case(engine, a, tags=["refund", "billing"], intent="question", priority="high", rule_id=rule_id)
    set_case(engine, b, tags=["billing"], intent="complaint", network="other")
    set_case(engine, c, tags=None, intent=None)
    set_case(engine, d, tags=[], intent="question", priority="low")

    def only(text: str) -> list[int]:
        return queued(engine, filters=parse(text, tags=["refund", "billing", "screen"]))

    assert only("") == [a, b, c, d]
    assert only("tag:refund") == [a]
    assert only("tag:billing") == [a, b]
    assert only("tag:screen,refund") == [a]
    assert only("tag:screen") == []
    assert only("intent:question") == [a, d]
    assert only("intent:question priority:low") == [d]
    assert only("priority:high,low") == [a, d]
    assert only(f"rule:{rule_id}") == [a]
    assert queued(engine, filters=QueueFilter(networks=frozenset({"other"}))) == [b]
    assert only("tag:billing intent:complaint") == [b]
    with session_scope(engine) as session:
        page = lookups.queue(session=session, limit=10, offset=0, filters=parse("tag:billing", tags=["billing"]))
    assert page.total == 2


def test_the_queue_s_pages_are_the_whole_backlog_sorted_with_business_hours_and_rule_targets(engine):
    """The store reads each run's head, not the backlog: its pages must be the backlog sorted as a whole."""
    rng = random.Random(15)
    rule_ids = []
    with session_scope(engine) as session:
        for spec in ("high=10m,normal=45m", "low=20m", None):
            rule = rule_store.add_rule(session=session, network="x", query="acme", channel_id="C1", every_seconds=60,
                                       lang=None, include_reposts=False, now=NOW)
            rule.sla_targets = spec
            rule_ids.append(rule.id)
    hours = sla.BusinessHours.parse("Mon-Fri 09:00-17:00 Europe/Berlin")
    policy = sla.Policy(targets={"high": timedelta(minutes=30), "normal": timedelta(hours=2)}, business_hours=hours)
    for n in range(45):
        opened = NOW - timedelta(minutes=rng.randrange(0, 4 * 24 * 60))
        [case_id] = open_cases(engine, x_post(f"p{n}", handle=f"h{n}"), now=opened)
        status = rng.choice(["new", "new", "reopened", "claimed"])
        answered = opened + timedelta(minutes=5) if rng.random() < 0.15 else None
        # A reopen re-arms the clock from then (sla_started_at); what answered the first clock stays first_response_at.
        rearmed = opened + timedelta(minutes=rng.randrange(10, 600)) if status == "reopened" and rng.random() < 0.5 \
            else None
        set_case(engine, case_id, priority=rng.choice(["high", "normal", "low"]),
                 rule_id=rng.choice([*rule_ids, None]), first_response_at=answered,
                 responded_at=None if rearmed else answered, sla_started_at=rearmed, status=status)
    with session_scope(engine) as session:
        rows = session.exec(select(CaseRow).where(CaseRow.status.in_(["new", "reopened"]))).all()
        targets = sla_store.with_rule_targets(session=session, policy=policy)
        rank = {"high": 0, "normal": 1, "low": 2}

        def due(row):
            return None if sla.answered_at(row) else sla.case_deadline(row, targets)

        expected = [r.id for r in sorted(rows, key=lambda r: (due(r) is None, due(r) or lookups.NO_DUE,
                                                              rank[r.priority], r.opened_at, r.id))]
        pages = [lookups.queue(session=session, limit=7, offset=o, policy=policy) for o in range(0, len(rows), 7)]
    assert [i.case_id for p in pages for i in p.items] == expected and {p.total for p in pages} == {len(rows)}
    assert len({due(r) for r in rows}) > 10  # the runs interleave: many distinct due times
