"""A case filed as likely spam at ingest: its collapsed card, and "Not spam" (listeners.actions),
called in-process against the Slack emulator, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlmodel import select

from socialdesk.jobs.publish import Publisher
from socialdesk.listeners import actions
from socialdesk.slack import ids
from socialdesk.store import ingest, lifecycle
from socialdesk.store.db import read_scope, session_scope
from socialdesk.store.models import CaseEventRow
from socialdesk.triage.triaged import Triaged
from tests.e2e.helpers import block_text, button_ids
from tests.listeners.conftest import SECRET, card_of, case_row, click, event_kinds, publish_cases
from tests.support.factories import x_post
from tests.support.in_process import post as post_to_app
from tests.support.locks import write_locked
from tests.support.slack_signing import block_actions_body, sign
from tests.support.waiting import wait_for

SPAM = "Acme fans!! Get a FREE phone today https://free-phones.example/claim 100% legit"
REASONS = ("giveaway words: free, claim, 100% legit", "1 link in 9 words")


def filed_as_spam(desk, channel: str) -> int:
    """A case the poller filed as likely spam (a rule with ignore_spam), its card posted by the publisher."""
    post = x_post(SPAM, handle="free_phones_4u")
    triaged = Triaged(intent="other", spam_score=0.85, spam_reasons=REASONS, file_as_spam=True)
    with session_scope(desk.engine) as session:
        [case_id] = ingest.store_page(session=session, posts=[post], rule_id=None, channel_id=channel,
                                      now=datetime.now(UTC), scores={post.external_id: triaged}).new_case_ids
    Publisher(engine=desk.engine, slack=desk.slack, clock=lambda: datetime.now(UTC), post_interval=0).run_once()
    return case_id


def reopen_payload(deps, case_id: int) -> dict:
    with read_scope(deps.engine) as session:
        return session.exec(select(CaseEventRow.payload).where(CaseEventRow.case_id == case_id,
                                                               CaseEventRow.kind == "reopened")).one()


def test_a_card_filed_as_spam_is_collapsed_and_not_spam_opens_it_as_new(desk, deps, slack_emulator, channel):
    case_id = filed_as_spam(desk, channel)
    card = card_of(slack_emulator, channel, case_id)
    assert [b["block_id"] for b in card["blocks"]] == ["status", "author", "post", "spam", "actions"]
    assert block_text(card, "spam") == "⚠️ *likely spam*: giveaway words: free, claim, 100% legit · 1 link in 9 words"
    assert block_text(card, "status").startswith("🚫 *Ignored* as likely spam")
    assert button_ids(card) == [ids.NOT_SPAM, ids.NOTE, ids.MENU]

    alice = slack_emulator.users["alice"]
    actions.not_spam_clicked(click(slack_emulator, user="alice", channel=channel, card=card, action_id=ids.NOT_SPAM,
                                   value=str(case_id)), desk.slack, deps=deps)

    case = case_row(deps, case_id)
    assert (case.status, case.ignored_reason, case.spam_score, case.spam_reasons) == ("new", None, None, None)
    assert event_kinds(deps, case_id) == [("opened", "system"), ("ignored", "system"), ("card_posted", "system"),
                                          ("reopened", alice)]
    assert reopen_payload(deps, case_id) == {"not_spam": True, "spam_score": 0.85, "spam_reasons": list(REASONS)}
    redrawn = card_of(slack_emulator, channel, case_id)
    assert button_ids(redrawn)[0] == ids.CLAIM and "spam" not in [b["block_id"] for b in redrawn["blocks"]]
    assert block_text(redrawn, "post") == SPAM and "marked not spam by" in block_text(redrawn, "status")
    thread = slack_emulator.replies(channel, card["ts"])[1:]
    assert [m["text"] for m in thread] == [f"✅ <@{alice}> marked this case not spam: it is open again, waiting for "
                                           "a claim."]


def test_a_second_not_spam_click_changes_nothing_and_says_why(desk, deps, slack_emulator, channel):
    case_id = filed_as_spam(desk, channel)
    body = click(slack_emulator, user="alice", channel=channel, card=card_of(slack_emulator, channel, case_id),
                 action_id=ids.NOT_SPAM, value=str(case_id))
    actions.not_spam_clicked(body, desk.slack, deps=deps)
    actions.not_spam_clicked(body, desk.slack, deps=deps)  # the stale card, clicked again
    assert [k for k, _ in event_kinds(deps, case_id)].count("reopened") == 1
    assert (f"Case #{case_id} is waiting for someone to claim it already: it is not filed as spam any more. "
            "The card shows it as it is now.") in slack_emulator.ephemeral_texts(channel)


def test_not_spam_on_a_case_an_agent_ignored_does_nothing_and_points_at_reopen(desk, deps, slack_emulator, channel):
    [case_id] = publish_cases(desk, channel, ["acme giveaway, is it real?"])
    with session_scope(desk.engine) as session:
        lifecycle.ignore(session=session, case_id=case_id, user_id="U0BOB", reason="spam", now=datetime.now(UTC))
    actions.not_spam_clicked(click(slack_emulator, user="alice", channel=channel,
                                   card=card_of(slack_emulator, channel, case_id), action_id=ids.NOT_SPAM,
                                   value=str(case_id)), desk.slack, deps=deps)
    assert case_row(deps, case_id).status == "ignored"
    assert any("Use *Reopen* on its card" in t for t in slack_emulator.ephemeral_texts(channel))


def test_not_spam_is_acked_before_its_work(desk, slack_emulator, channel):
    """Through the app's entry, with the cases table locked: Slack gets its answer first."""
    case_id = filed_as_spam(desk, channel)
    card = card_of(slack_emulator, channel, case_id)
    body = block_actions_body(user_id=slack_emulator.users["alice"], user_name="alice", team_id=slack_emulator.team_id,
                              channel_id=channel, message_ts=card["ts"], action_id=ids.NOT_SPAM, value=str(case_id),
                              trigger_id=slack_emulator.trigger_id("alice"), message=card)

    def status() -> str:
        return case_row(desk, case_id).status

    with write_locked(desk.engine, "cases"):
        answer = post_to_app(desk, body, sign(body, SECRET))
        assert (answer.status, answer.body) == (200, b"")
        assert status() == "ignored"
    wait_for(lambda: status() == "new", timeout=30, what="not spam applied after the lock")

