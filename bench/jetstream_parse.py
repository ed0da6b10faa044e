"""How fast one core turns Jetstream messages into stream events (figures only, no asserts).

Builds N commit messages before timing starts, each the captured post event from
fake/golden_v1.jsonl (bluesky-social/jetstream internal/subscribe/testdata) with its own
DID, rkey, time_us and text: 60% replies as captured, 40% top-level posts, 10% with a
link facet, texts from 5 to 280 characters, some non-ASCII. Then times
`jetstream.decode_message` (JSON decoding, shape checks, `parse.post_from_record`) over
all of them, and `json.loads` alone for comparison. The firehose carries some tens of
posts per second, so this is headroom, not a bottleneck.

    python bench/jetstream_parse.py                 # 200,000 messages
    python bench/jetstream_parse.py --messages 50000
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import random
import subprocess
import time
from pathlib import Path

from socialdesk.networks.bluesky.fake.jetstream import golden_events
from socialdesk.networks.bluesky.jetstream import decode_message

REPO = Path(__file__).resolve().parents[1]
WORDS = ("my phone battery died again after the update and support says wait help refund screen "
         "camera wifi still broken why does this keep happening café naïve 日本語 🙂 thanks").split()


def messages(count: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    template = golden_events()[1]  # the captured post with a reply
    start = template["time_us"]
    out = []
    for i in range(count):
        event = copy.deepcopy(template)
        event["did"] = f"did:plc:{rng.getrandbits(100):026x}"[:32]
        event["time_us"] = start + i * 50
        commit, record = event["commit"], event["commit"]["record"]
        commit["rkey"] = commit["rev"] = f"3mm{i:010d}"
        text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 45)))[:280]
        if rng.random() < 0.1:
            link = "https://example.com/support/ticket/12345"
            start_byte = len(text.encode()) + 1
            text = f"{text} example.com/support/t..."
            record["facets"] = [{"index": {"byteStart": start_byte, "byteEnd": len(text.encode())},
                                 "features": [{"$type": "app.bsky.richtext.facet#link", "uri": link}]}]
        record["text"] = text
        if rng.random() < 0.4:
            del record["reply"]
        out.append(json.dumps(event, ensure_ascii=False, separators=(",", ":")))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=200_000)
    args = parser.parse_args()
    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    print(f"commit {commit or '?'} · {os.cpu_count()} CPUs · load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    batch = messages(args.messages)
    size = sum(len(m.encode()) for m in batch)
    print(f"{len(batch):,} post commit messages, {size / len(batch):.0f} bytes on average")

    began = time.process_time()
    for message in batch:
        json.loads(message)
    json_seconds = time.process_time() - began

    began = time.process_time()
    kinds: dict[str, int] = {}
    for message in batch:
        decoded = decode_message(message)
        kinds[decoded.kind] = kinds.get(decoded.kind, 0) + 1
    decode_seconds = time.process_time() - began

    print(f"json.loads only       {len(batch) / json_seconds:>12,.0f} messages/s (CPU time)")
    print(f"decode_message        {len(batch) / decode_seconds:>12,.0f} events/s (CPU time), "
          f"{decode_seconds / len(batch) * 1e6:.1f} µs each")
    print(f"events by kind: {kinds}")


if __name__ == "__main__":
    main()
