"""The reply modal's pure parts (slack.blocks.modals): what a saved reply and "Use this" do to the box's text.

The modal as Slack holds and redraws it is tested through the listeners (tests/listeners/test_composer.py).
"""

from __future__ import annotations

from socialdesk.slack.blocks.modals import with_answer, with_saved

SAVED = "Hi @dana, we're sorry to hear that. Please DM us."


def test_an_untouched_box_takes_the_saved_reply():
    assert with_saved("", SAVED) == SAVED
    assert with_saved("  \n", SAVED) == SAVED


def test_a_network_s_opening_stays_unless_the_saved_reply_names_the_customer():
    # Where replies start with the author's handle ("@dana ", written into the box when it opened).
    assert with_saved("@dana ", SAVED, "@dana ") == SAVED
    assert with_saved("@dana ", "Thanks, that made our day!", "@dana ") == "@dana Thanks, that made our day!"
    # Another handle that merely contains theirs is not naming them.
    assert with_saved("@dan ", SAVED, "@dan ") == "@dan " + SAVED
    assert with_saved("@dan ", "Hi @DAN, sorry!", "@dan ") == "Hi @DAN, sorry!"


def test_a_typed_draft_is_kept_and_the_saved_reply_follows_it():
    assert with_saved("Hi Dana, thanks for the photo.  \n", SAVED) == f"Hi Dana, thanks for the photo.\n\n{SAVED}"
    assert with_saved("@dana I checked your order.", "Thanks!", "@dana ") == "@dana I checked your order.\n\nThanks!"


def test_use_this_fills_an_untouched_box_after_the_opening_and_follows_what_was_typed():
    answer = "Thanks! @dana from billing will email you."  # an answer from another case, to @dana
    assert with_answer("", answer) == answer
    # Customer @dan: the answer's "@dana" is not them, so the opening stays in front.
    assert with_answer("@dan ", answer, "@dan ") == "@dan " + answer
    assert with_answer("  ", answer, "@dan ") == "@dan " + answer
    assert with_answer("@dan So sorry!", answer, "@dan ") == f"@dan So sorry!\n\n{answer}"
    assert with_answer("Hi, so sorry about this! ", "Restart it.") == "Hi, so sorry about this!\n\nRestart it."
