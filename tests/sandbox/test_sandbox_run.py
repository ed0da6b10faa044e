"""`socialdesk sandbox` end to end: emulator, FakeX scenario and the app, then nothing left running."""

from __future__ import annotations

import html
import re
import signal
import sqlite3
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from socialdesk.sandbox.run import find_emulate
from socialdesk.networks.bluesky.fake.local import STORY as BLUESKY_STORY
from socialdesk.sandbox.scenario import OWN_HANDLE, SCENARIO
from tests.support.ports import free_port

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(find_emulate() is None and not os.environ.get("CI"), reason="node_modules/.bin/emulate is missing: run npm ci"),
]

def _emulators_on(port: int) -> str:
    found = subprocess.run(["pgrep", "-af", f"emulate start -s slack -p {port} "], capture_output=True, text=True)
    return found.stdout.strip()


def test_sandbox_plays_the_scenario_and_stops_cleanly(tmp_path: Path) -> None:
    port, db = free_port(), tmp_path / "s.db"
    proc = subprocess.Popen(
        # --duration only as a backstop: the test stops it (SIGTERM, the path --duration takes too) once every
        # card is out, so a slow machine is waited for instead of being cut off mid-scenario.
        [sys.executable, "-m", "socialdesk", "sandbox", "--port", str(port), "--speed", "20", "--duration", "150",
         "--db", str(db)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path,
    )
    lines: list[str] = []
    reader = threading.Thread(target=_read_into, args=(proc, lines), daemon=True)
    reader.start()
    try:
        inspector = _wait_for_inspector_url(lines, port)
        # The printed URL shows the channel's messages; the hostile post appears as text, not a ping.
        page = _wait_for(lambda: _page_with(inspector, "refund now"), timeout=20)
        assert "Messages In # social-care" in page
        shown = html.unescape(page)
        assert "&lt;!channel&gt; refund now &amp; &lt;@U0ADMIN&gt;" in shown
        _wait_for(lambda: _every_card_out(db), timeout=90)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=45) == 0, "".join(lines)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    reader.join(5)
    output = "".join(lines)
    assert "sandbox stopped" in output

    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT a.handle, p.is_repost, c.message_ts FROM cases c "
            "JOIN posts p ON p.id = c.first_post_id JOIN authors a ON a.id = p.author_id WHERE c.network = 'x'"
        ).fetchall()
        triaged = dict(conn.execute(
            "SELECT a.handle, c.intent || ' ' || c.status || ' ' || coalesce(c.ignored_reason, '') FROM cases c "
            "JOIN posts p ON p.id = c.first_post_id JOIN authors a ON a.id = p.author_id WHERE c.network = 'x'"
        ).fetchall())
        spam_reasons = conn.execute(
            "SELECT c.spam_reasons FROM cases c JOIN posts p ON p.id = c.first_post_id JOIN authors a "
            "ON a.id = p.author_id WHERE a.handle = 'free_phones_4u'").fetchone()[0]
        on_bluesky = conn.execute(
            "SELECT a.handle, c.message_ts FROM cases c JOIN posts p ON p.id = c.first_post_id "
            "JOIN authors a ON a.id = p.author_id WHERE c.network = 'bluesky'"
        ).fetchall()
        storm = conn.execute(
            "SELECT a.handle, c.incident_id, c.message_ts, i.anchor_case_id = c.id FROM cases c "
            "JOIN posts p ON p.id = c.first_post_id JOIN authors a ON a.id = p.author_id "
            "LEFT JOIN incidents i ON i.id = c.incident_id WHERE c.network = 'x' AND c.incident_id IS NOT NULL "
            "ORDER BY p.created_at"
        ).fetchall()
    expected = sorted(b.handle for b in SCENARIO if b.opens_case)
    # The wifi storm is one incident: the first post's card is the incident card, the five others are
    # cases of their own in its thread (each with its own message there).
    wifi = [b.handle for b in SCENARIO if "wifi" in b.text.lower()]
    assert [handle for handle, _, _, _ in storm] == wifi, output
    assert len({incident for _, incident, _, _ in storm}) == 1
    assert [bool(anchor) for _, _, _, anchor in storm] == [True] + [False] * 5
    assert len({ts for _, _, ts, _ in storm}) == 6 and all(ts for _, _, ts, _ in storm)
    assert sorted(handle for handle, _, _ in rows) == expected, output
    # Bluesky plays beside X: its first posts, the later ones live from the local Jetstream.
    assert sorted(h for h, _ in on_bluesky) == sorted({b.handle for b in BLUESKY_STORY[:3] if not b.reply_to}), output
    assert all(ts for _, ts in on_bluesky)
    assert OWN_HANDLE not in {handle for handle, _, _ in rows}
    assert not any(is_repost for _, is_repost, _ in rows)
    assert all(ts for _, _, ts in rows), f"cards not posted: {rows}"
    # Triage: the cracked screen reads complaint, the giveaway is filed as likely spam (the scenario's rule
    # says so) with its reasons, its card still posted.
    assert triaged["dana_k"].startswith("complaint new"), triaged
    assert triaged["free_phones_4u"] == "other ignored likely_spam", triaged
    assert "account 2 days old with 3 followers" in spam_reasons
    assert _emulators_on(port) == ""


def _every_card_out(db: Path) -> bool | None:
    """True once the scenario's X cases and the first Bluesky ones are all posted to Slack (None: not yet)."""
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
            cards = conn.execute(
                "SELECT c.network, a.handle, c.message_ts FROM cases c JOIN posts p ON p.id = c.first_post_id "
                "JOIN authors a ON a.id = p.author_id").fetchall()
    except sqlite3.Error:  # not created yet
        return None
    x = sorted(handle for network, handle, _ in cards if network == "x")
    bluesky = {handle for network, handle, _ in cards if network == "bluesky"}
    wanted_bluesky = {b.handle for b in BLUESKY_STORY[:3] if not b.reply_to}
    done = (x == sorted(b.handle for b in SCENARIO if b.opens_case) and wanted_bluesky <= bluesky
            and all(ts for _, _, ts in cards))
    return True if done else None


def _read_into(proc: subprocess.Popen, lines: list[str]) -> None:
    for line in proc.stdout:  # type: ignore[union-attr]
        lines.append(line)


def _wait_for_inspector_url(lines: list[str], port: int) -> str:
    pattern = re.compile(rf"http://127\.0\.0\.1:{port}/\?tab=messages&channel=C[A-Z0-9]+")
    found = _wait_for(lambda: next((m.group(0) for line in lines if (m := pattern.search(line))), None), timeout=30)
    assert found, "no inspector URL printed:\n" + "".join(lines)
    return found


def _page_with(url: str, needle: str) -> str | None:
    try:
        page = httpx.get(url, timeout=5).text
    except httpx.TransportError:
        return None
    return page if needle in page else None


def _wait_for(probe, *, timeout: float):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (value := probe()) is not None:
            return value
        time.sleep(0.2)
    raise AssertionError(f"gave up after {timeout} s")
