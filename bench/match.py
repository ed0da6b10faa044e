"""Local matching throughput: streamed posts against 1,000 rules with `matcher.RuleIndex`.

A stream delivers every post, and each must be checked against every active rule.
This builds, seeded:

- 1,000 rules for 250 made-up brands, four kinds per brand: complaint words with an
  exclusion (`zentrix (broken OR refund OR "not working") -giveaway`), a product
  phrase OR hashtag OR mention, a Spanish rule with `lang:es`, and mentions of the
  brand's account not written by it (`@zentrixhelp -from:zentrixhelp`); one brand in
  ten also gets a CJK rule (`zentrix (故障 OR 坏了 OR 壊れ)`), and two rules have no
  word to index by (`lang:ja -spam`-like), so they are checked on every post;
- 100,000 posts of ~25 words (Zipf-distributed everyday vocabulary, a brand in 1 post
  in 12, complaint words, hashtags, mentions, links, emoji; 10% Spanish, 5% Japanese
  or Chinese text).

Then prints, on one core: posts/s for prepare + match post by post, as a stream worker
runs (`MatchTarget.of` then `RuleIndex.match`), and for each stage alone; rules
evaluated per post; the matches found; and the naive loop that evaluates every rule
on every post (on a 5,000-post sample), whose matches must equal the index's (the
script exits 1 if they don't). Figures only; nothing here asserts a time.

    python bench/match.py
    python bench/match.py --posts 20000 --rules 5000
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # bench._report

from bench._report import add_json_option, write_json  # noqa: E402
from socialdesk.matcher import MatchTarget, Query, RuleIndex, parse  # noqa: E402

NAIVE_SAMPLE = 5_000

EVERYDAY = [
    "the", "to", "and", "a", "of", "i", "you", "it", "in", "is", "that", "for", "my", "on",
    "this", "be", "with", "just", "me", "so", "have", "but", "not", "are", "at", "was",
    "all", "like", "what", "do", "your", "we", "get", "if", "can", "one", "up", "out", "no",
    "about", "they", "now", "day", "know", "love", "good", "time", "people", "go", "when",
    "will", "there", "how", "new", "more", "who", "got", "today", "really", "see", "think",
    "it's", "from", "want", "back", "im", "too", "by", "been", "make", "as", "would",
    "need", "he", "she", "life", "work", "still", "going", "night", "as", "some", "only",
    "much", "here", "an", "even", "well", "why", "our", "can't", "or", "right", "last",
    "year", "them", "first", "off", "best", "thank", "feel", "lol", "great", "never", "way",
    "because", "still", "then", "last", "morning", "home", "game", "watch", "show",
    "tomorrow", "weekend", "friends", "coffee", "city", "music", "tonight", "photo",
    "video", "early", "late", "train", "bus", "traffic", "weather", "rain", "sun", "summer",
    "winter", "food", "dinner", "lunch", "happy", "birthday", "week", "school", "class",
    "team", "season", "movie", "book", "read", "finally", "again", "little", "big", "long",
    "next", "free", "call", "phone", "app", "update", "battery", "screen", "charger",
    "store", "order", "delivery", "package", "shipping", "service", "support", "help",
    "account", "email", "password", "login", "laptop", "tablet", "camera", "headphones",
    "speaker",
]
COMPLAINTS = ["broken", "refund", "crashed", "dead", "cracked", "stuck", "overheating", "scam",
              "waiting", "cancelled", "worst", "useless", "frozen"]
SPANISH = [
    "el", "la", "de", "que", "y", "en", "un", "no", "es", "por", "con", "para", "mi", "se",
    "lo", "pero", "muy", "ya", "hoy", "todo", "bien", "teléfono", "roto", "reembolso",
    "pedido", "ayuda", "cuenta", "nuevo",
]
CJK_POSTS = ["手机故障了，怎么办", "充電が遅すぎる、壊れたかも", "新しいスマホ届いた", "今天天气很好",
             "客服一直不回复", "电池坏了"]
EMOJI = ["😡", "🙏", "📱💥", "😂😂", "❤️", "🔥"]
SYLLABLES = [
    "ka", "zen", "tri", "vo", "la", "rix", "mo", "na", "pex", "qui", "sol", "ter", "dra",
    "lu", "fin", "gor", "bel", "tas", "ori", "cor",
]


def brand_names(rng: random.Random, count: int) -> list[str]:
    names: set[str] = set()
    while len(names) < count:
        names.add("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 3))))
    return sorted(names)


def build_rules(rng: random.Random, brands: list[str], count: int) -> list[tuple[int, Query]]:
    texts: list[str] = []
    for number, brand in enumerate(brands):
        product = f"{brand} {rng.choice(['phone', 'app', 'tablet', 'camera', 'account'])}"
        texts += [
            f"{brand} ({' OR '.join(rng.sample(COMPLAINTS, 3))} OR \"not working\") -giveaway -#ad",
            f"\"{product}\" OR #{brand}fail OR @{brand}",
            f"{brand} (roto OR reembolso OR ayuda) lang:es",
            f"@{brand}help -from:{brand}help",
        ]
        if number % 10 == 0:
            texts.append(f"{brand} (故障 OR 坏了 OR 壊れ)")
    texts[:2] = ["lang:ja -spam", "lang:zh -广告"]  # nothing to index by: checked on every post
    return [(i, parse(text)) for i, text in enumerate(texts[:count])]


def build_posts(rng: random.Random, brands: list[str], count: int) -> list[tuple[str, str, str]]:
    weights = [1 / rank for rank in range(1, len(EVERYDAY) + 1)]  # Zipf: a few words are most words
    authors = [f"user{i}" for i in range(5_000)] + [f"{b}help" for b in brands[:20]]
    posts = []
    for i in range(count):
        roll = rng.random()
        if roll < 0.05:
            lang, words = rng.choice(["ja", "zh"]), [rng.choice(CJK_POSTS)]
        elif roll < 0.15:
            lang, words = "es", rng.choices(SPANISH, k=rng.randint(8, 25))
        else:
            lang, words = rng.choice(["en", "en-US", "en-GB"]), rng.choices(EVERYDAY, weights, k=rng.randint(12, 38))
        if rng.random() < 1 / 12:  # a post about a brand
            brand = rng.choice(brands)
            words.insert(rng.randrange(len(words) + 1), rng.choice([brand, brand.title(), f"@{brand}", f"#{brand}fail"]))
            if rng.random() < 0.4:
                words.insert(rng.randrange(len(words) + 1), rng.choice(COMPLAINTS + ["not working"]))
        if rng.random() < 0.1:
            words.append(f"@{rng.choice(authors)}")
        if rng.random() < 0.1:
            words.append(f"#{rng.choice(EVERYDAY)}")
        if rng.random() < 0.15:
            words.append(f"https://example.com/p/{i}?ref=share#top")
        if rng.random() < 0.2:
            words.insert(rng.randrange(len(words) + 1), rng.choice(EMOJI))
        text = " ".join(words)
        text = text[0].upper() + text[1:] + rng.choice(["", ".", "!", "!!", "?"])
        posts.append((text, lang, rng.choice(authors)))
    return posts


def code_version() -> str:
    """The commit measured, and whether src/ had uncommitted changes."""
    def git(*a: str) -> str:
        return subprocess.run(["git", *a], check=False, cwd=REPO, capture_output=True, text=True).stdout.strip()

    head = git("rev-parse", "--short", "HEAD") or "unknown"
    return head + (" + uncommitted changes in src/" if git("status", "--porcelain", "--", "src") else "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=100_000, help="posts to match (default 100,000)")
    parser.add_argument("--rules", type=int, default=1_000, help="rules (default 1,000)")
    add_json_option(parser)
    args = parser.parse_args(argv)
    print(f"code: {code_version()}")
    print(f"{os.cpu_count()} CPUs, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} "
          "(other work on the machine skews the figures)")

    rng = random.Random(11)
    brands = brand_names(rng, max(250, args.rules // 4))
    clock = time.perf_counter
    t = clock()
    rules = build_rules(rng, brands, args.rules)
    parsed = clock() - t
    t = clock()
    index = RuleIndex(rules)
    indexed = clock() - t
    posts = build_posts(rng, brands, args.posts)
    words = sum(len(text.split()) for text, _, _ in posts) / len(posts)
    print(f"{len(rules):,} rules parsed in {parsed * 1000:.0f} ms, indexed in {indexed * 1000:.0f} ms "
          f"({len(index.always_checked)} with nothing to index by); {len(posts):,} posts, {words:.1f} words on average")

    # As a stream worker runs: prepare one post, match it, let it go.
    of, match = MatchTarget.of, index.match
    matches = matched_posts = 0
    t = clock()
    for text, lang, author in posts:
        found = match(of(text, lang=lang, author_handle=author))
        matches += len(found)
        matched_posts += bool(found)
    stream = clock() - t
    n = len(posts)
    evaluated = index.stats.evaluated
    t = clock()
    for text, lang, author in posts:
        of(text, lang=lang, author_handle=author)
    prepare = clock() - t
    # Matching alone needs the targets built beforehand; freezing them keeps the garbage
    # collector from walking 100,000 live targets, which a stream worker never holds.
    targets = [of(text, lang=lang, author_handle=author) for text, lang, author in posts]
    gc.collect()
    gc.freeze()
    t = clock()
    found_all = [match(target) for target in targets]
    match_only = clock() - t
    print(f"\n== RuleIndex: {n:,} posts x {len(rules):,} rules, one core ==")
    print(f"  prepare + match           {n / stream:>10,.0f} posts/s   ({stream:.2f} s, post by post)")
    print(f"    prepare only            {n / prepare:>10,.0f} posts/s   (MatchTarget.of)")
    print(f"    match only              {n / match_only:>10,.0f} posts/s   (RuleIndex.match)")
    print(f"  rules evaluated per post  {evaluated / n:>10.2f}   (of {len(rules):,}; "
          f"{len(index.always_checked)} of them on every post)")
    print(f"  matches                   {matches:>10,}   ({matched_posts:,} posts matched a rule)")

    sample = targets[:NAIVE_SAMPLE]
    t = clock()
    naive = [[rule_id for rule_id, query in rules if query.matches(target)] for target in sample]
    loop = clock() - t
    agree = naive == found_all[:len(sample)]
    print(f"\n== naive loop (every rule on every post): {len(sample):,} posts ==")
    print(f"  match only                {len(sample) / loop:>10,.0f} posts/s   ({loop:.2f} s; "
          f"{len(sample) * len(rules) / loop:,.0f} rule checks/s)")
    print(f"  index speed-up            {(n / match_only) / (len(sample) / loop):>10.0f}x on matching alone")
    print(f"  same matches as the index {'yes' if agree else 'NO: the index and the loop disagree'}")
    write_json(args.json, {"posts": n, "rules": len(rules), "prepare_match_posts_per_s": n / stream,
                           "match_only_posts_per_s": n / match_only, "rules_evaluated_per_post": evaluated / n,
                           "naive_posts_per_s": len(sample) / loop, "agree": agree})
    return 0 if agree else 1


if __name__ == "__main__":
    raise SystemExit(main())
