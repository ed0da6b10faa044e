from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from slack_sdk.models.blocks import ActionsBlock

from socialdesk.domain import Author, CaseStatus, CaseView, Post
from socialdesk.slack import ids
from socialdesk.slack.blocks.card import SECTION_TEXT_LIMIT, case_card
from tests.support.snapshots import assert_snapshot

SNAPSHOTS = Path(__file__).parent / "snapshots"
WHEN = datetime(2026, 11, 27, 14, 5, tzinfo=UTC)


def view(text="My Acme X2 screen cracked after one day. Support? https://acme.example/help", **changes) -> CaseView:
    author = Author("x", "42", "dana_k", "Dana K.", 1234, False, "https://pbs.twimg.com/profile_images/1/a.jpg")
    post = Post("x", "1578516068309794817", "https://x.com/dana_k/status/1578516068309794817", author, text, WHEN)
    base = CaseView(case_id=7, status=CaseStatus.NEW, post=post, channel_id="C0SOCIAL", opened_at=WHEN,
                    rule_id=3, rule_query="acme (broken OR cracked) -is:retweet", message_ts="1700000000.000100")
    return replace(base, **changes)


def button_ids(card) -> list[str]:
    actions = [b for b in card.blocks if isinstance(b, ActionsBlock)][0]
    return [e.action_id for e in actions.elements]


def text_of(card, block_id: str) -> str:
    """A block's text, as Slack shows it (a context block's elements side by side)."""
    block = next(b.to_dict() for b in card.blocks if b.block_id == block_id)
    if "text" in block:
        return block["text"]["text"]
    return " ".join(e.get("text", "") for e in block["elements"])


def ago(when: datetime) -> str:
    return f"<!date^{int(when.timestamp())}^{{ago}}|{when:%Y-%m-%d %H:%M} UTC>"


def menu_values(card) -> list[str]:
    actions = [b for b in card.blocks if isinstance(b, ActionsBlock)][0]
    return [o.value for o in actions.elements[-1].options]


def test_new_card_snapshot():
    card = case_card(view())
    assert_snapshot({"text": card.text, "blocks": [b.to_dict() for b in card.blocks],
                     "metadata": card.metadata.to_dict()}, SNAPSHOTS / "card_new.json")


def test_claimed_card_snapshot():
    card = case_card(view(status=CaseStatus.CLAIMED, assignee="U0ALICE", claimed_at=WHEN, updated_at=WHEN,
                          last_action="claimed by <@U0ALICE>"))
    assert_snapshot({"text": card.text, "blocks": [b.to_dict() for b in card.blocks]}, SNAPSHOTS / "card_claimed.json")


@pytest.mark.parametrize(("status", "expected"), [
    (CaseStatus.NEW, [ids.CLAIM, ids.REPLY, ids.NOTE, ids.RESOLVE, ids.MENU]),
    (CaseStatus.REOPENED, [ids.CLAIM, ids.REPLY, ids.NOTE, ids.RESOLVE, ids.MENU]),
    (CaseStatus.CLAIMED, [ids.REPLY, ids.NOTE, ids.RESOLVE, ids.MENU]),
    (CaseStatus.REPLIED, [ids.RESOLVE, ids.REPLY, ids.NOTE, ids.MENU]),
    (CaseStatus.RESOLVED, [ids.REOPEN, ids.NOTE, ids.FAQ_SAVE, ids.MENU]),
    (CaseStatus.IGNORED, [ids.REOPEN, ids.NOTE, ids.MENU]),
])
def test_buttons_follow_the_status(status, expected):
    card = case_card(view(status=status, assignee="U0ALICE", claimed_at=WHEN))
    assert button_ids(card) == expected
    values = menu_values(card)
    assert len(values) <= 5 and values[-1] == "open:7"  # Block Kit allows five overflow options
    assert ("unclaim:7" in values) == (status is CaseStatus.CLAIMED)
    assert ("ignore:7" in values) == (status not in (CaseStatus.RESOLVED, CaseStatus.IGNORED))


def test_status_line_shows_owner_age_last_action_collision_and_follow_up():
    later = WHEN.replace(minute=20)
    card = case_card(view(status=CaseStatus.CLAIMED, assignee="U0ALICE", claimed_at=WHEN, updated_at=later,
                          last_action="note by <@U0BOB>", replying_user="U0BOB", customer_wrote_at=WHEN))
    line = text_of(card, "status")
    assert line.startswith(f"🙋 <@U0ALICE> · claimed {ago(WHEN)} · note by <@U0BOB> {ago(later)}")
    assert "✍️ <@U0BOB> is replying…" in line
    assert "📨 *New reply from the customer*" in line


def test_the_card_is_the_status_line_the_author_line_the_post_and_its_buttons():
    """Two lines of metadata (there were four: author, rule, triage, status), the status first."""
    for v in (view(), view(status=CaseStatus.CLAIMED, assignee="U0ALICE", claimed_at=WHEN, priority="high",
                           intent="complaint", tags=("screen",), sla_due=WHEN.replace(hour=16))):
        card = case_card(v)
        assert [b.block_id for b in card.blocks] == ["status", "author", "post", "actions"]
        assert all("\n" not in text_of(card, b) for b in ("status", "author"))


def test_a_claim_is_said_once_with_the_owner_first():
    card = case_card(view(status=CaseStatus.CLAIMED, assignee="U0ALICE", claimed_at=WHEN, updated_at=WHEN,
                          last_action="claimed by <@U0ALICE>"))
    assert text_of(card, "status") == f"🙋 <@U0ALICE> · claimed {ago(WHEN)}"  # not "… · last: claimed by @alice"
    assigned = case_card(view(status=CaseStatus.CLAIMED, assignee="U0BOB", claimed_at=WHEN, updated_at=WHEN,
                              last_action="assigned to <@U0BOB> by <@U0CAROL>"))
    assert text_of(assigned, "status") == f"🙋 <@U0BOB> · assigned by <@U0CAROL> {ago(WHEN)}"


@pytest.mark.parametrize(("status", "action", "expected"), [
    (CaseStatus.REPLIED, "replied by <@U0ALICE>", "💬 *Replied* by <@U0ALICE> {ago}"),
    (CaseStatus.RESOLVED, "resolved by <@U0BOB>", "✅ *Resolved* by <@U0BOB> {ago} · owner <@U0ALICE>"),
    (CaseStatus.IGNORED, "ignored as spam by <@U0ALICE>", "🚫 *Ignored* as spam by <@U0ALICE> {ago}"),
    (CaseStatus.REOPENED, "reopened by <@U0BOB>", "🔁 *Reopened* by <@U0BOB> {ago} · owner <@U0ALICE>"),
    (CaseStatus.RESOLVED, "tagged by <@U0BOB>", "✅ *Resolved* · owner <@U0ALICE> · tagged by <@U0BOB> {ago}"),
    (CaseStatus.REPLIED, "assigned to <@U0ALICE> by <@U0BOB>", "💬 *Replied* · owner <@U0ALICE> assigned by <@U0BOB> {ago}"),
])
def test_the_status_says_who_moved_it_there_once(status, action, expected):
    card = case_card(view(status=status, assignee="U0ALICE", claimed_at=WHEN, updated_at=WHEN, last_action=action,
                          ignored_reason="spam" if status is CaseStatus.IGNORED else None))
    assert text_of(card, "status") == expected.format(ago=ago(WHEN))


def test_the_time_of_the_last_action_is_left_out_once_the_customer_wrote_since():
    """A follow-up moves `updated_at` (store.conversations): it is not when the case was reopened or replied to."""
    wrote = WHEN.replace(minute=30)
    card = case_card(view(status=CaseStatus.REOPENED, updated_at=wrote, customer_wrote_at=wrote,
                          last_action="reopened: the customer wrote again"))
    assert text_of(card, "status") == (f"🔁 *Reopened*: the customer wrote again\n"
                                       f"📨 *New reply from the customer* {ago(wrote)} — see the thread")
    replied = case_card(view(status=CaseStatus.REPLIED, assignee="U0ALICE", updated_at=wrote, customer_wrote_at=wrote,
                             last_action="replied by <@U0ALICE>"))
    assert text_of(replied, "status").startswith("💬 *Replied* by <@U0ALICE>\n📨")


def test_a_new_case_says_how_long_it_waits():
    assert text_of(case_card(view()), "status") == f"🆕 *New* · opened {ago(WHEN)}"
    back = case_card(view(updated_at=WHEN.replace(minute=9), last_action="unclaimed by <@U0ALICE>"))
    assert text_of(back, "status") == f"🆕 *New* · opened {ago(WHEN)} · unclaimed by <@U0ALICE> {ago(WHEN.replace(minute=9))}"


def test_the_author_line_says_who_when_which_rule_and_the_case_beside_the_avatar():
    author = next(b.to_dict() for b in case_card(view()).blocks if b.block_id == "author")
    assert author["elements"][0] == {"type": "image", "image_url": "https://pbs.twimg.com/profile_images/1/a.jpg",
                                     "alt_text": "dana_k"}
    assert author["elements"][1]["text"] == (
        "𝕏 X · *Dana K.* <https://x.com/dana_k|@dana_k> · 1,234 followers · "
        "<https://x.com/dana_k/status/1578516068309794817|posted> "
        f"<!date^{int(WHEN.timestamp())}^{{date_short_pretty}} {{time}}|2026-11-27 14:05 UTC> · "
        "rule #3 `acme (broken OR cracked) -is:retweet` · case #7")
    v = view()
    without = replace(v, post=replace(v.post, author=replace(v.post.author, avatar_url=None)))
    assert [e["type"] for e in next(b.to_dict() for b in case_card(without).blocks if b.block_id == "author")[
        "elements"]] == ["mrkdwn"]
    long_rule = text_of(case_card(view(rule_query="acme " * 40, rule_id=4)), "author")
    assert "rule #4 `" + ("acme " * 12)[:60] + "…`" in long_rule
    assert "rule removed · case #7" in text_of(case_card(view(rule_id=None)), "author")


def test_triage_line_shows_priority_sentiment_and_tags():
    card = case_card(view(priority="high", sentiment=-0.72, tags=("billing", "refund")))
    assert text_of(card, "status").endswith(" · 🔥 *High priority* · 😠 negative (-0.72) · `#billing` `#refund`")
    assert "priority" not in text_of(case_card(view()), "status")  # normal: nothing to say
    assert text_of(case_card(view(priority="low")), "status").endswith(" · Low priority")


def test_triage_line_shows_when_the_first_reply_is_due_while_nobody_has_answered():
    due = datetime(2026, 11, 27, 16, 5, tzinfo=UTC)
    line = lambda v: text_of(case_card(v), "status")  # noqa: E731
    assert line(view(sla_due=due, priority="high")) == (
        f"🆕 *New* · opened {ago(WHEN)} · "
        f"⏱ reply due <!date^{int(due.timestamp())}^{{date_short_pretty}} {{time}}|2026-11-27 16:05 UTC> · 🔥 *High priority*")
    assert "⏱" not in line(view(sla_due=due, status=CaseStatus.REPLIED, first_response_at=WHEN))
    assert "⏱" not in line(view(sla_due=due, status=CaseStatus.RESOLVED))
    assert "⏱" not in line(view())  # no SLA policy


@pytest.mark.parametrize("hostile", ["<!channel> refund now", "<!here|here>", "<@U0ADMIN> look", "<https://evil.example|bank>", "a & b > c"])
def test_hostile_post_text_shows_literally_and_pings_nobody(hostile):
    card = case_card(view(text=hostile))
    rendered = str([b.to_dict() for b in card.blocks]) + card.text
    assert "<!" not in rendered.replace("<!date^", "")
    assert "<@U0ADMIN>" not in rendered
    assert "<https://evil" not in rendered
    assert text_of(card, "post") == hostile.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def test_hostile_author_name_is_escaped():
    v = view()
    author = replace(v.post.author, name="<!channel> Evil & Co")
    card = case_card(replace(v, post=replace(v.post, author=author)))
    assert "&lt;!channel&gt; Evil &amp; Co" in text_of(card, "author")


def test_long_post_is_cut_to_block_kit_limits_with_a_link_to_the_rest():
    long_text = ("Ärger & <Frust> 😡 " * 2000)[:25_000]  # X allows 25,000 characters
    card = case_card(view(text=long_text))
    section = text_of(card, "post")
    assert len(section) <= SECTION_TEXT_LIMIT
    assert section.endswith("|read the whole post on X>")
    assert "&am…" not in section and "&l…" not in section  # never a cut inside an entity
    assert len(card.text) <= 300
    for block in card.blocks:
        block.validate_json()  # slack_sdk's own Block Kit limit checks


def test_empty_post_shows_a_placeholder():
    assert text_of(case_card(view(text="")), "post") == "_(no text)_"


def test_metadata_carries_the_case_id():
    metadata = case_card(view()).metadata.to_dict()
    assert metadata == {"event_type": ids.CASE_METADATA_TYPE, "event_payload": {"case_id": 7}}


def test_a_post_edited_at_the_source_says_so_and_a_removed_one_does_not():
    def rule_text(card) -> str:
        return text_of(card, "author")

    edited = WHEN.replace(hour=15)
    assert "edited" not in rule_text(case_card(view()))
    assert f"edited <!date^{int(edited.timestamp())}^" in rule_text(case_card(view(post_edited_at=edited)))
    removed = case_card(view(post_edited_at=edited, post_removed="deleted"))
    assert "edited" not in rule_text(removed)


SPAM = "Acme fans!! Get a FREE phone today https://free-phones.example/claim 100% legit"
SPAM_REASONS = ("giveaway words: free, claim, 100% legit", "1 link in 9 words", "account 3 days old with 2 followers")


def test_triaged_card_snapshot():
    """Intent instead of the raw sentiment badge, the tags, the detected language, where a route took it."""
    v = view(priority="high", sentiment=0.36, intent="complaint", tags=("screen", "repair"),
             routed_from="C0CARE", routed_because="intent complaint")
    card = case_card(replace(v, post=replace(v.post, lang="es"), lang_detected=True))
    assert_snapshot({"text": card.text, "blocks": [b.to_dict() for b in card.blocks]}, SNAPSHOTS / "card_triaged.json")


def test_the_intent_replaces_the_sentiment_badge_and_the_number_stays_small():
    line = lambda v: text_of(case_card(v), "status").removeprefix(f"🆕 *New* · opened {ago(WHEN)} · ")  # noqa: E731
    assert line(view(intent="complaint", sentiment=0.36)) == "😠 *complaint* _(sentiment +0.36)_"
    assert line(view(intent="question")) == "❓ *question*"
    assert line(view(intent="praise", sentiment=0.9, tags=("repair",))) == "🙌 *praise* _(sentiment +0.90)_ · `#repair`"
    assert line(view(intent="other")) == "💬 *other*"
    assert "positive" not in line(view(intent="complaint", sentiment=0.36))
    assert line(view(sentiment=-0.72)) == "😠 negative (-0.72)"  # opened before intents were read


def test_the_language_shows_only_when_it_was_guessed():
    v = view(intent="question")
    spanish = replace(v, post=replace(v.post, lang="es"))
    assert "lang: es (detected)" in text_of(case_card(replace(spanish, lang_detected=True)), "status")
    assert "lang:" not in str([b.to_dict() for b in case_card(spanish).blocks])


def test_a_routed_case_says_where_from_and_why():
    meta = lambda v: text_of(case_card(v), "author")  # noqa: E731
    assert meta(view(routed_from="C0CARE", routed_because="intent question")).endswith(
        "`acme (broken OR cracked) -is:retweet` · ↪️ routed from <#C0CARE>: question · case #7")
    assert meta(view(routed_from="C0CARE", routed_because="tag refund")).endswith(
        "routed from <#C0CARE>: `#refund` · case #7")
    assert "routed" not in meta(view())


def test_likely_spam_on_an_open_case_shows_its_reasons():
    card = case_card(view(text=SPAM, intent="other", spam_score=0.85, spam_reasons=SPAM_REASONS, likely_spam=True))
    [spam] = [b.to_dict() for b in card.blocks if b.block_id == "spam"]
    assert spam["elements"][0]["text"] == ("⚠️ *likely spam*: giveaway words: free, claim, 100% legit · "
                                            "1 link in 9 words · account 3 days old with 2 followers")
    assert button_ids(card)[0] == ids.CLAIM  # still a normal case: the rule does not ignore spam
    assert not [b for b in case_card(view(spam_score=0.2, spam_reasons=("1 link in 3 words",))).blocks
                if b.block_id == "spam"]


def test_filed_as_spam_card_snapshot():
    """Collapsed: the opening of the post, why it looks like spam, and "Not spam" first."""
    card = case_card(view(text=SPAM * 3, status=CaseStatus.IGNORED, ignored_reason="likely_spam", intent="other",
                          spam_score=0.85, spam_reasons=SPAM_REASONS, likely_spam=True,
                          last_action="filed automatically", updated_at=WHEN))
    assert_snapshot({"text": card.text, "blocks": [b.to_dict() for b in card.blocks]},
                    SNAPSHOTS / "card_filed_as_spam.json")
    assert button_ids(card) == [ids.NOT_SPAM, ids.NOTE, ids.MENU]
    assert [b.block_id for b in card.blocks] == ["status", "author", "post", "spam", "actions"]
    assert text_of(card, "status") == f"🚫 *Ignored* as likely spam · filed automatically {ago(WHEN)}"
    for block in card.blocks:
        block.validate_json()
    # Ignored by an agent for another reason: the usual card, with Reopen.
    assert button_ids(case_card(view(status=CaseStatus.IGNORED, ignored_reason="spam")))[0] == ids.REOPEN


def block_text(card, block_id: str) -> str:
    return next(b for b in card.blocks if b.block_id == block_id).to_dict()["elements"][0]["text"]


def test_a_reopened_case_shows_its_reply_due_again_though_it_was_answered_before():
    due = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)  # the store times it from the reopening (store.cases)
    card = case_card(view(status=CaseStatus.REOPENED, sla_due=due, first_response_at=WHEN))
    assert "⏱ reply due" in block_text(card, "status")
    assert button_ids(card)[0] == ids.CLAIM


def test_a_resolved_card_says_how_and_a_duplicated_one_lists_its_duplicates():
    resolved = lambda **kw: block_text(case_card(view(status=CaseStatus.RESOLVED, **kw)), "status")  # noqa: E731
    assert resolved(outcome="no_reply_needed").startswith("✅ *Resolved* · no reply needed")
    assert resolved(outcome="duplicate", duplicate_of=3).startswith("✅ *Resolved* · duplicate of case #3")
    assert resolved().startswith("✅ *Resolved*") and " · " not in resolved()  # resolved before outcomes
    assert "🔗 Duplicates: case #8, case #9" in block_text(case_card(view(duplicates=(8, 9))), "status")
    assert "🔗 Duplicate: case #8" in block_text(case_card(view(duplicates=(8,))), "status")
