"""What notices say (slack.blocks.notices): pure builders, checked for mentions, escaping and the Open button."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from socialdesk.domain import Author, CaseStatus, CaseView, Post
from socialdesk.slack import ids
from socialdesk.slack.blocks import notices

WHEN = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
HOSTILE = "<!channel> broken & <@U0BOSS> help"
PERMALINK = "https://acme-phones.slack.com/archives/C0CARE/p1700000000000100"


def view(**changes) -> CaseView:
    author = Author("x", "42", "jo_<tanaka>", "Jo", 120)
    post = Post("x", "1578516068309794817", "https://x.com/jo/status/1", author, HOSTILE, WHEN)
    return replace(CaseView(case_id=12, status=CaseStatus.CLAIMED, post=post, channel_id="C0CARE", opened_at=WHEN,
                            assignee="U0BOB", priority="high", message_ts="1700000000.000100"), **changes)


def test_mentions_are_built_from_ids_only():
    assert notices.mention("U0BOB") == "<@U0BOB>" and notices.mention("W0ENT") == "<@W0ENT>"
    assert notices.mention("S0CARE") == "<!subteam^S0CARE>"
    assert notices.mention("<!channel>") == "&lt;!channel&gt;"


def test_the_assignees_dm_links_the_card_with_an_open_button_and_no_claim():
    message = notices.assigned_dm(replace(view(), sla_due=WHEN + timedelta(minutes=30)), by="U0CAROL",
                                  permalink=PERMALINK)
    assert message.text == "<@U0CAROL> assigned you case #12 (@jo_&lt;tanaka&gt; on X)"
    blocks = [b.to_dict() for b in message.blocks]
    head = blocks[0]["text"]["text"]
    assert head.startswith("👉 <@U0CAROL> assigned you *case #12*: @jo_&lt;tanaka&gt; on X\n>")
    assert "&lt;!channel&gt; broken &amp; &lt;@U0BOSS&gt; help" in head and "<!channel>" not in head
    assert blocks[1]["elements"][0]["text"].startswith("high priority · ⏱ reply due <!date^")
    [button] = blocks[2]["elements"]
    assert (button["text"]["text"], button["url"], button["action_id"], button["value"]) == (
        "Open", PERMALINK, ids.NOTICE_OPEN, "12")
    every_action = [e.get("action_id") for b in blocks if b["type"] == "actions" for e in b["elements"]]
    assert every_action == [ids.NOTICE_OPEN]  # no Claim: assigning made it the assignee's


def test_without_a_permalink_the_dm_says_where_the_card_is():
    blocks = [b.to_dict() for b in notices.assigned_dm(view(), by="U0CAROL", permalink=None).blocks]
    assert [b["type"] for b in blocks] == ["section", "context", "context"]
    assert blocks[2]["elements"][0]["text"] == "Its card is in <#C0CARE>; `/social case 12` links to it."


def test_a_long_post_is_cut_in_the_dm():
    head = notices.assigned_dm(view(post=replace(view().post, text="& " * 2000)), by="U0C", permalink=PERMALINK)
    text = head.blocks[0].to_dict()["text"]["text"]
    assert len(text) < 800 and text.endswith("…")


def test_the_at_risk_nudge_mentions_the_owner_else_on_call_else_says_nobody_owns_it():
    due, left = WHEN + timedelta(minutes=25), timedelta(minutes=25)
    owned = notices.at_risk(due=due, left=left, owner="U0BOB", oncall="S0CARE").text
    assert owned.startswith("⏰ First-response SLA at risk: due <!date^") and owned.endswith("(25 min left) <@U0BOB>")
    group = notices.at_risk(due=due, left=left, owner=None, oncall="S0CARE").text
    assert group.endswith("(25 min left) <!subteam^S0CARE> — nobody owns this case yet")
    person = notices.at_risk(due=due, left=left, owner=None, oncall="U0ONCALL").text
    assert person.endswith("(25 min left) <@U0ONCALL> — nobody owns this case yet")
    assert notices.at_risk(due=due, left=left, owner=None, oncall=None).text.endswith(
        "(25 min left) — nobody owns this case yet")


def test_breach_lines_and_the_leads_dm():
    text = notices.breached(due=WHEN, target=timedelta(hours=2), priority="normal", owner=None, oncall="S0CARE").text
    assert text.startswith("🚨 SLA breached: no first response within 2 h 00 min (normal priority, was due <!date^")
    assert text.endswith("<!subteam^S0CARE> — nobody owns this case yet")
    dm = notices.lead_dm(case_id=12, channel_id="C0CARE", permalink=PERMALINK, priority="high", due=WHEN, owner="U0BOB")
    assert dm.text.startswith(f"🚨 First-response SLA breached on <{PERMALINK}|case #12>: high priority, due <!date^")
    assert dm.text.endswith(", owned by <@U0BOB>.")
    assert "case #12 in <#C0CARE>" in notices.lead_dm(case_id=12, channel_id="C0CARE", permalink=None,
                                                      priority="high", due=WHEN, owner=None).text


def test_the_follow_up_ping():
    assert notices.follow_up_ping(owner="U0BOB", handle="jo<", posts=1, reopened=False).text == (
        "🔔 <@U0BOB> @jo&lt; wrote again.")
    assert notices.follow_up_ping(owner="U0BOB", handle="jo", posts=3, reopened=True).text == (
        "🔔 <@U0BOB> @jo wrote again (3 new posts): the case is reopened and still yours.")


def test_the_dm_to_the_owner_a_case_was_taken_from_names_who_has_it_and_escapes_the_handle():
    linked = notices.reassigned_dm(view(), by="U0CAROL", to="U0DAN", permalink=PERMALINK)
    assert linked.text == (f"↪️ <@U0CAROL> gave <{PERMALINK}|case #12> (@jo_&lt;tanaka&gt; on X), which you owned, "
                           "to <@U0DAN>. It is theirs now: nothing more to do on it unless they ask you.")
    assert linked.blocks == []
    plain = notices.reassigned_dm(view(), by="U0CAROL", to="<!channel>", permalink=None).text
    assert plain.startswith("↪️ <@U0CAROL> gave case #12 (") and "to &lt;!channel&gt;." in plain
