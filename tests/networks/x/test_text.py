"""X's weighted length. Cases marked "conformance" are from twitter/twitter-text,
conformance/validate.yml, WeightedTweetsWithDiscountedEmojiCounterTest (the v3 config
with emoji parsing that X uses) and conformance/extract.yml (URL extraction)."""

import unicodedata

import pytest

from socialdesk.networks.x.fake import data as fake_x_data
from socialdesk.networks.x.text import MAX_WEIGHTED_LENGTH, fits, remaining, weighted_length

FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466"  # 👨‍👩‍👧‍👦
ENGLAND = "\U0001f3f4\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f"


def test_limit_is_280():
    assert MAX_WEIGHTED_LENGTH == 280


def test_plain_ascii_at_and_over_the_limit():
    assert weighted_length("a" * 280) == 280 and fits("a" * 280) and remaining("a" * 280) == 0
    assert weighted_length("a" * 281) == 281 and not fits("a" * 281) and remaining("a" * 281) == -1


def test_empty_text_fits():
    assert weighted_length("") == 0 and fits("") and remaining("") == 280


@pytest.mark.parametrize("url", [
    "https://t.co/abc",
    "http://test.co",
    "https://acme.com/help/articles/12345-how-do-i-reset-my-password?utm_source=x&ref=support",
    "https://www.acme.com/" + "a" * 500,
    "acme.com",
    "acme.com/help",
    "www.acme.co.uk/help",
    "https://en.wikipedia.org/wiki/Acme_(company)",
    "https://acme.engineering/status",  # an uncommon TLD is fine after https://
    "https://twitter.한국",  # conformance (tld_lib): IDN TLD
])
def test_a_link_counts_23_whatever_its_length(url):
    assert weighted_length(url) == 23
    assert weighted_length(f"See {url} now") == 4 + 23 + 4


def test_several_links():
    text = "a https://acme.com/x b acme.com/help c https://status.acme.io/incidents/42"
    assert weighted_length(text) == 3 * 23 + len("a  b  c ")


def test_ten_links_conformance():
    text = "https://www.twitter.com/aloha " * 10
    assert weighted_length(text) == 240


@pytest.mark.parametrize(("text", "expected"), [
    ("Hi http://test.co", 26),  # conformance
    ("Write to bob@acme.com", 21),  # an email's domain is not a link
    ("Call (https://acme.com/help).", 6 + 23 + 2),  # the closing paren and dot are prose
    ("see https://acme.com/faq.", 4 + 23 + 1),
    ("acme.com?ref=x", 23 + 6),  # without a path, a bare domain's query is text
    ("acme.com/x?ref=x", 23),
    ("http://t.co/abc/def", 23 + 4),  # a t.co link ends at its slug
    ("foo.comm foo.baz", 16),  # conformance (extract.yml): no such TLDs
    ("john.doe.jp@mail.com", 20),  # conformance (extract.yml)
    # conformance (extract.yml): an xn-- label must be ASCII
    ("http://xn--はじめよう.com/index.html", 11 + 10 + 15),
    ("e.g. v1.2 is out", 16),
    ("http://localhost:8000/status", 28),  # no TLD, no link
    ("-acme.com", 9),  # a bare domain must start a word
    ("https://acme.com日本.comtest", 23 + 4 + 8),  # conformance (extract.yml): a known TLD wins
])
def test_link_edges(text, expected):
    assert weighted_length(text) == expected


def test_long_domain_label_is_not_a_link_conformance():
    text = "randomurlrandomurlrandomurlrandomurlrandomurlrandomurlrandomurls.com"  # a 64-char label
    assert weighted_length(text) == 68


@pytest.mark.parametrize(("host_chars", "expected"), [(53, 358), (52, 264)])
def test_idn_host_label_limit_is_measured_in_punycode_conformance(host_chars, expected):
    kana = "あいうえおかきくけこ"
    text = kana * 12 + " http://" + (kana * 6)[:host_chars] + ".com"
    assert weighted_length(text) == expected


def test_cjk_counts_two():
    assert weighted_length("故") == 2
    assert weighted_length("中" * 140) == 280 and fits("中" * 140)
    assert weighted_length("中" * 141) == 282 and not fits("中" * 141)
    assert weighted_length("Hello こんにちは") == 6 + 10
    assert weighted_length("안녕하세요") == 10


def test_cjk_conformance():
    poem = ("故人西辞黄鹤楼，烟花三月下扬州。孤帆远影碧空尽，唯见长江天际流。朱雀桥边野草花，"
            "乌衣巷口夕阳斜。旧时王谢堂前燕，飞入寻常百姓家。朝辞白帝彩云间，千里江陵一日还。"
            "两岸猿声啼不住，轻舟已过万重山。泪湿罗巾梦不成，夜深前殿按歌声。红颜未老恩先断，"
            "斜倚薰笼坐到明。独在异乡为异客，每逢佳节倍思亲。遥知兄弟登高处，遍插茱萸少一人。")
    assert len(poem) == 160
    assert weighted_length(poem) == 320
    assert weighted_length("the" + poem) == 323


@pytest.mark.parametrize("emoji", [
    "😡",
    "😍",
    FAMILY,
    "\U0001f1ef\U0001f1f5",  # 🇯🇵
    "👍🏽",
    "1\ufe0f\u20e3",  # 1️⃣
    "1\u20e3",  # conformance: a keycap without VS16
    "#\ufe0f\u20e3",
    "❤\ufe0f",
    "🏳\ufe0f\u200d🌈",
    "👩🏻\u200d❤\ufe0f\u200d💋\u200d👨🏼",  # the longest ZWJ sequence
    ENGLAND,  # a tag sequence
    "©\ufe0f",
])
def test_each_emoji_counts_two(emoji):
    assert weighted_length(emoji) == 2
    assert weighted_length(emoji * 140) == 280 and fits(emoji * 140)
    assert not fits(emoji * 141)


@pytest.mark.parametrize(("text", "expected"), [
    ("H🐱☺" + FAMILY, 7),  # conformance
    ("😷👾😡🔥💩", 10),  # conformance
    ("🙋🏽👨\u200d🎤", 4),  # conformance
    ("Unicode 9.0 emoji: 🤠; 💃; 💃🏾", 29),  # conformance
    ("Unicode 10.0 emoji: 🤪; 🧕; 🧕🏾; " + ENGLAND, 34),  # conformance
    ("😷" * 160, 320),  # conformance
    ("© 2024 Acme®", 12),  # without VS16, © and ® are text of weight 1
    ("\U0001f1ef\U0001f1f5\U0001f1fa\U0001f1f8", 4),  # two flags
    ("👍\u200d", 3),  # a dangling ZWJ is a character of its own
])
def test_emoji_in_text(text, expected):
    assert weighted_length(text) == expected


def test_emoji_after_a_link_still_counts():
    assert weighted_length("https://acme.com/x 😍") == 23 + 1 + 2


def test_nfd_text_is_counted_after_nfc():
    nfd = unicodedata.normalize("NFD", "é")
    assert len(nfd) == 2 and weighted_length(nfd) == 1
    assert fits(nfd * 280) and not fits(nfd * 281)
    jamo = unicodedata.normalize("NFD", "한")  # three heavy jamo become one syllable
    assert len(jamo) == 3 and weighted_length(jamo) == 2


def test_normalized_character_conformance():
    text = "282 chars-" + "xxxxxxxxxx-" * 24 + "xxxxx\u0041\u0301x"
    assert weighted_length(text) == 281


def test_general_punctuation_ranges():
    assert weighted_length("\u2018quoted\u2019 \u201cquoted\u201d \u2013 \u2014") == 21
    assert weighted_length("\u2032\u2033\u2037") == 3  # primes
    assert weighted_length("\u2026") == 2  # the ellipsis is outside the light ranges
    assert weighted_length("\u2020") == 2  # dagger: U+2020 is just past U+201F
    assert weighted_length("\u200b\u200c\u200d") == 3  # zero-width characters weigh 1
    assert weighted_length("\u2022") == 2  # bullet


def test_general_punctuation_conformance():
    text = ("This is a tweet with general punctuation characters: "
            "\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u200b"
            " ‐ ‑ ‒ – — ― ‖  ‗ ‘ ’ ‚ ‛ “ ” „ ‟ ′ ″ ‴ ‵ ‶ ‷")
    assert weighted_length(text) == 110


def test_directional_marks_conformance():
    pakistan = "\u067e\u0627\u06a9\u0633\u062a\u0627\u0646"  # an IDN TLD
    assert weighted_length(f"\u2066\u202ahttp://foobar.{pakistan}/\u202c\u2069") == 31


def test_other_scripts():
    assert weighted_length("Привет мир") == 10  # Cyrillic is below U+10FF
    assert weighted_length("مرحبا") == 5
    assert weighted_length("नमस्ते") == 6
    assert weighted_length("ሰላም") == 6  # Ethiopic is above U+10FF


def test_mixed_reply():
    text = "Hi @alex_k \u2014 sorry! 😞 Please DM us or see acme.com/help \u201cRefunds\u201d 返金"
    expected = len("Hi @alex_k ") + 1 + len(" sorry! ") + 2 + len(" Please DM us or see ") + 23 + \
        len(" \u201cRefunds\u201d ") + 4
    assert weighted_length(text) == expected


def test_long_mixed_text_at_the_boundary():
    text = "x" * 253 + " https://acme.com/" + "y" * 300 + " 😡"
    assert weighted_length(text) == 253 + 1 + 23 + 1 + 2 == 280
    assert fits(text) and not fits(text + "!")


@pytest.mark.parametrize("text", [
    "a." * 12500, "中" * 25000, "http://" * 3500, "http://" + "中" * 25000 + ".com",
    "a.com/" + "(" * 12000, "\ud83d", "👨\u200d" * 5000, "\ufffe\ufeff\uffff",
])
def test_hostile_input_is_counted(text):
    assert weighted_length(text) > 0


def test_fake_x_uses_the_same_count():
    for text in ["a" * 281, "中" * 141, FAMILY * 140, "acme.com/help " * 12]:
        assert fake_x_data.weighted_length(text) == weighted_length(text)
