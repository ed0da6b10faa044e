"""A million posts with their cases and case histories, for bench/figures.py.

Cases are opened over `DAYS` days before `NOW`; most get one post, some a few
follow-ups. Each case lives a history as agents work it (opened; claimed; a reply
sent or marked; resolved; now and then reopened and resolved again; some ignored,
some left alone; an SLA breach when the first answer comes late), cut at `NOW`:
an event after it has not happened yet, and the case's row says where it stands.
Rows go in with Core `executemany` through the models' tables, a batch at a time,
with the indexes and search triggers of the migrations in place.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, insert, text

from socialdesk.store.models import AuthorRow, CaseEventRow, CaseRow, PostRow, RuleRow

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)  # a Friday
DAYS = 60
RULES = 12
AGENTS = [f"UAGENT{i:02d}" for i in range(25)]
AUTHORS = 50_000
SLA = timedelta(hours=1)
BATCH = 20_000  # cases a transaction
WORDS = ("phone battery screen charger update support broken refund acme help my the is it and on for "
         "since after with this again still not working why does every time just got new please fix").split()


def minutes(rng: random.Random, median: float) -> timedelta:
    """A lognormal wait: most near the median, a long tail."""
    return timedelta(minutes=median * math.exp(rng.gauss(0, 1.0)))


@dataclass
class Case:
    id: int
    opened_at: datetime
    events: list[tuple[str, str, datetime]] = field(default_factory=list)  # (kind, actor, at)
    status: str = "new"
    assignee: str | None = None
    claimed_at: datetime | None = None
    first_response_at: datetime | None = None
    resolved_at: datetime | None = None
    sla_breached_at: datetime | None = None

    def happen(self, kind: str, actor: str, at: datetime) -> bool:
        """Record the event if it happened by NOW; False once the history reaches the present."""
        if at >= NOW:
            return False
        self.events.append((kind, actor, at))
        if kind == "claimed":
            self.status, self.assignee, self.claimed_at = "claimed", actor, at
        elif kind in ("reply_sent", "marked_replied"):
            self.status = "replied"
            self.first_response_at = self.first_response_at or at
        elif kind == "resolved":
            self.status, self.resolved_at = "resolved", at
        elif kind == "reopened":
            self.status, self.assignee, self.resolved_at = "reopened", None, None
        elif kind == "ignored":
            self.status = "ignored"
        elif kind == "sla_breached":
            self.sla_breached_at = at
        return True


def live(case: Case, rng: random.Random) -> None:
    """One case's history, from its opening to NOW."""
    at = case.opened_at
    case.happen("opened", "system", at)
    fate = rng.random()
    if fate < 0.08:  # noise, ignored by whoever saw it first
        case.happen("ignored", rng.choice(AGENTS), at + minutes(rng, 8))
        return
    if fate < 0.14:  # nobody picked it up
        case.happen("sla_breached", "system", at + SLA)
        return
    agent = rng.choice(AGENTS)
    claimed = at + minutes(rng, 10)
    if not case.happen("claimed", agent, claimed):
        return
    if rng.random() < 0.06:  # claimed, then left
        return
    answered = claimed + minutes(rng, 18)
    if answered - at > SLA:
        case.happen("sla_breached", "system", at + SLA)
    if not case.happen("reply_sent" if rng.random() < 0.8 else "marked_replied", agent, answered):
        return
    if rng.random() < 0.1:
        case.happen("note", agent, answered + minutes(rng, 5))
    if rng.random() < 0.15:  # still open
        return
    resolved = answered + minutes(rng, 180)
    if not case.happen("resolved", agent, resolved) or rng.random() >= 0.04:
        return
    reopened = resolved + minutes(rng, 600)  # the customer wrote again
    if not case.happen("reopened", "system", reopened):
        return
    other = rng.choice(AGENTS)
    again = reopened + minutes(rng, 20)
    if case.happen("claimed", other, again) and rng.random() < 0.7:
        case.happen("resolved", other, again + minutes(rng, 60))


def author_of(rng: random.Random) -> int:
    """A few loud customers, a long tail of quiet ones (Zipf-like)."""
    return min(AUTHORS, int(rng.paretovariate(1.1)))


def histories(n_posts: int, rng: random.Random, days: int = DAYS) -> Iterator[tuple[Case, list[datetime], int]]:
    """(case, the times of its posts, its author) until n_posts posts are made, oldest case first."""
    made = case_id = 0
    span = days * 86_400
    while made < n_posts:
        case_id += 1
        # Evenly over the days by post count, a little jitter (cases are not opened in id order).
        opened = NOW - timedelta(seconds=span * (1 - made / n_posts) + rng.random() * 120)
        case = Case(case_id, opened)
        live(case, rng)
        posts = [opened]
        if rng.random() < 0.2:  # follow-ups in the conversation
            for _ in range(rng.randint(1, 3)):
                later = posts[-1] + minutes(rng, 40)
                if later < NOW and made + len(posts) < n_posts:
                    posts.append(later)
        made += len(posts)
        yield case, posts, author_of(rng)


def seed(engine: Engine, n_posts: int, rng: random.Random, days: int = DAYS) -> dict[str, int]:
    counts = {"posts": 0, "cases": 0, "events": 0, "authors": AUTHORS, "rules": RULES}
    with engine.begin() as conn:
        conn.execute(insert(RuleRow.__table__), [
            {"id": r, "network": "x", "query": f"acme topic{r}", "channel_id": f"C{r % 4}", "every_seconds": 60,
             "include_reposts": False, "paused": True, "created_at": NOW - timedelta(days=90), "kind": "search",
             "consecutive_failures": 0} for r in range(1, RULES + 1)])
        conn.execute(insert(AuthorRow.__table__), [
            {"id": a, "network": "x", "external_id": f"u{a}", "handle": f"user{a}", "name": f"User {a}",
             "followers": a % 5000, "verified": False, "updated_at": NOW} for a in range(1, AUTHORS + 1)])
    cases: list[dict] = []
    posts: list[dict] = []
    events: list[dict] = []

    def flush() -> None:
        with engine.begin() as conn:
            conn.execute(insert(CaseRow.__table__), cases)
            conn.execute(insert(PostRow.__table__), posts)
            conn.execute(insert(CaseEventRow.__table__), events)
        cases.clear(), posts.clear(), events.clear()

    for case, times, author in histories(n_posts, rng, days):
        rule = rng.randint(1, RULES) if rng.random() < 0.95 else None  # the rest came in as mentions
        sentiment = None if rng.random() < 0.05 else round(max(-1.0, min(1.0, rng.gauss(-0.1, 0.45))), 4)
        first_post = counts["posts"] + 1
        cases.append({
            "id": case.id, "rule_id": rule, "first_post_id": first_post, "network": "x",
            "conversation_id": f"conv{case.id}", "status": case.status, "assignee": case.assignee,
            "priority": "high" if rng.random() < 0.15 else "normal", "channel_id": f"C{(rule or 0) % 4}",
            "message_ts": f"{1_700_000_000 + case.id}.000100", "publish_failures": 0,
            "opened_at": case.opened_at, "claimed_at": case.claimed_at,
            "updated_at": case.events[-1][2], "version": len(case.events), "customer_author_id": author,
            "sentiment": sentiment, "first_response_at": case.first_response_at,
            "resolved_at": case.resolved_at, "sla_breached_at": case.sla_breached_at,
        })
        for n, created in enumerate(times):
            counts["posts"] += 1
            pid = counts["posts"]
            posts.append({
                "id": pid, "network": "x", "external_id": str(pid), "url": f"https://x.com/user{author}/status/{pid}",
                "author_id": author, "text": " ".join(rng.choices(WORDS, k=8)), "created_at": created,
                "fetched_at": created, "conversation_id": f"conv{case.id}", "is_repost": False, "is_reply": n > 0,
                "rule_id": rule, "case_id": case.id, "sentiment": sentiment,
            })
        for kind, actor, at in case.events:
            counts["events"] += 1
            events.append({"id": counts["events"], "case_id": case.id, "kind": kind, "actor": actor, "at": at})
        counts["cases"] += 1
        if len(cases) >= BATCH:
            flush()
    if cases:
        flush()
    finish(engine)
    return counts


def finish(engine: Engine) -> None:
    """Sequences past the ids given, and planner statistics, as a live database has them."""
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            for table in ("rules", "authors", "cases", "posts", "case_events"):
                conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"))
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    else:
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))
