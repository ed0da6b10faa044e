"""Exports: records built from real cases on both databases, the three formats, redaction, streaming."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import re
import tracemalloc
from datetime import UTC, datetime, timedelta

import pytest
from markdown_it import MarkdownIt
from slack_sdk import WebClient
from sqlalchemy import event, insert, update

from socialdesk import export
from socialdesk.domain import EventKind, Post
from socialdesk.export import ExportFilter, iter_records
from socialdesk.slack.names import SlackNames
from socialdesk.store import ingest, lifecycle
from socialdesk.store import rules as rule_store
from socialdesk.store.db import make_engine, session_scope, upgrade
from socialdesk.store.models import AuthorRow, CaseRow, CuratedEntryRow, PostRow, ReplyRow
from tests.support.db import engine  # noqa: F401  (fixture)
from tests.support.factories import x_post

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
HOSTILE = "# hi\n[x](javascript:alert(1))\n<script>alert(1)</script>\n- not a list\n> not a quote\n![img](http://e/x.png)"
QUESTION = 'My phone, "the new one", won\'t charge\nhelp! 📱 call +44 20 7946 0958'


def reply_to(parent: Post, text: str, *, handle: str, minutes: int) -> Post:
    post = x_post(text, handle=handle, when=parent.created_at + timedelta(minutes=minutes))
    return dataclasses.replace(post, conversation_id=parent.conversation_id, in_reply_to_id=parent.external_id,
                               is_reply=True)


def seed_cases(engine) -> dict[str, int]:
    """Three cases told through the store's own functions: a worked one, a hostile one, a removed one.

    worked: dana_k asks (two posts; bob_x chimes in with a case of his own), alice claims, notes,
    one reply fails and one is sent, tags, resolves; a curated FAQ entry edits it.
    """
    first = x_post(QUESTION, handle="dana_k", when=NOW)
    follow = reply_to(first, "still nothing, mail me at dana+acme@mail.eu.example.co.uk", handle="dana_k", minutes=5)
    other = reply_to(first, "same here @dana_k", handle="bob_x", minutes=6)
    with session_scope(engine) as session:
        rule = rule_store.add_rule(session=session, network="x", query="acme phone -is:retweet", channel_id="C1",
                                   every_seconds=60, lang=None, include_reposts=False, now=NOW)
        stored = ingest.store_page(session=session, posts=[first], rule_id=rule.id, channel_id="C1", now=NOW)
    worked = stored.new_case_ids[0]
    with session_scope(engine) as session:
        ingest.store_page(session=session, posts=[follow, other], rule_id=rule.id, channel_id="C1",
                          now=NOW + timedelta(minutes=6), own_handles={"acmephones"})
    with session_scope(engine) as session:
        lifecycle.claim(session=session, case_id=worked, user_id="UALICE", now=NOW + timedelta(minutes=7))
        lifecycle.add_note(session=session, case_id=worked, user_id="UALICE", now=NOW + timedelta(minutes=8),
                           text="plan B customer; called 555-123-4567")
        session.add(ReplyRow(case_id=worked, key="r1", agent="UALICE", text="this one failed", status="failed",
                             created_at=NOW + timedelta(minutes=9)))
        session.add(ReplyRow(case_id=worked, key="r2", agent="UALICE", status="sent", external_id="1900000000000000001",
                             text='Sorry @dana_k! Hold "power", then DM @acmephones, ok?',
                             url="https://x.com/acmephones/status/1900000000000000001",
                             created_at=NOW + timedelta(minutes=10), sent_at=NOW + timedelta(minutes=10)))
        lifecycle.replied(session=session, case_id=worked, user_id="UALICE", now=NOW + timedelta(minutes=10),
                          kind=EventKind.REPLY_SENT, payload={})
        lifecycle.set_tags(session=session, case_id=worked, user_id="UALICE", tags=["charging", "hardware"],
                           priority="normal", now=NOW + timedelta(minutes=11))
        lifecycle.resolve(session=session, case_id=worked, user_id="UALICE", now=NOW + timedelta(minutes=12),
                          outcome="answered")
    with session_scope(engine) as session:
        hostile = ingest.store_posts(session=session, posts=[x_post(HOSTILE, handle="mallory", when=NOW + timedelta(hours=1))],
                                     rule_id=None, channel_id="C1", now=NOW + timedelta(hours=1))[0]
        removed = ingest.store_posts(session=session, posts=[x_post("secret deleted text", handle="gone",
                                                                    when=NOW + timedelta(days=2))],
                                     rule_id=None, channel_id="C1", now=NOW + timedelta(days=2))[0]
        session.execute(update(PostRow).where(PostRow.case_id == removed)
                        .values(removed_at=NOW + timedelta(days=3), removed_reason="deleted"))
        for case_id, status, question in ((worked, "active", "How do I fix a phone that won't charge?"),
                                          (hostile, "withdrawn", "withdrawn entry")):
            session.add(CuratedEntryRow(case_id=case_id, question=question, answer="Hold power for 10 s.",
                                        notes="verified by support", tags=["faq"], status=status,
                                        created_by="UALICE", created_at=NOW, updated_by="UALICE", updated_at=NOW))
    other_case = next(c for c in all_case_ids(engine) if c not in (worked, hostile, removed))
    return {"worked": worked, "hostile": hostile, "removed": removed, "other": other_case, "rule": rule.id}


def all_case_ids(engine) -> list[int]:
    with session_scope(engine) as session:
        return sorted(session.exec(CaseRow.__table__.select().with_only_columns(CaseRow.id)).scalars())  # type: ignore[attr-defined]


def by_case(records) -> dict[int, export.ExportRecord]:
    return {r.case_id: r for r in records}


def test_a_worked_case_becomes_a_question_and_its_answer(engine):
    ids = seed_cases(engine)
    records = by_case(iter_records(engine=engine, flt=ExportFilter()))
    assert sorted(records) == sorted(ids[k] for k in ("worked", "hostile", "removed", "other"))
    worked = records[ids["worked"]]
    assert worked.question == QUESTION + "\n\nstill nothing, mail me at dana+acme@mail.eu.example.co.uk"  # not bob_x's
    assert worked.answer == 'Sorry @dana_k! Hold "power", then DM @acmephones, ok?'  # the failed reply is not an answer
    assert worked.notes == "plan B customer; called 555-123-4567"
    assert worked.tags == ("charging", "hardware") and worked.status == "resolved" and worked.network == "x"
    assert worked.rule_query == "acme phone -is:retweet" and worked.author_handle == "dana_k"
    assert worked.conversation_url and worked.conversation_url.startswith("https://x.com/i/web/status/")
    assert len(worked.links) == 3 and worked.links[-1] == "https://x.com/acmephones/status/1900000000000000001"
    assert all("/dana_k/status/" in link for link in worked.links[:2])
    assert worked.opened_at == NOW and worked.first_response_at == NOW + timedelta(minutes=10)
    assert worked.resolved_at == NOW + timedelta(minutes=12) and worked.agent == "UALICE"
    assert (worked.outcome, worked.duplicate_of) == ("answered", None)
    assert records[ids["other"]].outcome is None  # still open
    removed = records[ids["removed"]]
    assert removed.question == export.REMOVED_TEXT and removed.links == ()  # X's terms: gone means gone
    assert removed.author_handle is None and removed.author_name is None and removed.conversation_url is None
    assert records[ids["other"]].author_handle == "bob_x" and records[ids["other"]].answer == ""


def test_filters_and_curated_entries(engine):
    ids = seed_cases(engine)

    def exported(**kw) -> list[int]:
        return [r.case_id for r in iter_records(engine=engine, flt=ExportFilter(**kw))]

    assert exported(statuses=frozenset({"resolved"})) == [ids["worked"]]
    assert exported(rule_id=ids["rule"]) == sorted([ids["worked"], ids["other"]])
    assert exported(since=NOW + timedelta(minutes=30), until=NOW + timedelta(days=1)) == [ids["hostile"]]
    assert exported(until=NOW + timedelta(seconds=1)) == [ids["worked"]]  # until is exclusive
    [entry] = iter_records(engine=engine, flt=ExportFilter(curated_only=True))  # the withdrawn one is left out
    assert (entry.source, entry.case_id, entry.question) == ("curated", ids["worked"], "How do I fix a phone that won't charge?")
    assert entry.answer == "Hold power for 10 s." and entry.notes == "verified by support" and entry.tags == ("faq",)
    assert entry.agent == "UALICE" and entry.rule_query == "acme phone -is:retweet" and len(entry.links) == 3
    assert exported(curated_only=True, statuses=frozenset({"new"})) == []
    with session_scope(engine) as session:
        assert export.count_records(session=session, flt=ExportFilter()) == 4
        assert export.count_records(session=session, flt=ExportFilter(curated_only=True)) == 1


def test_every_batch_size_and_a_callers_session_give_the_same_records(engine):
    seed_cases(engine)
    whole = list(iter_records(engine=engine, flt=ExportFilter(), batch=500))
    assert list(iter_records(engine=engine, flt=ExportFilter(), batch=1)) == whole
    assert list(iter_records(engine=engine, flt=ExportFilter(), batch=3)) == whole
    with session_scope(engine) as session:
        assert list(iter_records(session=session, flt=ExportFilter(), batch=2)) == whole
    assert list(iter_records(engine=engine, flt=ExportFilter(), batch=2, limit=3)) == whole[:3]
    with pytest.raises(TypeError):
        list(iter_records(flt=ExportFilter()))


# --- formats ---


def record(**fields) -> export.ExportRecord:
    base = dict(case_id=7, source="case", status="resolved", network="x", question="q", answer="a", notes="",
                tags=("a", "b"), rule_query="acme", author_handle="dana_k", author_name="Dana",
                conversation_url="https://x.com/i/web/status/1", links=("https://x.com/dana_k/status/1",),
                opened_at=NOW, first_response_at=None, resolved_at=NOW + timedelta(hours=1), agent="UALICE")
    return export.ExportRecord(**{**base, **fields})


AWKWARD = [
    record(outcome="duplicate", duplicate_of=3, question='line one\nline "two", with commas\r\nand a CRLF 😀', answer="tab\there; semi;colon"),
    record(case_id=8, question="=HYPERLINK(\"http://evil\",\"x\")", answer="+1 and -1", notes="@dana_k first"),
    record(case_id=9, question="ü ß 中文 \u2028 separator \x85 nel", answer="", tags=()),
]


def test_agents_are_exported_by_name_with_their_slack_id_beside_it(engine, slack_emulator):
    """Issue #15: `@alice`, not `U0ALICE01`, through users.info (slack.names); the id stays in agent_id."""
    ids = seed_cases(engine)
    alice = slack_emulator.users["alice"]
    with session_scope(engine) as session:
        session.execute(update(CaseRow).where(CaseRow.id == ids["worked"]).values(assignee=alice))
    names = SlackNames(WebClient(token=slack_emulator.token, base_url=slack_emulator.url, timeout=5))
    flt = ExportFilter(statuses=frozenset({"resolved"}))
    out = {fmt: io.StringIO() for fmt in ("jsonl", "csv", "md")}
    for fmt, buffer in out.items():
        assert export.export(engine=engine, flt=flt, fmt=fmt, out=buffer, names=names) == 1
    record = json.loads(out["jsonl"].getvalue())
    assert (record["agent"], record["agent_id"]) == ("@alice", alice)
    [row] = csv.DictReader(io.StringIO(out["csv"].getvalue().lstrip("\ufeff")))
    assert row["agent"] == "'@alice"  # the writer's guard against formulas; spreadsheets show @alice
    assert "@alice" in out["md"].getvalue() and alice not in out["md"].getvalue() + out["csv"].getvalue()
    unnamed = io.StringIO()
    export.export(engine=engine, flt=flt, fmt="jsonl", out=unnamed)  # no names given: the id, as before
    assert json.loads(unnamed.getvalue())["agent"] == alice


def test_csv_round_trips_through_csv_reader_with_the_right_columns(tmp_path):
    path = tmp_path / "out.csv"
    with path.open("w", encoding="utf-8", newline="") as out:
        assert export.write_csv(AWKWARD, out) == 3
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs to read UTF-8
    with path.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == list(export.CSV_COLUMNS)
    assert len(rows) == 4 and all(len(row) == len(export.CSV_COLUMNS) for row in rows)
    first = dict(zip(rows[0], rows[1]))
    assert first["question"] == AWKWARD[0].question and first["answer"] == "tab\there; semi;colon"
    assert first["tags"] == "a, b" and first["opened_at"] == "2026-11-27T12:00:00Z" and first["first_response_at"] == ""
    assert (first["outcome"], first["duplicate_of"]) == ("duplicate", "3")
    assert (rows[2][-2], rows[2][-1]) == ("", "")  # no outcome recorded
    second = dict(zip(rows[0], rows[2]))
    # Cells that a spreadsheet would run as formulas are quoted with an apostrophe.
    assert second["question"] == "'=HYPERLINK(\"http://evil\",\"x\")"
    assert second["answer"] == "'+1 and -1" and second["notes"] == "'@dana_k first"
    assert dict(zip(rows[0], rows[3]))["question"] == AWKWARD[2].question


def test_jsonl_is_one_json_record_per_line_even_for_unicode_line_separators():
    out = io.StringIO()
    assert export.write_jsonl(AWKWARD, out) == 3
    lines = out.getvalue().splitlines()  # splitlines also breaks on U+2028 and U+0085
    assert len(lines) == 3
    parsed = [json.loads(line) for line in lines]
    assert parsed[0]["question"] == AWKWARD[0].question and parsed[2]["question"] == AWKWARD[2].question
    assert set(parsed[0]) == {"case_id", "source", "curated_entry_id", "status", "network", "question", "answer",
                              "notes", "tags", "context", "links", "timestamps", "agent", "agent_id", "outcome",
                              "duplicate_of"}
    assert (parsed[0]["outcome"], parsed[0]["duplicate_of"]) == ("duplicate", 3) and parsed[1]["outcome"] is None
    assert parsed[0]["context"] == {"rule_query": "acme", "author_handle": "dana_k", "author_name": "Dana",
                                    "conversation_url": "https://x.com/i/web/status/1"}
    assert parsed[0]["timestamps"] == {"opened_at": "2026-11-27T12:00:00Z", "first_response_at": None,
                                       "resolved_at": "2026-11-27T13:00:00Z"}
    assert "😀" in lines[0]  # UTF-8, not \ud83d escapes


def unescaped(pattern: str, text: str) -> list[str]:
    return re.findall(r"(?<!\\)" + pattern, text)


def test_markdown_shows_hostile_text_literally():
    hostile = record(question=HOSTILE, answer="**bold** `code` | table | ~~gone~~ &amp; 1. one",
                     notes="    indented code\n===", rule_query="<b>rule</b>", author_name="[Dana](http://e)",
                     links=("javascript:alert(1)", "https://x.com/dana_k/status/1"))
    out = io.StringIO()
    assert export.write_markdown([hostile, record(case_id=8, outcome="duplicate", duplicate_of=7)], out) == 2
    text = out.getvalue()
    assert "- **Outcome:** duplicate of \\#7\n" in text and text.count("**Outcome:**") == 1
    headings = [line for line in text.splitlines() if line.lstrip().startswith("#")]
    assert headings == ["# socialdesk export", "## Case 7 · resolved · x", "## Case 8 · resolved · x"]
    assert "<script" not in text and "<b>" not in text and "&lt;script&gt;" in text
    assert "&amp;amp;" in text  # an entity in the text shows as typed
    assert not unescaped(r"\[", text) and not unescaped(r"\]\(", text) and not unescaped(r"`", text)
    assert not unescaped(r"\*\*bold", text) and not unescaped(r"~~", text) and not unescaped(r"\|", text)
    lines = text.splitlines()
    assert not any(line.startswith(("- not", "> ", "1. ", "    ", "===")) for line in lines)
    assert "<https://x.com/dana_k/status/1>" in text and "<javascript:" not in text  # only http(s) links are links
    assert text.count("\n## ") == 2 and "**Question**" in text and "**Answer**" in text


def test_markdown_renders_as_commonmark_with_hostile_text_as_text():
    """Rendered by a CommonMark parser that lets raw HTML through: only our structure survives."""
    hostile = record(question=HOSTILE + "\n# not a heading\n<img src=x onerror=alert(1)>",
                     answer="[click](javascript:alert(1)) and <a href='https://evil.example'>x</a>",
                     links=("javascript:alert(1)", "https://x.com/dana_k/status/1"))
    out = io.StringIO()
    export.write_markdown([hostile, record(case_id=8)], out)
    tokens = MarkdownIt("commonmark", {"html": True}).parse(out.getvalue())

    headings = [tokens[i + 1].content for i, t in enumerate(tokens) if t.type == "heading_open"]
    assert headings == ["socialdesk export", "Case 7 · resolved · x", "Case 8 · resolved · x"]
    inline = [child for t in tokens if t.type == "inline" for child in (t.children or [])]
    assert not [t for t in tokens + inline if t.type in ("html_block", "html_inline")]
    hrefs = [t.attrs["href"] for t in inline if t.type == "link_open"]
    assert hrefs and all(h.startswith("https://") for h in hrefs)
    html = MarkdownIt("commonmark", {"html": True}).render(out.getvalue())
    assert "<img" not in html and "<a href='https://evil" not in html
    assert 'href="javascript' not in html and "javascript:alert(1)" in html  # shown as text, never a link
    assert "&lt;img src=x onerror=alert(1)&gt;" in html


def test_markdown_of_nothing_says_so():
    out = io.StringIO()
    assert export.write_markdown([], out) == 0
    assert "_No records matched._" in out.getvalue()


def test_redacted_records_keep_no_customer_identifiers(engine):
    ids = seed_cases(engine)
    out = io.StringIO()
    count = export.export(engine=engine, flt=ExportFilter(), fmt="jsonl", out=out, redacted=True,
                          keep_handles={"acmephones"})
    assert count == 4
    text = out.getvalue()
    for identifier in ("dana", "bob_x", "mallory", "7946", "555-123", "mail.eu"):
        assert identifier not in text.lower(), identifier
    worked = next(json.loads(line) for line in text.splitlines() if json.loads(line)["case_id"] == ids["worked"])
    assert worked["answer"] == 'Sorry [handle]! Hold "power", then DM @acmephones, ok?'
    assert worked["notes"] == "plan B customer; called [phone]"
    assert worked["context"]["author_handle"] == "[handle]" and worked["context"]["author_name"] == "[name]"
    assert worked["links"][0].startswith("https://x.com/i/web/status/")


# --- streaming ---


def test_filters_from_words():
    now = NOW
    assert export.parse_when("7d", now=now) == now - timedelta(days=7)
    assert export.parse_when("2026-11-20", now=now) == datetime(2026, 11, 20, tzinfo=UTC)
    assert export.parse_when("2026-11-20", now=now, upper=True) == datetime(2026, 11, 21, tzinfo=UTC)
    assert export.parse_when("2026-11-20T10:00:00+01:00", now=now) == datetime(2026, 11, 20, 9, tzinfo=UTC)
    assert export.parse_statuses("Resolved,replied") == {"resolved", "replied"}
    for bad in (lambda: export.parse_when("yesterday", now=now), lambda: export.parse_statuses("done"),
                lambda: export.parse_rule("three"), lambda: export.parse_when("2026-13-01", now=now),
                lambda: export.check_range(ExportFilter(since=now, until=now))):
        with pytest.raises(export.FilterError):
            bad()


def test_a_filter_error_quotes_only_the_start_of_the_value_and_keeps_its_advice():
    typed = "x" * 5000
    for bad, advice in ((lambda: export.parse_when(typed, now=NOW), "use YYYY-MM-DD, an ISO date-time, or 7d"),
                        (lambda: export.parse_statuses(typed), "use one or more of new"),
                        (lambda: export.parse_rule(typed), "use the number `socialdesk rules list` shows")):
        with pytest.raises(export.FilterError) as raised:
            bad()
        assert str(raised.value).startswith("'" + "x" * 39 + "…' is not a "), str(raised.value)[:80]
        assert advice in str(raised.value) and len(str(raised.value)) < 200


def test_slack_export_words():
    from zoneinfo import ZoneInfo

    from socialdesk.listeners import export_commands
    from socialdesk.listeners.deps import Deps

    deps = Deps(engine=None, clock=lambda: NOW, tz=ZoneInfo("Europe/Berlin"))  # type: ignore[arg-type]
    request = export_commands.parse(["MD", "since:7d", "until:2026-11-26", "status:resolved,replied", "rule:#3",
                                     "curated", "redact"], now=NOW, deps=deps)
    assert request.fmt == "md" and request.redacted
    assert request.flt == ExportFilter(since=NOW - timedelta(days=7), until=datetime(2026, 11, 26, 23, tzinfo=UTC),
                                       statuses=frozenset({"resolved", "replied"}), rule_id=3, curated_only=True)
    assert request.described == "since 7d · until 2026-11-26 · status replied, resolved · rule 3 · redacted"
    assert export_commands.parse([], now=NOW, deps=deps).fmt == "jsonl"
    for words in (["xlsx"], ["since:"], ["rule:abc"], ["status:open"], ["since:2026-11-27", "until:2026-11-01"]):
        with pytest.raises(export.FilterError):
            export_commands.parse(words, now=NOW, deps=deps)


def many_cases(engine, count: int) -> None:
    """`count` one-post cases, inserted in bulk (ingest would spend its time on matching and sentiment)."""
    text = "a fairly typical complaint about a phone that will not charge, " * 4
    with session_scope(engine) as session:
        session.execute(insert(AuthorRow), [dict(id=i, network="x", external_id=f"u{i}", handle=f"user{i}",
                                                 name=f"User {i}", updated_at=NOW) for i in range(1, count + 1)])
        session.execute(insert(CaseRow), [dict(id=i, network="x", conversation_id=str(i), status="new",
                                               channel_id="C1", opened_at=NOW + timedelta(seconds=i), updated_at=NOW,
                                               first_post_id=i, customer_author_id=i, priority="normal", version=1,
                                               publish_failures=0) for i in range(1, count + 1)])
        session.execute(insert(PostRow), [dict(id=i, network="x", external_id=str(i), url=f"https://x.com/user{i}/status/{i}",
                                               author_id=i, text=f"{text} #{i}", created_at=NOW, fetched_at=NOW,
                                               conversation_id=str(i), case_id=i, is_repost=False, is_reply=False)
                                          for i in range(1, count + 1)])


def test_iter_records_streams_with_bounded_queries_and_memory(tmp_path):
    """5,000 cases: a few queries per batch (no query per case), and far less memory than holding them."""
    engine = make_engine(f"sqlite:///{tmp_path}/many.db")
    upgrade(engine)
    try:
        many_cases(engine, 5000)
        statements: list[str] = []
        event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
        flt = ExportFilter()
        list(iter_records(engine=engine, flt=flt, limit=10))  # warm SQLAlchemy's statement caches first
        statements.clear()
        tracemalloc.start()
        streamed = sum(1 for _ in iter_records(engine=engine, flt=flt, batch=250))
        _, streaming_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
        assert streamed == 5000
        assert len(selects) <= (5000 // 250 + 1) * 5  # cases, posts, replies, notes, rules per batch
        tracemalloc.start()
        held = list(iter_records(engine=engine, flt=flt, batch=5000))
        _, holding_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(f"peak memory: streaming {streaming_peak:,} B, holding {holding_peak:,} B")
        assert len(held) == 5000
        assert streaming_peak * 4 < holding_peak, (streaming_peak, holding_peak)
    finally:
        engine.dispose()
