"""The incident card, a member's message, the reply-to-all modal, `/social incidents` and the digest's count:
pure builders, checked for what they say, escaping and Block Kit's limits."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from slack_sdk.models.blocks import ActionsBlock

from socialdesk.domain import Author, CaseStatus, CaseView, IncidentMember, IncidentView, Post
from socialdesk.networks import registry
from socialdesk.slack import ids
from socialdesk.slack.blocks.digest import digest_blocks, digest_text
from socialdesk.slack.blocks.incident import card_for, incidents_reply, reply_all_modal, span_label
from socialdesk.store.figures import Figures
from socialdesk.store.incidents import IncidentSummary

WHEN = datetime(2026, 11, 27, 14, 5, tzinfo=UTC)
HOSTILE = "<!channel> wifi & <@U0BOSS> dead"


def member(case_id: int, handle: str, minutes: int, text: str = "wifi keeps dropping since 4.2",
           status: CaseStatus = CaseStatus.NEW) -> IncidentMember:
    return IncidentMember(case_id, handle, text, f"https://x.com/{handle}/status/{case_id}", status,
                          WHEN + timedelta(minutes=minutes))


def incident(count: int = 6, open_count: int = 6, latest=None) -> IncidentView:
    latest = latest if latest is not None else tuple(member(7 + i, f"c{i}", 8 * i) for i in range(5, 0, -1))
    return IncidentView(incident_id=3, anchor_case_id=7, count=count, open_count=open_count, first_at=WHEN,
                        last_at=WHEN + timedelta(minutes=40), latest=latest, thread_ts="1700000000.000100")


def view(case_id: int = 7, text: str = "Since the Acme X3 update 4.2 my wifi drops", **changes) -> CaseView:
    author = Author("x", "42", "jo_tanaka", "Jo", 120, avatar_url="https://pbs.twimg.com/profile_images/42/a.jpg")
    post = Post("x", str(1578516068309794817 + case_id), f"https://x.com/jo_tanaka/status/{case_id}", author, text, WHEN)
    base = CaseView(case_id=case_id, status=CaseStatus.NEW, post=post, channel_id="C0SOCIAL", opened_at=WHEN, rule_id=1,
                    rule_query="acme", message_ts="1700000000.000100" if case_id == 7 else "1700000000.000200",
                    incident=incident())
    return replace(base, **changes)


def block(card, block_id: str) -> dict:
    return next(b.to_dict() for b in card.blocks if b.block_id == block_id)


def test_span_labels():
    assert span_label(WHEN, WHEN + timedelta(seconds=20)) == "in under a minute"
    assert span_label(WHEN, WHEN + timedelta(minutes=40)) == "in 40 min"
    assert span_label(WHEN, WHEN + timedelta(hours=2)) == "in 2 h"
    assert span_label(WHEN, WHEN + timedelta(hours=1, minutes=5)) == "in 1 h 5 min"


def test_the_anchor_card_is_the_incident_card():
    card = card_for(view())
    assert block(card, "incident")["text"]["text"] == "🌩 *6 posts like this in 40 min* · 6 open · incident #3"
    latest = block(card, "incident_latest")["text"]["text"]
    assert latest.splitlines()[0] == ("• *@c5* wifi keeps dropping since 4.2 · 🆕 New · "
                                      "<!date^1795790700^{time}|14:45 UTC> <https://x.com/c5/status/12|post>")
    assert latest.splitlines()[-1] == "_Each one is its own case, in the thread._"
    more = block(card_for(view(incident=incident(count=9))), "incident_latest")["text"]["text"]
    assert more.splitlines()[-1] == "_…and 3 more: each one is its own case, in the thread_"
    actions = [b for b in card.blocks if isinstance(b, ActionsBlock)]
    assert [e.action_id for e in actions[0].elements][:2] == [ids.CLAIM, ids.REPLY]  # the anchor's own case
    assert [e.action_id for e in actions[1].elements] == [ids.INCIDENT_REPLY_ALL, ids.INCIDENT_RESOLVE_ALL,
                                                          ids.INCIDENT_IGNORE_ALL]
    assert all(e.value == "7" for e in actions[1].elements)
    assert card.text.startswith("🌩 6 posts like this · X post from @jo_tanaka")
    assert card.metadata.event_type == ids.CASE_METADATA_TYPE


def test_a_closed_incident_has_no_bulk_buttons_and_says_what_is_done():
    card = card_for(view(incident=incident(open_count=0)))
    assert block(card, "incident")["text"]["text"].startswith("🌩 *6 posts like this in 40 min* · 0 open, 6 done")
    assert not any(b.block_id == "incident_actions" for b in card.blocks)


def test_a_member_is_a_small_card_with_its_own_buttons_and_split_out():
    card = card_for(view(case_id=9, status=CaseStatus.CLAIMED, assignee="U0ALICE", claimed_at=WHEN))
    assert [b.block_id for b in card.blocks] == ["status", "author", "post", "actions"]  # the case card's two lines
    ids_ = [e.action_id for e in card.blocks[-1].elements]
    assert ids_ == [ids.REPLY, ids.NOTE, ids.RESOLVE, ids.INCIDENT_SPLIT, ids.MENU]
    assert block(card, "status")["elements"][0]["text"].startswith("🙋 <@U0ALICE> · claimed <!date^")
    author = block(card, "author")["elements"]
    assert [e["type"] for e in author] == ["image", "mrkdwn"]  # the avatar, as on a card of its own
    assert author[1]["text"].endswith("rule #1 `acme` · 🌩 in incident #3 · case #9")
    assert card.metadata.event_type == ids.INCIDENT_MEMBER_METADATA_TYPE
    assert card.metadata.event_payload == {"case_id": 9, "incident_id": 3}


def test_untrusted_text_is_escaped_everywhere_on_the_incident_card():
    hostile = incident(latest=(member(9, "evil<@U1>", 5, HOSTILE),))
    dumped = json.dumps([b.to_dict() for b in card_for(view(text=HOSTILE, incident=hostile)).blocks])
    assert "<!channel>" not in dumped and "<@U0BOSS>" not in dumped and "<@U1>" not in dumped
    assert "&lt;!channel&gt; wifi &amp; &lt;@U0BOSS&gt;" in dumped


def test_the_reply_to_all_modal_names_whom_it_goes_to():
    recipients = [(7 + i, f"c{i}") for i in range(120)]
    modal = reply_all_modal(view(), brand="acmephones", recipients=recipients, rules=registry.info("x"),
                            opened_at=1.0).to_dict()
    meta = json.loads(modal["private_metadata"])
    assert meta["cases"] == [7 + i for i in range(100)] and meta["incident_id"] == 3 and meta["channel"] == "C0SOCIAL"
    assert len(modal["private_metadata"]) < 3000 and modal["submit"]["text"] == "Send 100 replies"
    text = json.dumps(modal["blocks"], ensure_ascii=False)
    assert "To: @c0, @c1" in text and "and 80 more" in text and "The first 100 of 120" in text
    [box] = [b for b in modal["blocks"] if b.get("block_id") == ids.INCIDENT_REPLY_INPUT]
    assert box["element"]["initial_value"] == "{author} "


def test_social_incidents_lists_them_with_links():
    item = IncidentSummary(incident_id=3, anchor_case_id=7, channel_id="C0SOCIAL", message_ts="1.2", count=6,
                           open_count=4, first_at=WHEN, last_at=WHEN + timedelta(minutes=40), handle="jo<b>",
                           text=HOSTILE)
    reply = incidents_reply([item], permalinks={7: "https://acme.slack.com/archives/C0SOCIAL/p12"}, limit=20)
    shown = reply.blocks[0].to_dict()["text"]["text"]
    assert "<https://acme.slack.com/archives/C0SOCIAL/p12|Incident #3> · *6 posts* in 40 min · 4 open" in shown
    assert "<!channel>" not in shown and "@jo&lt;b&gt;" in shown
    assert "No open incidents" in incidents_reply([], permalinks={}, limit=20).text


def test_the_digest_counts_incidents():
    start, end = WHEN, WHEN + timedelta(days=1)
    now, before = Figures(start=start, end=end, incidents=3, incident_posts=17), Figures(start=start, end=end, incidents=1)
    text = json.dumps([b.to_dict() for b in digest_blocks(now, before, title="Daily", period_label="Fri",
                                                          permalinks={})], ensure_ascii=False)
    assert "*Incidents*\\n3 (17 posts)  `▲ 200%` _(was 1)_" in text
    assert digest_text(now, title="Daily", period_label="Fri").endswith("0 SLA breaches, 3 incidents (17 posts)")
