"""Answers at hand (store.suggestions) on SQLite and PostgreSQL: the FAQ entries and answered cases
that share a case's words, best first; the answer a "Use this" names; the thread a draft is grounded on."""

from __future__ import annotations

import dataclasses
import itertools
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from socialdesk.store import curated, ingest, lifecycle, suggestions
from socialdesk.store.db import read_scope, session_scope
from socialdesk.store.models import PostRow, ReplyRow
from tests.support.factories import x_post

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
_keys = itertools.count(1)

CHARGE = "@acmephones my acme phone will not charge since the update"
CHARGE_ANSWER = "Hold the power button for 30 s, then charge it with the cable from the box."
SCREEN = "@acmephones the screen cracked like a spiderweb, is that covered by the warranty?"
SCREEN_ANSWER = "A cracked screen is covered for a year: book a repair at acme.example/repair."


def new_case(engine, text: str, handle: str = "dana") -> int:
    with session_scope(engine) as session:
        [case_id] = ingest.store_posts(session=session, posts=[x_post(text, handle=handle)], rule_id=None,
                                       channel_id="C1", now=NOW)
    return case_id


def reply(engine, case_id: int, text: str, status: str = "sent", minutes: int = 5) -> None:
    with session_scope(engine) as session:
        session.add(ReplyRow(case_id=case_id, key=f"k{next(_keys)}", agent="UALICE", text=text, status=status,
                             created_at=NOW + timedelta(minutes=minutes),
                             sent_at=NOW + timedelta(minutes=minutes) if status in ("sent", "marked") else None))


def resolve(engine, case_id: int) -> None:
    with session_scope(engine) as session:
        assert lifecycle.resolve(session=session, case_id=case_id, user_id="UALICE", now=NOW).ok


def answered(engine, text: str, answer: str, handle: str = "dana") -> int:
    """A resolved case whose reply went out."""
    case_id = new_case(engine, text, handle)
    reply(engine, case_id, f"@{handle} {answer}")
    resolve(engine, case_id)
    return case_id


def save_faq(engine, case_id: int, question: str, answer: str) -> int:
    with session_scope(engine) as session:
        return curated.save_entry(session=session, case_id=case_id, question=question, answer=answer, notes="",
                                  tags=[], actor="UALICE", now=NOW).id


def reply_to(parent, text: str, handle: str, minutes: int):
    return dataclasses.replace(x_post(text, handle=handle), conversation_id=parent.conversation_id,
                               in_reply_to_id=parent.external_id, is_reply=True,
                               created_at=parent.created_at + timedelta(minutes=minutes))


def suggest(engine, case_id: int, text: str, **kw) -> list[suggestions.Suggestion]:
    with read_scope(engine) as session:
        return suggestions.suggest(session=session, case_id=case_id, post_text=text, **kw)


def test_the_words_of_a_post_leave_out_mentions_links_and_common_words():
    assert suggestions.words("@acmephones Hi! My phone won't charge https://t.co/x1 since the UPDATE, please help #fail") \
        == ["phone", "won", "charge", "since", "update", "fail"]
    assert suggestions.words("the a of it") == []
    assert suggestions.words("充電できない") == ["充電できない"]  # one run of CJK is one word, as the index keeps it


def test_an_answered_case_and_a_faq_entry_are_offered_for_posts_like_theirs(engine):
    charge = answered(engine, CHARGE, CHARGE_ANSWER)
    screen = answered(engine, SCREEN, "Sorry! DM us your order number.", handle="sam")
    entry = save_faq(engine, screen, "Is a cracked screen covered by the warranty?", SCREEN_ANSWER)
    answered(engine, "@acmephones love the new camera", "Thank you, enjoy it!", handle="lee")

    asking = new_case(engine, "@acmephones phone will not charge after the update :(", handle="kim")
    [first, *rest] = suggest(engine, asking, "@acmephones phone will not charge after the update :(")
    assert (first.source, first.ref, first.case_id, first.answer, first.question) == (
        "case", charge, charge, CHARGE_ANSWER, None)  # the leading "@dana" of the reply is not part of the answer
    assert first.key == f"case:{charge}"
    assert all(s.case_id != asking for s in rest)

    cracked = suggest(engine, asking, "my screen cracked, does the warranty cover it?")
    assert (cracked[0].source, cracked[0].ref, cracked[0].answer) == ("faq", entry, SCREEN_ANSWER)
    assert cracked[0].question == "Is a cracked screen covered by the warranty?"
    assert suggest(engine, asking, "what a lovely sunset") == []
    assert suggest(engine, asking, "@acmephones the a of") == []  # nothing telling to search for


def test_only_answers_worth_reusing_are_offered(engine):
    text = "@acmephones my wifi keeps disconnecting"
    open_case = new_case(engine, text)
    reply(engine, open_case, "Restart the router.")  # not resolved: the answer may not have worked
    marked = new_case(engine, text, handle="sam")
    reply(engine, marked, "", status="marked")  # sent from the network's own composer: no text to reuse
    resolve(engine, marked)
    failed = new_case(engine, text, handle="lee")
    reply(engine, failed, "Forget the network and join again.", status="failed")
    resolve(engine, failed)
    withdrawn = new_case(engine, text, handle="kim")
    resolve(engine, withdrawn)
    with session_scope(engine) as session:
        entry = curated.save_entry(session=session, case_id=withdrawn, question="Wifi drops?", answer="Old advice.",
                                   notes="", tags=[], actor="UALICE", now=NOW)
        curated.withdraw_entry(session=session, entry_id=entry.id, actor="UALICE", now=NOW)
    assert suggest(engine, new_case(engine, text, handle="max"), text) == []

    # A case reopened after its FAQ entry was saved keeps offering it (the entry was curated on purpose).
    entry_id = save_faq(engine, withdrawn, "Wifi drops after the update?", "Turn off wifi power saving.")
    with session_scope(engine) as session:
        lifecycle.reopen(session=session, case_id=withdrawn, user_id="UALICE", now=NOW)
    assert [s.key for s in suggest(engine, open_case, text)] == [f"faq:{entry_id}"]
    assert suggest(engine, withdrawn, text) == []  # never the case itself


def test_the_same_saved_answer_is_offered_once_and_a_faq_ranks_first(engine):
    text = "@acmephones the battery drains overnight"
    same = [answered(engine, text, "Turn on adaptive battery in Settings.", handle=h) for h in ("a1", "a2", "a3")]
    other = answered(engine, text + " even when off", "Send it to us for a battery check.", handle="b1")
    faq_case = answered(engine, text + " again", "DM us.", handle="c1")  # matches about as well as the others
    entry = save_faq(engine, faq_case, "Why does my battery drain?", "Calibrate it: charge to 100%, then drain.")
    found = suggest(engine, new_case(engine, text, handle="z"), text, limit=5)
    assert found[0].key == f"faq:{entry}"
    assert [s.answer for s in found].count("Turn on adaptive battery in Settings.") == 1
    assert {s.case_id for s in found} <= {*same, other, faq_case}
    assert len(suggest(engine, faq_case, text, limit=1)) == 1


@pytest.mark.parametrize("hostile", ['" OR 1=1 --', "NEAR(charge update)", "charge* OR ^update", "it's O'Reilly's \\",
                                     "update & !charge | (phone)", "<-> :* 'charge'"])
def test_search_syntax_in_a_post_is_only_words(engine, hostile):
    charge = answered(engine, CHARGE, CHARGE_ANSWER)
    asking = new_case(engine, "x", handle="kim")
    found = suggest(engine, asking, hostile)
    assert all(s.case_id == charge for s in found)  # no error; at most the case sharing a word


def test_a_use_this_button_names_an_answer_as_it_is_now(engine):
    charge = answered(engine, CHARGE, "First try a restart.")
    reply(engine, charge, "@dana " + CHARGE_ANSWER, minutes=30)  # the last reply sent is the answer
    entry = save_faq(engine, charge, "Won't charge?", CHARGE_ANSWER)
    with read_scope(engine) as session:
        by_case = suggestions.answer_for(session=session, key=f"case:{charge}")
        by_faq = suggestions.answer_for(session=session, key=f"faq:{entry}")
        assert (by_case.answer, by_case.case_id) == (CHARGE_ANSWER, charge)
        assert (by_faq.answer, by_faq.question, by_faq.case_id) == (CHARGE_ANSWER, "Won't charge?", charge)
        for forged in ("faq:999999", "case:999999", "faq:", "case:-1", "faq:1 OR 1=1", "nope:1", "",
                       "faq:99999999999", "case:٣"):
            assert suggestions.answer_for(session=session, key=forged) is None, forged
    with session_scope(engine) as session:
        curated.withdraw_entry(session=session, entry_id=entry, actor="UBOB", now=NOW)
    with read_scope(engine) as session:
        assert suggestions.answer_for(session=session, key=f"faq:{entry}") is None


def test_the_thread_is_the_conversation_in_order_without_removed_posts(engine):
    first = x_post(CHARGE, handle="dana")
    with session_scope(engine) as session:
        stored = ingest.store_page(session=session, posts=[first], rule_id=None, channel_id="C1", now=NOW,
                                   own_handles=frozenset({"acmephones"}))
    [case_id] = stored.new_case_ids
    later = [reply_to(first, "@acmephones still nothing", "dana", 10), reply_to(first, "@dana same here", "sam", 11),
             reply_to(first, "@acmephones my address is 1 Main St", "dana", 12)]
    with session_scope(engine) as session:
        ingest.store_page(session=session, posts=later, rule_id=None, channel_id="C1", now=NOW,
                          own_handles=frozenset({"acmephones"}))
        session.execute(update(PostRow).where(PostRow.external_id == later[2].external_id)
                        .values(removed_at=NOW, removed_reason="deleted"))
        # Someone else's post in the case (as one answering our reply joins it).
        session.execute(update(PostRow).where(PostRow.external_id == later[1].external_id).values(case_id=case_id))
    with session_scope(engine) as session:
        lifecycle.add_note(session=session, case_id=case_id, user_id="UBOB", text="VIP customer", now=NOW + timedelta(hours=1))
    reply(engine, case_id, "@dana Sorry! Try a restart.", minutes=90)
    reply(engine, case_id, "never approved", status="awaiting_approval", minutes=91)
    with read_scope(engine) as session:
        items = suggestions.thread(session=session, case_id=case_id)
        assert [(i.kind, i.who, i.text) for i in items] == [
            ("customer", "dana", CHARGE),
            ("customer", "dana", "@acmephones still nothing"),
            ("other", "sam", "@dana same here"),
            ("note", "UBOB", "VIP customer"),
            ("reply", "UALICE", "@dana Sorry! Try a restart."),
        ]
        assert [i.kind for i in suggestions.thread(session=session, case_id=case_id, limit=2)] == ["note", "reply"]
        assert suggestions.thread(session=session, case_id=424242) == []


def test_the_rule_s_words_are_left_out_and_only_recent_cases_but_every_faq_are_searched(engine):
    old_answer = answered(engine, "@acmephones acme phone battery drains", "Calibrate the battery.", handle="o1")
    old_faq = answered(engine, "@acmephones acme screen flickers", "DM us.", handle="o2")
    entry = save_faq(engine, old_faq, "Screen flickers?", "Lower the refresh rate to 60 Hz.")
    for n in range(3):  # newer cases push the old ones out of a window of 2 documents of each kind
        answered(engine, f"@acmephones acme order {n} late", f"Your order {n} ships today.", handle=f"n{n}")
    asking = new_case(engine, "x", handle="kim")
    # Every post its rule found says "acme": left out, it finds nothing and adds nothing.
    assert len(suggest(engine, asking, "acme")) == 3
    assert suggest(engine, asking, "acme", common="acme OR @acmephones") == []
    assert [s.case_id for s in suggest(engine, asking, "acme battery drains", common="acme")] == [old_answer]
    assert suggest(engine, asking, "acme battery drains", common="acme", recent=2) == []
    assert [s.key for s in suggest(engine, asking, "acme screen flickers", common="acme", recent=2)] == [
        f"faq:{entry}"]
