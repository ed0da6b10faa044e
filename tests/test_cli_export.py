"""`socialdesk export` as a user runs it: `main([...])` on a seeded SQLite file (a real process for a terminal)."""

from __future__ import annotations

import csv
import json
import os
import pty
import subprocess
import sys

import pytest

from socialdesk.store.db import make_engine, upgrade
from tests.test_export import seed_cases


@pytest.fixture
def run(cli):
    return lambda *args, env: cli("export", *args, env=env)


@pytest.fixture
def seeded(tmp_path) -> tuple[dict[str, str], dict[str, int]]:
    url = f"sqlite:///{tmp_path}/socialdesk.db"
    engine = make_engine(url)
    upgrade(engine)
    try:
        ids = seed_cases(engine)
    finally:
        engine.dispose()
    return {"SOCIALDESK_DATABASE_URL": url, "SOCIALDESK_OWN_HANDLES": "acmephones"}, ids


def test_jsonl_on_stdout_one_record_per_line_and_nothing_else(run, seeded):
    env, ids = seeded
    result = run(env=env)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # stderr is no terminal and --progress was not asked for
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["case_id"] for r in records] == sorted(ids[k] for k in ("worked", "hostile", "removed", "other"))
    worked = next(r for r in records if r["case_id"] == ids["worked"])
    assert worked["status"] == "resolved" and worked["agent"] == "UALICE" and worked["tags"] == ["charging", "hardware"]


def test_markdown_to_a_file_with_filters_and_progress(run, seeded, tmp_path):
    env, ids = seeded
    target = tmp_path / "resolved.md"
    result = run("--format", "md", "--status", "resolved", "--until", "2026-11-27", "--output", str(target),
                 "--progress", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert result.stderr.splitlines() == ["exported 1 / 1 cases", "exported 1 case to " + str(target)]
    text = target.read_text(encoding="utf-8")
    assert text.startswith("# socialdesk export\n") and f"## Case {ids['worked']} · resolved · x" in text
    assert "Sorry @dana\\_k\\! Hold \"power\"" in text  # escaped Markdown of the sent reply
    assert [p.name for p in tmp_path.iterdir() if ".partial" in p.name] == []


def test_redacted_csv_opens_with_the_right_columns(run, seeded, tmp_path):
    env, ids = seeded
    target = tmp_path / "cases.csv"
    result = run("--format", "csv", "--redact", "-o", str(target), env=env)
    assert result.returncode == 0, result.stderr
    with target.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 4 and list(rows[0]) == ["case_id", "source", "curated_entry_id", "status", "network",
                                                  "question", "answer", "notes", "tags", "rule_query",
                                                  "author_handle", "author_name", "conversation_url", "links",
                                                  "opened_at", "first_response_at", "resolved_at", "agent",
                                                  "outcome", "duplicate_of"]
    worked = next(r for r in rows if r["case_id"] == str(ids["worked"]))
    assert "[phone]" in worked["question"] and "[email]" in worked["question"] and "\n\n" in worked["question"]
    assert worked["answer"] == 'Sorry [handle]! Hold "power", then DM @acmephones, ok?'
    assert "dana" not in target.read_text(encoding="utf-8").lower()


def test_curated_only_exports_the_edited_entries(run, seeded):
    env, ids = seeded
    result = run("--curated-only", env=env)
    assert result.returncode == 0, result.stderr
    [entry] = [json.loads(line) for line in result.stdout.splitlines()]
    assert entry["source"] == "curated" and entry["case_id"] == ids["worked"]
    assert entry["question"] == "How do I fix a phone that won't charge?"


def test_progress_is_live_on_a_terminal(seeded):
    env, _ = seeded
    leader, follower = pty.openpty()
    try:
        result = subprocess.run([sys.executable, "-m", "socialdesk", "export", "--format", "md"],
                                env={**{k: v for k, v in os.environ.items() if not k.startswith("SOCIALDESK_")}, **env},
                                stdout=subprocess.PIPE, stderr=follower, timeout=120)
        os.close(follower)
        shown = b""
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # the terminal is closed once everything was read
                break
            if not chunk:
                break
            shown += chunk
    finally:
        os.close(leader)
    assert result.returncode == 0
    assert b"\rexported 4 / 4 cases" in shown and b"## Case" in result.stdout


@pytest.mark.parametrize(("args", "message"), [
    (["--since", "yesterday"], "'yesterday' is not a date: use YYYY-MM-DD"),
    (["--until", "2026-02-30"], "'2026-02-30' is not a date"),
    (["--status", "done"], "'done' is not a case status: use one or more of new, reopened"),
    (["--rule", "three"], "'three' is not a rule id"),
    (["--since", "2026-11-28", "--until", "2026-11-27"], "the start (since) must be before the end (until)"),
    # Past what a date holds once the day's end or UTC is reached: an OverflowError traceback.
    (["--until", "9999-12-31"], "'9999-12-31' is out of range: use a date from 0001-01-02 to 9999-12-30"),
    (["--since", "0001-01-01T00:00:00+01:00"], "'0001-01-01T00:00:00+01:00' is out of range: use a date from "
                                               "0001-01-02 to 9999-12-30"),
])
def test_mistakes_are_one_line_and_exit_2(run, seeded, args, message):
    env, _ = seeded
    result = run(*args, env=env)
    assert result.returncode == 2
    assert result.stderr.startswith("socialdesk: " + message) and result.stderr.count("\n") == 1, result.stderr
    assert result.stdout == ""


def test_a_file_that_cannot_be_written_is_exit_1(run, seeded):
    env, _ = seeded
    result = run("--output", "/nonexistent-dir/out.jsonl", env=env)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr == ("socialdesk: could not write /nonexistent-dir/out.jsonl: No such file or directory; "
                             "check the path and its permissions\n")


def test_unknown_format_is_refused_by_the_parser(run, seeded):
    env, _ = seeded
    result = run("--format", "xlsx", env=env)
    assert result.returncode == 2 and "invalid choice: 'xlsx'" in result.stderr


@pytest.mark.parametrize(("given", "said"), [
    ("", "argument --output/-o: an empty path: give a file name, or leave out --output for standard output"),
    (".", "argument --output/-o: . is a directory: give a file name in it, like cases.jsonl"),
])
def test_an_output_that_names_no_file_is_refused_before_exporting(run, seeded, given, said):
    """`-o ''` was "could not write: Device or resource busy", after the whole export was written."""
    env, _ = seeded
    result = run("-o", given, env=env)
    assert result.returncode == 2 and result.stderr.splitlines()[-1] == f"socialdesk export: error: {said}"
