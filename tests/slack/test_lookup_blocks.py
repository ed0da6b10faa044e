import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from socialdesk.domain import Author, CaseStatus, CaseView, Post
from socialdesk.slack import ids
from socialdesk.slack.blocks import lookup
from socialdesk.store.figures import Figures, Spread
from socialdesk.store.lookups import AuthorPage, CaseItem, CasePage

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
HOSTILE = "<!channel> <@U999> & <https://evil.example|click>"


@dataclass
class Event:
    kind: str
    actor: str
    at: datetime
    payload: dict | None = None


def item(case_id: int, text: str = "hello", handle: str = "dana_k", **changes) -> CaseItem:
    base = dict(case_id=case_id, status=CaseStatus.NEW, assignee=None, priority="normal",
                opened_at=NOW - timedelta(hours=2), updated_at=NOW - timedelta(minutes=5), channel_id="C1",
                message_ts="1700000000.000100", handle=handle, name="Dana", text=text,
                url=f"https://x.com/{handle}/status/{case_id}")
    base.update(changes)
    return CaseItem(**base)


def dump(reply) -> str:
    return json.dumps([b.to_dict() for b in reply.blocks], ensure_ascii=False)


def all_text(reply) -> str:
    out = []
    for b in reply.blocks:
        d = b.to_dict()
        if "text" in d:
            out.append(d["text"]["text"])
        out.extend(e.get("text", "") for e in d.get("elements", []) if isinstance(e.get("text"), str))
    return "\n".join(out)


def test_case_reply_escapes_post_and_note_and_limits_history():
    author = Author("x", "42", "dana_k", "<!here> Dana", 10)
    post = Post("x", "1", "https://x.com/dana_k/status/1", author, HOSTILE * 100, NOW)
    view = CaseView(case_id=7, status=CaseStatus.CLAIMED, post=post, channel_id="C1", opened_at=NOW,
                    assignee="UALICE", message_ts="1.2")
    history = [Event("note", "UBOB", NOW, {"text": HOSTILE}) for _ in range(14)] + [Event("claimed", "UALICE", NOW)]
    reply = lookup.case_reply(view, history, permalink="https://slack.example/archives/C1/p12", now=NOW)
    text = all_text(reply)
    assert "<!channel>" not in text and "<!here>" not in text and "<@U999>" not in text
    assert "&lt;!channel&gt;" in text and "&lt;!here&gt; Dana" in text
    assert "<https://slack.example/archives/C1/p12|Case #7>" in text and "owner <@UALICE>" in text
    history_block = next(b for b in reply.blocks if b.block_id == "case_history").text.text
    assert history_block.count("\n• ") == 0 and len(history_block.splitlines()) == 11
    assert "last 10 of 15" in history_block
    assert all(len(b.to_dict()["text"]["text"]) <= 3000 for b in reply.blocks if "text" in b.to_dict())
    assert "<!" not in reply.text.replace("<!date", "")


def test_case_reply_without_card_says_so():
    author = Author("x", "42", "dana_k", "Dana", 10)
    post = Post("x", "1", "https://x.com/dana_k/status/1", author, "hi", NOW)
    view = CaseView(case_id=7, status=CaseStatus.NEW, post=post, channel_id="C1", opened_at=NOW)
    reply = lookup.case_reply(view, [], permalink=None, now=NOW)
    assert "*Case #7*" in all_text(reply) and "not in Slack yet" in all_text(reply)


def test_list_shows_at_most_ten_with_links_escaping_and_navigation():
    items = [item(i, text=HOSTILE, handle="a<b") for i in range(1, 13)]
    page = CasePage(items=items, total=25, offset=10, limit=10)
    reply = lookup.case_list_reply(page, title="*Queue*", empty="none", view="queue",
                                   permalinks={1: "https://slack.example/p1"}, now=NOW, show_age=True)
    sections = [b for b in reply.blocks if b.block_id and b.block_id.startswith("case_")]
    assert len(sections) == 10
    text = all_text(reply)
    assert "<!channel>" not in text and "a&lt;b" in text
    assert "<https://slack.example/p1|Case #1>" in text and "*Case #2*" in text
    assert "waiting 2h 0m" in text and "11–20 of 25" in text
    nav = reply.blocks[-1].to_dict()
    assert [e["action_id"] for e in nav["elements"]] == [ids.LOOKUP_PREV, ids.LOOKUP_NEXT]
    values = [lookup.parse_nav_value(e["value"]) for e in nav["elements"]]
    assert values == [("queue", "", 0), ("queue", "", 20)]


def test_single_page_has_no_navigation_and_empty_list_says_so():
    one = lookup.case_list_reply(CasePage(items=[item(1)], total=1, offset=0, limit=10), title="*Mine*",
                                 empty="nothing", view="mine", permalinks={}, now=NOW)
    assert not any(b.type == "actions" for b in one.blocks)
    empty = lookup.case_list_reply(CasePage(items=[], total=0, offset=0, limit=10), title="*Mine*",
                                   empty="nothing", view="mine", permalinks={}, now=NOW)
    assert "nothing" in all_text(empty)


def test_nav_values_reject_garbage():
    assert lookup.parse_nav_value("not json") is None
    assert lookup.parse_nav_value('{"v":"mine","o":-1}') is None
    assert lookup.parse_nav_value('{"v":"mine","a":"","o":"3"}') is None
    assert lookup.parse_nav_value("[" * 1999) is None  # deeper than json can parse
    assert lookup.parse_nav_value(lookup.nav_value("author", "x" * 500, 10)) == ("author", "x" * 500, 10)


def test_author_reply_escapes_and_handles_unknown():
    page = AuthorPage(items=[item(1)], total=1, offset=0, limit=10, handle="dana_k", name="<!channel>",
                      followers=3, post_count=2)
    text = all_text(lookup.author_reply(page, asked="dana_k", permalinks={}, now=NOW))
    assert "&lt;!channel&gt;" in text and "2 posts stored" in text
    unknown = AuthorPage(items=[], total=0, offset=0, limit=10, handle="x")
    assert "No posts from @x" in lookup.author_reply(unknown, asked="x", permalinks={}, now=NOW).text


def test_stats_reply():
    figures = Figures(start=NOW, end=NOW, opened=3, claimed=1, replied=2, resolved=1, ignored=0, sla_breached=1,
                      first_response=Spread(count=2, median=600.0, p90=1200.0))
    reply = lookup.stats_reply(figures, period="last 7 days (UTC)")
    text = all_text(reply)
    assert "*Opened* 3" in text and "*SLA breaches* 1" in text and "replied 2" in reply.text
    assert "*Median first response* 10m (p90 20m, over 2 cases first answered in the period)" in text
    none = lookup.stats_reply(Figures(start=NOW, end=NOW), period="today (UTC)")
    assert "first response —" in none.text and "*Median time to resolve* —" in all_text(none)


def test_case_reply_shows_intent_spam_and_the_automatic_filing_and_routing_in_history():
    author = Author("x", "42", "free_phones_4u", "FREE", 2)
    post = Post("x", "1", "https://x.com/free_phones_4u/status/1", author, "FREE phone", NOW)
    view = CaseView(case_id=7, status=CaseStatus.IGNORED, post=post, channel_id="C1", opened_at=NOW,
                    ignored_reason="likely_spam", intent="other", spam_score=0.85, likely_spam=True,
                    spam_reasons=("giveaway words: free", "<!channel> 1 link"))
    history = [Event("opened", "system", NOW, {"post": "1"}),
               Event("routed", "system", NOW, {"from": "C0CARE", "to": "C0SUPPORT", "because": "intent question"}),
               Event("ignored", "system", NOW, {"reason": "likely spam: giveaway words: free", "automatic": True}),
               Event("reopened", "UALICE", NOW, {"not_spam": True, "spam_score": 0.85})]
    text = all_text(lookup.case_reply(view, history, permalink=None, now=NOW))
    assert "💬 *other* · ⚠️ likely spam: giveaway words: free, &lt;!channel&gt; 1 link" in text
    assert "routed by system from <#C0CARE> to <#C0SUPPORT> (intent question)" in text
    assert ("ignored by system (likely spam: giveaway words: free) — automatically; *Not spam* on its card opens it "
            "again") in text
    assert "reopened by <@UALICE> (not spam)" in text


def test_case_reply_says_how_it_was_resolved_and_which_cases_duplicate_it():
    author = Author("x", "42", "dana_k", "Dana", 10)
    post = Post("x", "1", "https://x.com/dana_k/status/1", author, "hi", NOW)
    duplicate = CaseView(case_id=8, status=CaseStatus.RESOLVED, post=post, channel_id="C1", opened_at=NOW,
                         outcome="duplicate", duplicate_of=7)
    original = CaseView(case_id=7, status=CaseStatus.RESOLVED, post=post, channel_id="C1", opened_at=NOW,
                        outcome="fixed", duplicates=(8,))
    head = next(b for b in lookup.case_reply(duplicate, [], permalink=None, now=NOW).blocks
                if b.block_id == "case_head").text.text
    assert "duplicate of case #7" in head
    head = next(b for b in lookup.case_reply(original, [], permalink=None, now=NOW).blocks
                if b.block_id == "case_head").text.text
    assert "· fixed" in head and "Duplicate: case #8" in head
