"""`socialdesk forget` and `socialdesk purge` as an admin runs them: `main([...])` on a seeded SQLite file."""

from __future__ import annotations

import io
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from socialdesk.store.db import make_engine, session_scope, upgrade
from socialdesk.store.models import CaseRow, PostRow
from tests.store.test_retention import HANDLE, Seeded, every_string, seed_people


@pytest.fixture
def run(cli):
    return cli  # stdin is pytest's, no terminal: `forget` without --yes asks nothing


@pytest.fixture
def seeded(tmp_path: Path) -> tuple[dict[str, str], Seeded]:
    url = f"sqlite:///{tmp_path}/desk.db"
    engine = make_engine(url)
    upgrade(engine)
    seeded = seed_people(engine, now=datetime.now(UTC))
    engine.dispose()
    return {"SOCIALDESK_DATABASE_URL": url}, seeded


def strings(env: dict[str, str]) -> list[tuple[str, str]]:
    engine = make_engine(env["SOCIALDESK_DATABASE_URL"])
    try:
        return sorted(every_string(engine))
    finally:
        engine.dispose()


def test_forget_without_yes_shows_what_it_would_remove_and_changes_nothing(run, seeded, tmp_path):
    env, _ = seeded
    before = strings(env)
    shown = run("forget", "--network", "x", "--author", "@jane_doe", env=env, cwd=tmp_path)
    assert shown.returncode == 2, shown.stderr  # it was 0: a script could not tell nothing was removed
    assert shown.stdout.startswith(f"Would remove everything about @{HANDLE} (Jane Zanzibar-Doe, x account u-jane):")
    assert "  cases                      1\n" in shown.stdout and "  posts                      4\n" in shown.stdout
    assert shown.stdout.rstrip().endswith("Nothing was removed. Run again with --yes to remove it.")
    assert strings(env) == before


class Terminal(io.StringIO):
    """What is typed at `forget`'s prompt; "" is Ctrl-D."""

    def isatty(self) -> bool:
        return True


def test_forget_at_a_terminal_removes_only_on_yes_and_ctrl_d_is_no(run, seeded, tmp_path, monkeypatch):
    """Ctrl-D was an EOFError traceback."""
    env, _ = seeded
    before = strings(env)
    # The terminal echoes what was typed, with its newline; after Ctrl-D the prompt's line is ended by us.
    for typed, after_prompt in (("", "\n"), ("no\n", "")):
        monkeypatch.setattr(sys, "stdin", Terminal(typed))
        declined = run("forget", "--network", "x", "--author", "@jane_doe", env=env, cwd=tmp_path)
        assert (declined.returncode, declined.stderr) == (2, ""), typed
        assert declined.stdout.endswith(f"Type yes: {after_prompt}Nothing was removed. Run again with --yes to "
                                        "remove it.\n"), typed
        assert strings(env) == before
    monkeypatch.setattr(sys, "stdin", Terminal("yes\n"))
    done = run("forget", "--network", "x", "--author", "@jane_doe", env=env, cwd=tmp_path)
    assert done.returncode == 0 and f"Removed everything about @{HANDLE}" in done.stdout


def test_forget_with_yes_removes_and_prints_the_counts(run, seeded, tmp_path):
    env, s = seeded
    done = run("forget", "--network", "x", "--author", "JANE_DOE", "--yes", env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert out.startswith(f"Removed everything about @{HANDLE}")
    for table, n in (("webhook_deliveries", 1), ("curated_entries", 1), ("replies", 1), ("case_events", 4),
                     ("posts", 4), ("cases", 1), ("authors", 2)):
        assert f"  {table:<20} {n:>7}\n" in out
    assert "Slack is not configured (SLACK_BOT_TOKEN is not set)" in out
    assert f"card of case #{s.jane_case}: channel C1, ts 1700000000.000100" in out
    assert f"follow-up of case #{s.bob_case}: channel C1, ts 1700000000.000200" in out
    assert not [v for _, v in strings(env) if "jane_doe" in v or "zanzibar" in v]
    again = run("forget", "--network", "x", "--author", "jane_doe", "--yes", env=env, cwd=tmp_path)
    assert again.returncode == 2 and "no x author @jane_doe is stored" in again.stderr and again.stdout == ""


def test_forget_deletes_the_slack_cards_and_says_so(run, seeded, tmp_path, slack_emulator):
    env, s = seeded
    channel = slack_emulator.new_channel("forget")
    post = lambda **kw: slack_emulator.call("chat.postMessage", channel=channel, **kw)["ts"]  # noqa: E731
    card = post(text="X post from @Jane_Doe: zanzibarscreen")
    post(text="a note about Jane", thread_ts=card)
    person = slack_emulator.call("chat.postMessage", token="xoxp-a-person", channel=channel,
                                 text="alice: on it", thread_ts=card)
    bob_card = post(text="X post from @bob_builds")
    follow_up = post(text="New reply from @Jane_Doe: jellyfishcharger", thread_ts=bob_card)
    with session_scope(make_engine(env["SOCIALDESK_DATABASE_URL"])) as session:
        session.execute(update(CaseRow).where(CaseRow.id == s.jane_case).values(channel_id=channel, message_ts=card))
        session.execute(update(CaseRow).where(CaseRow.id == s.bob_case).values(channel_id=channel, message_ts=bob_card))
        session.execute(update(PostRow).where(PostRow.thread_ts.is_not(None)).values(thread_ts=follow_up))
    env = {**env, "SLACK_BOT_TOKEN": slack_emulator.token, "SOCIALDESK_SLACK_API_URL": slack_emulator.url}

    done = run("forget", "--network", "x", "--author", "jane_doe", "--yes", env=env, cwd=tmp_path)

    assert done.returncode == 0, done.stderr
    assert (f"  card {channel}/{card} (case #{s.jane_case}): deleted; 1 thread message deleted, 1 written by "
            "people remain in the thread: delete them in Slack (a workspace admin can)") in done.stdout
    assert f"  follow-up {channel}/{follow_up} (case #{s.bob_case}): deleted" in done.stdout
    left = {m["ts"] for m in slack_emulator.history(channel)}
    assert card not in left and bob_card in left
    assert [m["ts"] for m in slack_emulator.replies(channel, bob_card)] == [bob_card]
    assert person["ok"]


def test_purge_dry_run_counts_and_changes_nothing_then_purges(run, tmp_path):
    url = f"sqlite:///{tmp_path}/desk.db"
    engine = make_engine(url)
    upgrade(engine)
    seed_people(engine, now=datetime.now(UTC) - timedelta(days=40))
    engine.dispose()
    env = {"SOCIALDESK_DATABASE_URL": url, "SOCIALDESK_RETENTION_RAW_DAYS": "30"}
    before = strings(env)
    dry = run("purge", "--dry-run", env=env, cwd=tmp_path)
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.splitlines() == [
        "raw payloads to drop: 6 posts fetched more than 30 days ago",
        "closed cases: kept (SOCIALDESK_RETENTION_CLOSED_DAYS=0)",
        "Nothing was removed (--dry-run).",
    ]
    assert strings(env) == before
    done = run("purge", env=env, cwd=tmp_path)
    assert done.stdout.splitlines()[0] == "raw payloads dropped: 6 posts fetched more than 30 days ago"
    assert run("purge", env=env, cwd=tmp_path).stdout.splitlines()[0] == \
        "raw payloads dropped: 0 posts fetched more than 30 days ago"


@pytest.mark.parametrize("setting", ["SOCIALDESK_RETENTION_CLOSED_DAYS", "SOCIALDESK_RETENTION_RAW_DAYS"])
def test_a_retention_longer_than_100_years_is_a_setting_to_fix(run, tmp_path, setting):
    """An OverflowError from `purge`, and from the running app's retention job every time it ran."""
    ran = run("purge", "--dry-run", env={"SOCIALDESK_DATABASE_URL": f"sqlite:///{tmp_path}/desk.db",
                                         setting: "99999999999"}, cwd=tmp_path)
    assert (ran.returncode, ran.stderr) == (2, f"socialdesk: {setting} is invalid: 99999999999 days is more than "
                                               "100 years: give at most 36500, or 0 to keep everything. Fix it in "
                                               "the environment or .env\n")
    longest = run("purge", "--dry-run", env={"SOCIALDESK_DATABASE_URL": f"sqlite:///{tmp_path}/desk.db",
                                             setting: "36500"}, cwd=tmp_path)
    assert longest.returncode == 0, longest.stderr


def test_purge_help_says_how_often_the_app_purges(run, tmp_path):
    from socialdesk.jobs.retention import RETENTION_SECONDS

    shown = run("purge", "--help", env={})
    assert RETENTION_SECONDS == 6 * 3600 and "the running app does every six hours" in " ".join(shown.stdout.split())
