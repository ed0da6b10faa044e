"""Three replicas on one PostgreSQL, as compose.yaml runs two (issue #16): `socialdesk run` three
times with the Slack emulator, a local X and a local Bluesky with its Jetstream. They start a
moment apart on an empty database (each runs the migrations first, as the container does; started
at the same instant they race for it in tests/store/test_db_upgrade.py), post cards for a while,
and the one holding Bluesky's stream is killed with kill -9:

- every poll runs once per interval: X's requests per rule, counted, are one per interval
  whichever replica sends them (replicas started at different moments have timers at different
  phases; a rule was polled each time one of them found it half an interval old);
- every card is posted once: the emulator's messages, one per post;
- the stream moves to another replica within 30 s, and what was posted meanwhile is carded;
- every digest is posted once: two schedules whose time has just passed are due on every
  replica at once (a replica that was restarting catches up a missed digest).
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from socialdesk.networks.bluesky.fake.pds import FakeBluesky
from socialdesk.networks.x.search import SEARCH_PATH
from socialdesk.store import digests as digest_store
from socialdesk.store.db import make_engine, session_scope
from tests.e2e.conftest import X_TOKEN, oauth1_env
from tests.e2e.helpers import block_text, cards, case_id_of, nothing_to_post
from tests.faults.test_poll_restart import Db  # what the replicas wrote, read with plain SQL
from tests.support.app_process import AppProcess, app_env
from tests.support.bluesky import local_jetstream
from tests.support.waiting import wait_for

EVERY = 5  # seconds between polls of each X rule (the shortest `rules add --every` takes)
STAGGER = 1.7  # seconds between the replicas' starts: their timers a third of an interval apart
ON_BEAT = 0.4  # of an interval: how far from its beat a poll may reach X (a late timer skips past a quarter)
MOVE_WITHIN = 30  # seconds for another replica to take the stream over (issue #16)
BRAND, PASSWORD = "acmephones.bsky.social", "e2e-app-password"
DIGEST_TITLE = "Daily social care digest"
X_QUERIES = ("acme", "globex")


def first_pages(fake_x, query: str) -> list[float]:  # type: ignore[no-untyped-def]
    """When each poll of the rule began: its search without a page token (a walk's further pages have one)."""
    return [r.at for r in fake_x.requests_to(SEARCH_PATH)
            if r.query.get("query") == query and "next_token" not in r.query]


def in_beats(times: list[float], every: float) -> tuple[list[int], list[float]]:
    """Each time's interval (the number of the beat nearest it) and how far from that beat it came;
    beats are `every` apart at the phase most times share (the median of their offsets from the
    first, so one late poll does not move it)."""
    offsets = sorted((t - times[0] + every / 2) % every - every / 2 for t in times)
    phase = times[0] + offsets[len(offsets) // 2]
    beats = [round((t - phase) / every) for t in times]
    return beats, [t - (phase + b * every) for t, b in zip(times, beats)]


def stream_logs(replica: AppProcess) -> int:
    return replica.log().count("bluesky stream: connected")


@pytest.mark.postgres
@pytest.mark.both_databases
@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)  # replicas share a server; SQLite is one machine's
def test_three_replicas_and_a_kill_9_of_the_lease_holder_poll_once_per_interval_and_post_everything_once(
        db_url, fake_x, slack_emulator, tmp_path):
    with FakeBluesky(brand_handle=BRAND, brand_password=PASSWORD) as pds, local_jetstream(pds) as jetstream:
        channels = {name: slack_emulator.new_channel(f"rep-{name}") for name in (*X_QUERIES, "bsky")}
        digest_channels = [slack_emulator.new_channel(f"rep-digest{i}") for i in range(2)]
        signing_secret = "replicas-" + str(time.time_ns())
        replicas = []
        for i in range(3):
            env = app_env(db_url=db_url, slack_api_url=slack_emulator.url, x_url=fake_x.url, x_token=X_TOKEN,
                          SLACK_SIGNING_SECRET=signing_secret, SOCIALDESK_SLACK_POST_INTERVAL="0.3",
                          SOCIALDESK_BLUESKY_HANDLE=BRAND, SOCIALDESK_BLUESKY_APP_PASSWORD=PASSWORD,
                          SOCIALDESK_BLUESKY_SERVICE_URL=pds.url, SOCIALDESK_BLUESKY_JETSTREAM_URL=jetstream.url,
                          **oauth1_env(fake_x))
            replicas.append(AppProcess(env=env, log_path=tmp_path / f"replica{i}.log"))
        db = Db(db_url)
        try:
            _run(replicas, db, db_url, fake_x, pds, jetstream, slack_emulator, channels, digest_channels)
        finally:
            for replica in replicas:
                if replica.proc is not None and replica.proc.poll() is None:
                    replica.stop()
            db.close()
            for i, replica in enumerate(replicas):
                print(f"--- replica {i}\n{replica.log()[-3000:]}")  # shown by pytest on failure


def _run(replicas, db, db_url, fake_x, pds, jetstream, slack_emulator, channels, digest_channels):  # type: ignore[no-untyped-def]
    # Started a moment apart on an empty database: the first migrates it, the next ones wait for that.
    starting = []
    for replica in replicas:
        starting.append(threading.Thread(target=replica.start, kwargs={"timeout": 60}))
        starting[-1].start()
        time.sleep(STAGGER)
    for thread in starting:
        thread.join()
    assert all(r.proc is not None and r.proc.poll() is None for r in replicas), "a replica did not start"

    cli = replicas[0]
    for query in X_QUERIES:
        cli.cli("rules", "add", "--network", "x", "--query", query, "--channel", channels[query],
                "--every", str(EVERY))
    cli.cli("rules", "add", "--network", "bluesky", "--query", "acme", "--channel", channels["bsky"])
    # Two digests due a minute ago, on schedules made before that: every replica catches them up at once.
    now = datetime.now(UTC)
    due = now.replace(second=0, microsecond=0) - timedelta(minutes=1)
    engine = make_engine(db_url)
    try:
        with session_scope(engine) as session:
            for channel in digest_channels:
                digest_store.add_schedule(session=session, spec=f"daily {due:%H:%M}", targets=[channel],
                                          created_by="U0ADMIN", now=now - timedelta(minutes=5))
    finally:
        engine.dispose()

    wait_for(lambda: jetstream.live_connections == 1, timeout=30, what="one replica's Jetstream connection")
    wait_for(lambda: all(first_pages(fake_x, q) for q in X_QUERIES), timeout=20, what="each X rule's first poll")
    people = [pds.world.add_account(f"c{i}.bsky.social", f"Customer {i}") for i in range(4)]

    made: dict[str, list[str]] = {name: [] for name in channels}
    stop_posting = threading.Event()

    def customers() -> None:  # a steady trickle on every rule, before, during and after the kill
        n = 0
        while not stop_posting.wait(0.45):
            name = (*X_QUERIES, "bsky")[n % 3]
            if name == "bsky":
                pds.world.add_post(people[n % 4], f"acme question {n}")
                made[name].append(f"acme question {n}")
                pds.world.add_post(people[n % 4], f"unrelated chatter {n}")
            else:
                made[name].append(fake_x.post(username=f"cust{n % 5}", text=f"{name} order {n} never arrived")["text"])
            n += 1

    posting = threading.Thread(target=customers)
    posting.start()
    try:
        time.sleep(8)  # cards from all three replicas
        [holder] = [r for r in replicas if stream_logs(r)]
        [(held_by,)] = db.rows("SELECT holder FROM streams WHERE network = 'bluesky'")
        before = {id(r): stream_logs(r) for r in replicas}
        holder.kill9()
        killed_at, killed_wall = time.monotonic(), time.time()
        survivors = [r for r in replicas if r is not holder]
        # Within 30 s another replica holds the stream, connected (its lease ran out, then it was taken).
        wait_for(lambda: any(stream_logs(r) > before[id(r)] for r in survivors), timeout=MOVE_WITHIN,
                 what=f"another replica's Bluesky stream within {MOVE_WITHIN} s of the kill")
        moved_after = time.monotonic() - killed_at
        [(holder_now,)] = db.rows("SELECT holder FROM streams WHERE network = 'bluesky'")
        assert holder_now and holder_now != held_by
        time.sleep(4)  # posts on the moved stream
    finally:
        stop_posting.set()
        posting.join()
    stopped_at = time.time()

    # Settled: every case carded, then a poll of each X rule after that (a second reading would be done).
    for name, texts in made.items():
        wait_for(lambda name=name, texts=texts: len(cards(slack_emulator, channels[name])) >= len(texts), timeout=45,
                 what=f"{len(texts)} cards in the {name} channel")
    wait_for(lambda: nothing_to_post(db_url), timeout=20, what="every case's card recorded")
    settled = time.time()
    wait_for(lambda: all(max(first_pages(fake_x, q)) > settled for q in X_QUERIES), timeout=EVERY + 10,
             what="a poll of each X rule after every card was posted")
    print(f"stream moved {moved_after:.1f} s after the kill")
    for query in X_QUERIES:  # shown on failure: when each poll reached X, and which replica was gone
        print(query, [f"{t % 100:.2f}" for t in first_pages(fake_x, query)], f"killed at {killed_wall % 100:.2f}")

    for name, texts in made.items():
        final = cards(slack_emulator, channels[name])
        assert sorted(block_text(c, "post") for c in final) == sorted(texts), name  # each post: one card
        assert len({case_id_of(c) for c in final}) == len(final)
    [(cases,)] = db.rows("SELECT count(*) FROM cases")
    assert cases == sum(len(t) for t in made.values())

    # Polls: one per interval. Each poll is put in the interval it belongs to (the beat nearest it,
    # the beats where most polls came): never two in one, each near its beat, and none missing but
    # one at the kill (a poll it had under way holds the rule's lease an interval). The first, when
    # the rule was added, may come anywhere in its interval.
    for query in X_QUERIES:
        times = [t for t in first_pages(fake_x, query) if t <= stopped_at][1:]
        beats, off_beat = in_beats(times, EVERY)
        shown = [f"+{t - times[0]:.1f}" for t in times]
        assert min(times) < killed_wall < max(times) - EVERY, f"rule {query!r}: too few polls around the kill {shown}"
        assert len(set(beats)) == len(beats), f"rule {query!r} polled twice in an interval: {shown}"
        assert max(abs(d) for d in off_beat) < ON_BEAT * EVERY, f"rule {query!r} polled off its beat: {shown}"
        assert beats[-1] - beats[0] + 1 - len(beats) <= 1, f"rule {query!r}: polls missing {shown}"

    # Digests: each posted once; every live replica had it due and the others found it claimed.
    for channel in digest_channels:
        digests = [m for m in slack_emulator.history(channel) if m.get("text", "").startswith(DIGEST_TITLE)]
        assert len(digests) == 1, channel
    [(runs,)] = db.rows("SELECT count(*) FROM digest_runs")
    assert runs == len(digest_channels)
    claimed_elsewhere = sum(r.log().count("already claimed; not posting") for r in replicas)
    assert claimed_elsewhere == 2 * len(digest_channels)
