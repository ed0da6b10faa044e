"""Triage on the labelled set: spam, intent and storms measured, and what each call costs.

Loads tests/fixtures/triage/posts.jsonl (labelling rules in its README.md) and prints:

- spam: precision and recall of "likely spam" (precision first: a customer filed as spam
  is the worst error);
- intent: accuracy over the posts not labelled spam, precision and recall per class, and
  the confusion counts;
- storms: over all pairs of posts, precision / recall / F1 of "near-duplicate" (each post's
  `near_duplicates` among all the others) against "labelled one storm", and each group's
  recall;
- language: detect_language against the language the network gave, where it gave one;
- the same per origin (recorded, scenario, written), since the recordings hold little care;
- costs on one core: read_intent + read_spam per post (the set's texts and everyday posts
  not seen before, and seen: both are cached), near_duplicates against 1,000 candidates, detect_language per text
  and its model's load.

Costs are CPU time of this process (less swayed by other work on the machine than wall
time). Figures only; nothing here asserts a time.

    python bench/triage.py
    python bench/triage.py --verbose       # also every post read wrong
    python bench/triage.py --json out.json
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # tests.triage.labelled

from bench._report import add_json_option, write_json  # noqa: E402
from bench.match import EVERYDAY  # noqa: E402
from socialdesk.triage.intent import read_intent  # noqa: E402
from socialdesk.triage.language import detect_language  # noqa: E402
from socialdesk.triage.sentiment import Triage  # noqa: E402
from socialdesk.triage.similarity import NEAR_DUPLICATE_AT, near_duplicates  # noqa: E402
from socialdesk.triage.spam import LIKELY_SPAM_AT, read_spam  # noqa: E402
from tests.triage.labelled import GOALS, figures, load, score  # noqa: E402

CANDIDATES = 1_000
# CPU time, not wall time: two cores shared with other work make wall times swing 2-3×.
_clock = time.process_time


def per_post_us(posts, sentiments, rounds: int = 7) -> tuple[float, float]:
    """read_intent + read_spam per post, µs: texts not seen before (best of `rounds`), and seen."""
    best = float("inf")
    for r in range(rounds):
        # Not seen before: a number appended makes every text new to the caches.
        fresh = [replace(p, text=f"{p.text} {r}{i}") for i, p in enumerate(posts)]
        started = _clock()
        for post, sentiment in zip(fresh, sentiments):
            read_intent(post.text, sentiment=sentiment)
            read_spam(post, now=post.created_at)
        best = min(best, (_clock() - started) / len(posts))
    started = _clock()
    for post, sentiment in zip(fresh, sentiments):
        read_intent(post.text, sentiment=sentiment)
        read_spam(post, now=post.created_at)
    return best * 1e6, (_clock() - started) / len(posts) * 1e6


def everyday_posts(template, n: int = 1_000, seed: int = 14):
    """Posts of 8-30 words from bench/match.py's everyday vocabulary, a brand in each."""
    rng = random.Random(seed)
    return [replace(template, text=" ".join(["acme", *rng.choices(EVERYDAY, k=rng.randint(8, 30))]))
            for _ in range(n)]


def costs(items, triage: Triage, load_s: float) -> dict[str, float]:
    posts = [item.post for item in items]
    sentiments = [triage.sentiment(p.text) for p in posts]
    cold, warm = per_post_us(posts, sentiments)
    everyday = everyday_posts(posts[0])
    everyday_cold, _ = per_post_us(everyday, [triage.sentiment(p.text) for p in everyday])

    texts = [p.text for p in posts]
    candidates = {i: f"{texts[i % len(texts)]} {i // len(texts)}" if i >= len(texts) else texts[i]
                  for i in range(CANDIDATES)}
    probes = [f"{t} probe" for t in texts[:100]]
    near_duplicates(probes[0], candidates)  # the candidates' features cached, as open cases are
    started = _clock()
    for probe in probes:
        near_duplicates(probe, candidates)
    near = (_clock() - started) / len(probes)

    started = _clock()
    for i, text in enumerate(texts):
        detect_language(f"{text} {i}")
    language = (_clock() - started) / len(texts)
    return {"language_model_load_s": load_s, "intent_spam_us_new_text": cold, "intent_spam_us_seen_text": warm,
            "intent_spam_us_everyday_text": everyday_cold,
            "near_duplicates_1000_ms": near * 1e3, "detect_language_us": language * 1e6,
            }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--verbose", action="store_true", help="also print every post read wrong")
    add_json_option(parser)
    args = parser.parse_args(argv)
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                          text=True).stdout.strip()
    print(f"commit {head or 'unknown'}, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")

    started = _clock()
    detect_language("the model loads on the first text that needs it")
    load_s = _clock() - started
    items = load()
    triage = Triage()
    result = figures(items, triage)
    print(f"\n{result['posts']} posts: " + ", ".join(f"{n} {o}" for o, n in sorted(result["origins"].items())))
    print(f"\nspam (likely at score ≥ {LIKELY_SPAM_AT}): precision {result['spam_precision']:.3f} "
          f"(goal ≥ {GOALS['spam_precision']}), recall {result['spam_recall']:.3f}; "
          f"{result['spam_flagged']} flagged, {result['spam_labelled']} labelled spam")
    print(f"\nintent over {result['intent_posts']} posts not spam: accuracy {result['intent_accuracy']:.3f} "
          f"(goal ≥ {GOALS['intent_accuracy']})")
    for name, c in result["intent_per_class"].items():
        print(f"  {name:<9} precision {c['precision']:.3f}  recall {c['recall']:.3f}  "
              f"({c['read']} read, {c['labelled']} labelled)")
    print("  labelled→read: " + ", ".join(f"{k} {v}" for k, v in result["intent_confusion"].items()))
    print(f"\nstorm pairs (near-duplicate at ≥ {NEAR_DUPLICATE_AT}): precision {result['storm_pairs_precision']:.3f}, "
          f"recall {result['storm_pairs_recall']:.3f}, F1 {result['storm_pairs_f1']:.3f} "
          f"(goal ≥ {GOALS['storm_pairs_f1']}); {result['storm_pairs_found']} pairs found, "
          f"{result['storm_pairs_labelled']} labelled; mean recall per group "
          f"{result['storm_groups_macro_recall']:.3f}")
    for name, g in result["storm_groups"].items():
        print(f"  {name:<24} {g['posts']:>3} posts {g['pairs']:>4} pairs  recall {g['recall']:.2f}")

    print(f"\nlanguage, on the {result['language_given']} posts whose network gave one: detect_language "
          f"right {result['language_right']}, wrong {result['language_wrong']}, no guess "
          f"{result['language_no_guess']} (too short or unsure)")

    by_origin = {}
    print("\nper origin:")
    for origin in sorted(result["origins"]):
        part = [item for item in items if item.origin == origin]
        f = figures(part, triage)
        by_origin[origin] = {k: f[k] for k in ("posts", "spam_precision", "spam_recall", "spam_labelled",
                                               "spam_flagged", "intent_accuracy", "storm_pairs_precision",
                                               "storm_pairs_recall", "storm_pairs_f1")}
        print(f"  {origin:<9} {f['posts']:>3} posts: spam P {f['spam_precision']:.2f} R {f['spam_recall']:.2f} "
              f"({f['spam_labelled']} labelled, {f['spam_flagged']} flagged); intent accuracy "
              f"{f['intent_accuracy']:.2f}; storm pairs P {f['storm_pairs_precision']:.2f} "
              f"R {f['storm_pairs_recall']:.2f} F1 {f['storm_pairs_f1']:.2f}")
    result["by_origin"] = by_origin

    if args.verbose:
        wrong(items, triage, result)

    cost = costs(items, triage, load_s)
    result["costs"] = cost
    print(f"\ncosts, CPU time on one core: read_intent + read_spam {cost['intent_spam_us_new_text']:.1f} µs a post of the set "
          f"(text not seen before), {cost['intent_spam_us_everyday_text']:.1f} µs an everyday post (not seen), "
          f"{cost['intent_spam_us_seen_text']:.1f} µs (seen: cached); "
          f"near_duplicates against {CANDIDATES:,} candidates {cost['near_duplicates_1000_ms']:.2f} ms; "
          f"detect_language {cost['detect_language_us']:.0f} µs a text "
          f"(model loaded once in {cost['language_model_load_s']:.2f} s)")
    write_json(args.json, result)
    return 0


def wrong(items, triage: Triage, result) -> None:
    by_id = {item.id: item for item in items}
    scored = {s.item.id: s for s in score(items, triage)}
    print("\nspam false positives:")
    for i in result["spam_false_positives"]:
        print(f"  {i}: {scored[i].spam.score:.2f} {scored[i].spam.reasons} {by_id[i].post.text[:90]!r}")
    print("spam missed:")
    for i in result["spam_missed"]:
        print(f"  {i}: {scored[i].spam.score:.2f} {scored[i].spam.reasons} {by_id[i].post.text[:90]!r}")
    print("intent read wrong:")
    for i in result["intent_wrong"]:
        s = scored[i]
        print(f"  {i}: {by_id[i].intent.value} read {s.intent.intent.value} {s.intent.reasons} "
              f"{by_id[i].post.text[:90]!r}")
    print("storm pairs found but not labelled:")
    for a, b in result["storm_false_pairs"]:
        print(f"  {a} {b}: {by_id[a].post.text[:50]!r} | {by_id[b].post.text[:50]!r}")
    print("storm pairs labelled but not found:")
    for a, b in result["storm_missed_pairs"]:
        print(f"  {a} {b}: {by_id[a].post.text[:50]!r} | {by_id[b].post.text[:50]!r}")


if __name__ == "__main__":
    raise SystemExit(main())
