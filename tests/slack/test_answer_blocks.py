"""The answers at hand in the reply modal (slack.blocks.answers): what each suggestion shows."""

from __future__ import annotations

from socialdesk.slack import ids
from socialdesk.slack.blocks.answers import answer_blocks
from socialdesk.store.suggestions import Suggestion

HOSTILE = "<!channel> *Refund* <@U0BOSS> & " + "long words " * 60


def test_untrusted_answers_and_questions_are_escaped_and_cut():
    faq = Suggestion(source="faq", ref=7, case_id=2, answer=HOSTILE.strip(), question="<!here> screen cracked?")
    [heading, block] = [b.to_dict() for b in answer_blocks([faq])]
    assert heading["block_id"] == ids.ANSWERS_BLOCK
    text = block["text"]["text"]
    assert text.startswith("*📖 FAQ: &lt;!here&gt; screen cracked?*\n&lt;!channel&gt; *Refund* &lt;@U0BOSS&gt; &amp; ")
    assert "<!" not in text and "<@" not in text and text.endswith("…") and len(text) < 400
    assert block["accessory"]["value"] == "faq:7" and block["accessory"]["action_id"] == ids.USE_ANSWER


def test_no_suggestions_draw_nothing():
    assert answer_blocks([]) == []
