"""html_to_text on markup no server should send, and does: it never raises (socialdesk.networks.mastodon.content)."""

from __future__ import annotations

import random

import pytest

from socialdesk.networks.mastodon.content import html_to_text

# What QA's fuzzing found: markup BeautifulSoup rejects (ParserRejectedMarkup), lone surrogates.
BROKEN = '<p><a href="https://other.example/tags/acmephones" class="hashtag">#acmephones</a> is <![ broken</p>'


def test_markup_the_parser_rejects_reads_as_its_text_with_the_tags_stripped() -> None:
    assert html_to_text(BROKEN) == "#acmephones is <![ broken"
    assert html_to_text("<p>refund &amp; <b>help</b> <![ x</p><p>\x00next</p>") == "refund & help <![ x next"


@pytest.mark.parametrize(("html", "expected"), [
    ("\udfff", "\ufffd"),
    ("<p>a \ud800 b</p>", "a \ufffd b"),
    ('<a href="https://acme.example/\udc80">acme</a>', "acme (https://acme.example/\ufffd)"),
    ("<p>x <![ \ud83d</p>", "x <![ \ufffd"),
])
def test_lone_surrogates_read_as_the_replacement_character(html: str, expected: str) -> None:
    text = html_to_text(html)
    assert text == expected
    text.encode("utf-8")  # what the database and Slack are given must encode


_PIECES = ["<p>", "</p>", "<![", "<!", "<![CDATA[", "]]>", "<!--", "-->", "<?", "<a href=\"", "\">", "</a>",
           "<br>", "&", "&#", "&#x", ";", "&amp", "<", ">", "\"", "'", "=", "\udcff", "\ud800", "\x00", "\x7f",
           "#acme", "@ann", "<script>", "</script>", "<svg>", "<pre>", "</pre>", "<li>", "word", " ", "\n", "€"]


def test_random_fragments_of_markup_never_raise() -> None:
    rng = random.Random(20261202)  # fixed: a failure here is reproducible
    for _ in range(3_000):
        html = "".join(rng.choice(_PIECES) for _ in range(rng.randint(1, 25)))
        text = html_to_text(html)
        assert isinstance(text, str)
        text.encode("utf-8")
