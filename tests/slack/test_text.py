"""Untrusted text into mrkdwn (slack.text)."""

from __future__ import annotations

from socialdesk.slack.text import ECHO_CHARS, echoed, escape, escape_within


def test_escape_shows_control_sequences_as_text_and_drops_control_and_bidi_characters():
    assert escape("<!channel> & <@U1>") == "&lt;!channel&gt; &amp; &lt;@U1&gt;"
    assert escape("a\x1b[31mb\x07\u202eevil\u202c\u2066x\u2069") == "a[31mbevilx"
    assert escape("line one\n\tline two · שלום · مرحبا") == "line one\n\tline two · שלום · مرحبا"  # RTL letters stay


def test_escape_within_counts_what_it_keeps():
    assert escape_within("\x00<<", 4) == ("&lt;", True)
    assert escape_within("\u202eab", 2) == ("ab", False)


def test_echoed_quotes_what_was_typed_as_repr_does_and_cuts_it():
    assert echoed("daily 9am") == repr("daily 9am") == "'daily 9am'"
    assert echoed("it's") == '"it\'s"'
    assert echoed("a" * 5000) == repr("a" * (ECHO_CHARS - 1) + "…")
    assert echoed("a" * 5000, 100) == repr("a" * 99 + "…")
