"""The rule query language (parse, describe, matches) and the RuleIndex's equivalence."""

from __future__ import annotations

import random
import re
from dataclasses import FrozenInstanceError
from datetime import UTC, datetime

import pytest

from socialdesk.domain import Author, Post
from socialdesk.matcher import (
    QUERY_LANGUAGE_HELP,
    And,
    FromAuthor,
    Hashtag,
    Lang,
    MatchTarget,
    Mention,
    Not,
    Or,
    Phrase,
    Query,
    QueryInvalid,
    RuleIndex,
    Unspaced,
    Word,
    describe,
    parse,
    target_of,
)


def hit(query: str, text: str, *, lang: str | None = None, author: str | None = None) -> bool:
    return parse(query).matches(MatchTarget.of(text, lang=lang, author_handle=author))


# --- words ---------------------------------------------------------------------------


def test_all_words_must_appear_in_any_order() -> None:
    assert hit("acme battery", "my battery on the Acme is dead")
    assert not hit("acme battery", "my Acme is dead")


@pytest.mark.parametrize("text", ["phone!", "(phone)", "phone's dead", "phone’s dead", "smart-phone",
                                  "«phone»", "phone.", "#phone", "PHONE", "x/phone/y"])
def test_punctuation_separates_words(text: str) -> None:
    assert hit("phone", text)


@pytest.mark.parametrize("text", ["phones", "smartphone", "phoned", "iphone", "telephone"])
def test_only_whole_words_match(text: str) -> None:
    assert not hit("phone", text)


def test_a_query_word_with_punctuation_inside_is_the_phrase_of_its_parts() -> None:
    assert parse("wi-fi").root == Phrase(("wi", "fi"))
    assert hit("wi-fi", "my wi-fi drops") and hit("wi-fi", "my Wi Fi drops")
    assert not hit("wi-fi", "my wifi drops") and not hit("wi-fi", "fi and wi")
    assert hit("don't", "I don't know") and not hit("don't", "don know t")


def test_case_and_width_are_folded() -> None:
    assert hit("Acme", "ACME rocks") and hit("ACME", "acme rocks")
    assert hit("acme", "ＡＣＭＥ rocks")  # full-width letters, via NFKC


def test_german_sharp_s_folds_to_ss() -> None:
    assert hit("STRASSE", "Die Straße ist laut")
    assert hit("straße", "STRASSE gesperrt")
    assert hit("Straße", "strasse")


def test_turkish_dotted_capital_i_is_i_and_dotless_i_stays_distinct() -> None:
    assert hit("istanbul", "İSTANBUL'da mağaza")
    assert hit("İstanbul", "istanbul")
    assert not hit("kirmizi", "kırmızı kılıf")
    assert hit("KIRMIZI", "kirmizi")  # I folds to i, not to ı: folding is not locale-aware


def test_accents_are_significant_but_composed_and_decomposed_forms_agree() -> None:
    assert not hit("cafe", "un café noir")
    assert not hit("café", "a cafe")
    assert hit("café", "un cafe\u0301 noir")  # e + COMBINING ACUTE, as some keyboards send it
    assert hit("CAFÉ", "café")


def test_words_with_combining_marks_stay_whole() -> None:
    assert hit("नमस्ते", "नमस्ते दोस्तों") and not hit("नम", "नमस्ते दोस्तों")


def test_emoji_in_text_are_separators_and_never_match() -> None:
    assert hit("acme", "😡😡acme😡") and hit("acme fail", "acme 📱💥 fail")
    with pytest.raises(QueryInvalid, match="emoji and punctuation are not matched"):
        parse("😡")


def test_urls_in_text_are_words() -> None:
    text = "see https://acme.example/support?q=phone#top and http://x.example:8080/a"
    assert hit("phone", text) and hit("acme.example", text) and hit("https://acme.example/support", text)
    assert not MatchTarget.of(text).hashtags  # "#top" in a URL is not a hashtag
    assert hit("10:30", "open at 10:30 today")  # not an operator


# --- scripts without spaces ----------------------------------------------------------


def test_cjk_terms_match_inside_runs() -> None:
    assert parse("故障").root == Unspaced("故障")
    assert hit("故障", "手机故障了") and not hit("故障", "手机坏了")
    assert hit("スマホ 充電", "Acmeのスマホ、充電が遅すぎる")
    assert hit("acme スマホ", "Acmeのスマホ")


def test_thai_and_korean_match_as_substrings() -> None:
    assert hit("เสีย", "โทรศัพท์เสียแล้ว")
    assert hit("고장", "폰이 고장났어요")


def test_mixed_latin_and_cjk_word_is_a_phrase_that_may_continue_into_the_run() -> None:
    assert hit("acmeのスマホ", "新しいacmeのスマホ")
    assert not hit("acmeのスマホ", "のスマホ acme")


def test_cjk_term_does_not_match_across_runs() -> None:
    assert not hit("故障", "故 障")


# --- phrases, OR, groups, exclusions -------------------------------------------------


def test_phrases_need_the_words_adjacent_and_in_order() -> None:
    assert hit('"battery drain"', "awful Battery drain!")
    assert hit('"battery drain"', "battery, drain")  # punctuation between is not a word
    assert not hit('"battery drain"', "drain battery")
    assert not hit('"battery drain"', "battery fast drain")
    assert not hit('"battery drain"', "batterydrain")


def test_curly_quotes_are_quotes() -> None:
    assert parse("“battery drain”") == parse('"battery drain"')


def test_or_and_precedence() -> None:
    assert parse("a b OR c") == parse("(a b) OR c")
    assert parse("a b OR c") != parse("a (b OR c)")
    assert hit("a b OR c", "c") and hit("a b OR c", "b a") and not hit("a b OR c", "a")
    assert hit("a (b OR c)", "a c") and not hit("a (b OR c)", "c")
    assert hit("acme or", "acme or else")  # lower-case or is a word
    assert not hit("acme or", "acme")


def test_nested_groups() -> None:
    query = "((refund OR return) (acme OR zentrix)) OR #acmefail"
    assert hit(query, "zentrix return please") and hit(query, "#AcmeFail")
    assert not hit(query, "acme zentrix") and not hit(query, "refund return")


def test_exclusions() -> None:
    assert hit("acme -case", "acme phone") and not hit("acme -case", "acme case")
    assert not hit('acme -"free gift"', "acme free gift inside")
    assert hit('acme -"free gift"', "acme gift free")
    assert not hit("acme -(win OR prize)", "win an acme") and hit("acme -(win OR prize)", "acme")
    assert not hit("acme -#ad", "acme #ad") and hit("acme -#ad", "acme ad")


def test_exclusion_inside_a_group() -> None:
    query = "acme (phone -case OR tablet)"
    assert hit(query, "acme phone") and hit(query, "acme tablet case")
    assert not hit(query, "acme phone case")


# --- hashtags, mentions, author, language --------------------------------------------


def test_hashtags() -> None:
    assert hit("#acmefail", "Anyone else? #AcmeFail.")
    assert not hit("#acmefail", "acmefail")  # a hashtag needs the #
    assert hit("acmefail", "#acmefail")  # a word matches inside a hashtag
    assert not hit("#acme", "#acmefail") and not hit("#acme", "c#acme")
    assert MatchTarget.of("#故障 #one_two").hashtags == {"故障", "one_two"}


def test_mentions_with_dots_hyphens_and_servers() -> None:
    assert hit("@acme.example.social", "thanks @Acme.Example.Social.")
    assert hit("@acme-help", "ping @acme-help!") and hit("@help@social.example", "cc @Help@Social.Example")
    assert not hit("@acme", "@acme.example.social")  # handles are compared whole
    assert not hit("@acme.com", "mail bob@acme.com")  # an address, not a mention


def test_from_author() -> None:
    assert hit("from:Acme", "hi", author="@acme") and hit("from:@acme", "hi", author="ACME")
    assert not hit("from:acme", "hi", author="acmehelp") and not hit("from:acme", "hi")
    assert hit("from:help@social.example", "hi", author="help@social.example")
    assert hit("refund -from:acme", "refund", author="bob") and not hit("refund -from:acme", "refund", author="acme")


@pytest.mark.parametrize(("lang", "expected"), [("en", True), ("en-US", True), ("en_GB", True), ("EN", True),
                                                ("eng", False), ("es", False), (None, False), ("", False)])
def test_lang_is_the_language_or_a_variant_of_it(lang: str | None, expected: bool) -> None:
    assert hit("acme lang:en", "acme", lang=lang) is expected


def test_lang_with_a_region() -> None:
    assert hit("lang:pt-BR", "x", lang="pt-br") and not hit("lang:pt-BR", "x", lang="pt-PT")


def test_target_of_a_post_uses_its_text_language_and_author_handle() -> None:
    author = Author(network="bluesky", external_id="did:plc:acme", handle="AcmeHelp.example.social", name="Acme")
    post = Post(network="bluesky", external_id="at://did:plc:acme/post/1", url="https://example.social/p/1",
                author=author, text="Our #Update fixes the BATTERY drain", created_at=datetime(2024, 5, 1, tzinfo=UTC),
                lang="en-US")
    target = target_of(post)
    assert target == MatchTarget.of(post.text, lang="en-US", author_handle="AcmeHelp.example.social")
    assert target.author == "acmehelp.example.social" and target.lang == "en-us"
    assert parse('from:acmehelp.example.social lang:en #update "battery drain"').matches(target)
    assert not parse("lang:es").matches(target)
    assert target_of(Post(network="x", external_id="2", url="", author=author, text="hola",
                          created_at=datetime(2024, 5, 1, tzinfo=UTC))).lang == ""


# --- errors --------------------------------------------------------------------------


@pytest.mark.parametrize(("query", "message"), [
    ("", "the query is empty"),
    ("  ", "the query is empty"),
    ("acme (phone", "the `(` at position 6 is never closed"),
    ("acme -(phone", "the `(` at position 7 is never closed"),
    ("acme phone)", "the `)` at position 11 has no `(`"),
    ("(a) b)", "the `)` at position 6 has no `(`"),
    ('acme "battery', "the quote at position 6 is never closed"),
    ("acme ()", "the parentheses at position 6 are empty"),
    ('acme ""', "the quotes at position 6 hold no words"),
    ("OR acme", "`OR` at position 1 has nothing before it"),
    ("acme OR", "`OR` at position 6 has nothing after it"),
    ("acme OR OR b", "`OR` at position 6 has nothing after it"),
    ("(acme OR) b", "`OR` at position 7 has nothing after it"),
    ("-acme", "the query only excludes"),
    ("-acme -(b OR c)", "the query only excludes"),
    ("acme OR -spam", "a side of the `OR` at position 6 only excludes"),
    ("-spam OR acme", "a side of the `OR` at position 7 only excludes"),
    ("acme - spam", "the `-` at position 6 must be followed directly"),
    ("acme -", "the `-` at position 6 must be followed directly"),
    ("since:2024 acme", "`since:2024` at position 1: `since:` is not an operator here."),
    ("acme form:bob", "`form:` is not an operator here (did you mean from:?)"),
    ("acme language:en", "(did you mean lang:?)"),
    ("acme from:", "from: needs the author's handle"),
    ("acme from:@", "from: needs the author's handle"),
    ("acme lang:english", "lang: needs a language code"),
    ("acme #", "a hashtag is # and then letters"),
    ("acme #a.b", "a hashtag is # and then letters"),
    ("acme @", "a mention is @ and then a handle"),
    ("acme @bob.", "a mention is @ and then a handle"),
    ("acme 😡", "`😡` at position 6 has no letters or digits"),
    ("(" * 40 + "a" + ")" * 40, "nest more than 32 deep"),
])
def test_errors_say_where_and_what_to_do(query: str, message: str) -> None:
    with pytest.raises(QueryInvalid) as caught:
        parse(query)
    assert message in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_the_length_limit_is_the_callers() -> None:
    parse("a" * 600)
    with pytest.raises(QueryInvalid, match="the query is 13 characters; the limit is 12"):
        parse("acme refund x", max_length=12)
    assert parse("acme refund", max_length=12).source == "acme refund"


def test_unknown_key_colon_words_are_plain_words() -> None:
    assert parse("note:acme").root == Phrase(("note", "acme"))
    assert parse("is:").root == Word("is")  # no value: a word followed by a colon


# --- the AST and the normalized form -------------------------------------------------


def test_the_ast() -> None:
    assert parse('Acme "battery drain" OR -#Ad @Bob from:@Carol lang:EN 故障').root == Or((
        And((Word("acme"), Phrase(("battery", "drain")))),
        And((Not(Hashtag("ad")), Mention("bob"), FromAuthor("carol"), Lang("en"), Unspaced("故障"))),
    ))
    query = parse("acme (a OR (b OR c)) (d e)")
    assert query.root == And((Word("acme"), Or((Word("a"), Word("b"), Word("c"))), Word("d"), Word("e")))


def test_describe_is_normalized() -> None:
    assert describe(parse("  ACME   battery OR  (x  y)  ")) == "(acme battery) OR (x y)"
    assert describe(parse('-(-a) b -"Free  Gift" -(c OR d) From:@Bob LANG:pt_BR')) == \
        '-(-a) b -"free gift" -(c OR d) from:bob lang:pt-br'
    assert describe(parse("a OR b OR (c OR d)")) == "a OR b OR c OR d"


def test_query_is_frozen_and_compares_by_meaning() -> None:
    query = parse("ACME")
    with pytest.raises(FrozenInstanceError):
        query.root = Word("x")  # type: ignore[misc]
    assert query == parse("acme") and query == Query(Word("acme"))


def test_every_example_in_the_help_parses() -> None:
    examples = re.findall(r"^\| `(.+?)` \|", QUERY_LANGUAGE_HELP, flags=re.MULTILINE)
    assert len(examples) >= 8
    for cell in examples:
        for example in cell.split("`, `"):
            parse(example)
    assert QUERY_LANGUAGE_HELP.startswith("### ")


# --- the index -----------------------------------------------------------------------

WORDS = ["acme", "phone", "battery", "screen", "refund", "the", "café", "cafe", "strasse", "x2", "or"]
TAGS = ["acme", "fail", "故障"]
HANDLES = ["acme", "acme.example.social", "help@social.example"]
AUTHORS = ["acme", "bob", "carol", None]
LANGS = ["en", "en-US", "es", "ja", None]
CJK = ["故障", "手机", "スマホ", "了", "充電"]


def random_term(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.45:
        term = rng.choice(WORDS)
    elif roll < 0.55:
        term = f'"{rng.choice(WORDS)} {rng.choice(WORDS)}"'
    elif roll < 0.63:
        term = "#" + rng.choice(TAGS)
    elif roll < 0.70:
        term = "@" + rng.choice(HANDLES)
    elif roll < 0.77:
        term = "from:" + rng.choice(AUTHORS[:3])
    elif roll < 0.83:
        term = "lang:" + rng.choice(["en", "es", "en-us"])
    else:
        term = rng.choice(CJK)
    return ("-" if rng.random() < 0.15 else "") + term


def random_query(rng: random.Random, depth: int = 0) -> str:
    roll = rng.random()
    if depth > 2 or roll < 0.4:
        return random_term(rng)
    parts = [random_query(rng, depth + 1) for _ in range(rng.randint(2, 3))]
    joined = " OR ".join(parts) if roll < 0.7 else " ".join(parts)
    return f"{'-' if rng.random() < 0.1 else ''}({joined})" if depth else joined


def random_post(rng: random.Random) -> MatchTarget:
    pieces = []
    for _ in range(rng.randint(2, 12)):
        roll = rng.random()
        if roll < 0.55:
            word = rng.choice(WORDS)
            pieces.append(rng.choice(["{}", "{}!", "({})", "{}'s", "{},", "-{}-"]).format(
                word.upper() if rng.random() < 0.2 else word))
        elif roll < 0.65:
            pieces.append("#" + rng.choice(TAGS) + rng.choice(["", ".", "!"]))
        elif roll < 0.75:
            pieces.append("@" + rng.choice(HANDLES) + rng.choice(["", ".", ","]))
        elif roll < 0.9:
            pieces.append("".join(rng.choice(CJK) for _ in range(rng.randint(1, 3))))
        else:
            pieces.append(rng.choice(["😡", "https://acme.example/x#acme", "10:30", "-", "STRASSE", "Straße"]))
    return MatchTarget.of(" ".join(pieces), lang=rng.choice(LANGS), author_handle=rng.choice(AUTHORS))


def random_rules(rng: random.Random, count: int) -> list[tuple[int, Query]]:
    rules: list[tuple[int, Query]] = []
    while len(rules) < count:
        try:
            rules.append((len(rules) * 10, parse(random_query(rng))))
        except QueryInvalid:
            continue  # e.g. only exclusions: refused by design
    return rules


def test_index_matches_exactly_what_evaluating_every_rule_matches() -> None:
    rng = random.Random(20240611)
    rules = random_rules(rng, 1000)
    posts = [random_post(rng) for _ in range(2000)]
    index = RuleIndex(rules)
    total = 0
    for post in posts:
        expected = [rule_id for rule_id, query in rules if query.matches(post)]
        assert index.match(post) == expected, post.text
        total += len(expected)
    # The generator must produce matches (and not only matches) for this to mean anything.
    assert total > 10_000 and total < len(posts) * len(rules) / 2
    assert 0 < len(index.always_checked) < 100  # the lang:-only and exclusion-anchored rules
    assert index.stats.posts == len(posts) and index.stats.matched == total


def test_describe_round_trips_on_generated_queries() -> None:
    rng = random.Random(7)
    for _, query in random_rules(rng, 500):
        assert parse(describe(query)) == query, describe(query)


def test_index_evaluates_only_candidate_rules() -> None:
    brands = [f"brand{i:04d}" for i in range(1000)]
    rules = [(i, parse(f"{brand} (refund OR broken) -giveaway")) for i, brand in enumerate(brands)]
    index = RuleIndex(rules)
    rng = random.Random(3)
    expected = 0
    for _ in range(500):
        brand = rng.choice(brands)
        wanted = rng.random() < 0.5
        post = MatchTarget.of(f"my {brand} arrived {'broken' if wanted else 'fine'}, the other one too")
        assert index.match(post) == ([brands.index(brand)] if wanted else [])
        expected += wanted
    assert index.stats.matched == expected
    # Filed under the brand name (longer than refund/broken), each post has one candidate.
    assert index.stats.evaluated == 500
    assert index.always_checked == []


def test_rules_without_an_anchor_are_checked_on_every_post() -> None:
    index = RuleIndex([("spanish", parse("lang:es")), ("acme", parse("acme")), ("not-x", parse("lang:en -x"))])
    assert index.always_checked == ["spanish", "not-x"]
    assert index.match(MatchTarget.of("hola acme", lang="es")) == ["spanish", "acme"]
    assert index.match(MatchTarget.of("hello", lang="en")) == ["not-x"]
    assert index.stats.evaluated == 5  # both anchorless rules twice, acme once
    assert len(index) == 3


def test_or_rules_are_found_by_any_branch() -> None:
    index = RuleIndex([(1, parse("refund OR #acmefail OR @acme OR 故障")), (2, parse("from:acme OR zentrix"))])
    assert index.match(MatchTarget.of("手机故障了")) == [1]
    assert index.match(MatchTarget.of("x", author_handle="Acme")) == [2]
    assert index.match(MatchTarget.of("hi @acme, zentrix")) == [1, 2]
    assert index.match(MatchTarget.of("nothing here")) == []
    assert index.stats.evaluated == 4


def test_an_empty_index_matches_nothing() -> None:
    assert RuleIndex([]).match(MatchTarget.of("acme")) == []
