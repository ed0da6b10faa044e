"""The `socialdesk` command as a user runs it (a real process, a real database)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from socialdesk.networks.x.fake.server import FakeX
from socialdesk.store.db import head_revision


def run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SOCIALDESK_", "SLACK_"))}
    return subprocess.run([sys.executable, "-m", "socialdesk", *args], env={**base, **env},
                          capture_output=True, text=True, timeout=60)


@pytest.fixture
def env(db_url) -> dict[str, str]:
    return {"SOCIALDESK_DATABASE_URL": db_url}


def test_rules_lifecycle(env):
    added = run("rules", "add", "--network", "x", "--query", "acme phone", "--channel", "C0123ABCD", "--every", "30", env=env)
    assert added.returncode == 0, added.stderr
    assert added.stdout.strip() == "rule 1 added: x 'acme phone' → C0123ABCD every 30 s"
    assert "SOCIALDESK_X_BEARER_TOKEN is not set" in added.stderr
    listed = run("rules", "list", env=env).stdout
    assert "C0123ABCD" in listed and "active" in listed and "acme phone" in listed and "never" in listed
    assert run("rules", "pause", "1", env=env).stdout.strip() == "rule 1 paused"
    assert "paused" in run("rules", "list", env=env).stdout
    assert run("rules", "resume", "1", env=env).stdout.strip() == "rule 1 resumed"
    assert run("rules", "remove", "1", env=env).stdout.strip() == "rule 1 removed; its cases stay"
    assert run("rules", "list", env=env).stdout.startswith("no rules yet")


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_rule_is_streamed_with_stream_and_turned_on_and_off(env):
    added = run("rules", "add", "--network", "x", "--query", "acme phone", "--channel", "C0123ABCD", "--stream",
                env=env)
    assert added.returncode == 0, added.stderr
    assert added.stdout.strip() == "rule 1 added: x 'acme phone' → C0123ABCD every 60 s, streamed"
    assert run("rules", "add", "--network", "x", "--query", "acme refund", "--channel", "C0123ABCD",
               env=env).returncode == 0
    listed = run("rules", "list", env=env).stdout.splitlines()
    assert listed[2].split() == ["streamed"] and "acme refund" in listed[3] and len(listed) == 4
    assert run("rules", "stream", "2", "on", env=env).stdout.strip() == \
        "rule 2: streamed (polled only while the stream is down)"
    assert run("rules", "stream", "1", "off", env=env).stdout.strip() == "rule 1: polled, not streamed"
    assert [line.split() for line in run("rules", "list", env=env).stdout.splitlines()[2:]][1] == ["streamed"]
    bluesky = run("rules", "add", "--network", "bluesky", "--query", "acme", "--channel", "C0123ABCD", "--stream",
                  env=env)
    assert bluesky.returncode == 2 and "Bluesky has no such stream" in bluesky.stderr
    assert run("rules", "stream", "9", "on", env=env).returncode == 1


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_rule_can_have_its_own_first_response_targets(env):
    added = run("rules", "add", "--network", "x", "--query", "acme vip", "--channel", "C0123ABCD",
                "--sla", "high=15m, normal=1h", env=env)
    assert added.returncode == 0, added.stderr
    assert "SLA: high=15m,normal=1h" in run("rules", "list", env=env).stdout
    assert run("rules", "sla", "1", "low=1d", env=env).stdout.strip() == "rule 1: first-response targets low=1d"
    default = run("rules", "sla", "1", "default", env=env)
    assert default.stdout.strip() == "rule 1: first-response targets from SOCIALDESK_SLA_TARGETS"
    assert "SLA:" not in run("rules", "list", env=env).stdout
    bad = run("rules", "sla", "1", "vip=5m", env=env)
    assert bad.returncode == 2 and bad.stderr.strip() == "socialdesk: --sla: unknown priority 'vip'; use high, normal, low"
    worse = run("rules", "add", "--network", "x", "--query", "acme", "--channel", "C0123ABCD", "--sla", "high=soon",
                env=env)
    assert worse.returncode == 2 and "is not a duration like 30m" in worse.stderr
    assert run("rules", "sla", "9", "high=5m", env=env).returncode == 1


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_user_errors_are_one_line_with_exit_code_2(env):
    too_long = run("rules", "add", "--network", "x", "--query", "q" * 513, "--channel", "C0123ABCD", env=env)
    assert too_long.returncode == 2
    assert too_long.stderr == ("socialdesk: the query is 513 characters; X accepts at most 512. "
                               "Shorten it or split it into two rules\n")
    missing = run("rules", "pause", "42", env=env)
    assert missing.returncode == 1 and missing.stderr.strip() == (
        "socialdesk: there is no rule 42; `socialdesk rules list` shows the rules")
    bad_port = run("run", env={**env, "SOCIALDESK_HTTP_PORT": "eighty"})
    assert bad_port.returncode == 2 and bad_port.stderr.startswith("socialdesk: SOCIALDESK_HTTP_PORT is invalid")
    assert "Traceback" not in bad_port.stderr
    no_token = run("run", env=env)
    assert no_token.returncode == 2
    assert no_token.stderr.strip().startswith("socialdesk: SLACK_BOT_TOKEN is not set: copy the Bot User OAuth Token")
    usage = run("rules", "frobnicate", env=env)
    assert usage.returncode == 2 and "invalid choice" in usage.stderr


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_db_upgrade_reports_the_revision(env):
    result = run("db", "upgrade", env=env)
    assert result.returncode == 0 and result.stdout.strip() == f"database is at revision {head_revision()}"


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_preview_prints_normalized_posts_as_json_lines(env):
    with FakeX(bearer_token="preview-token") as fake_x:
        fake_x.post(username="dana_k", text="acme phone <!channel> & cracked")
        original = fake_x.post(username="eli", text="acme phone is great")
        fake_x.post(username="fan", text="", retweet_of=original["id"])
        result = run("rules", "preview", "--network", "x", "--query", "acme phone",
                     env={**env, "SOCIALDESK_X_API_URL": fake_x.url, "SOCIALDESK_X_BEARER_TOKEN": "preview-token"})
        assert result.returncode == 0, result.stderr
        records = [json.loads(line) for line in result.stdout.splitlines()]
        assert [r["author"]["handle"] for r in records] == ["fan", "eli", "dana_k"]
        assert records[2]["text"] == "acme phone <!channel> & cracked"
        assert records[0]["is_repost"] and records[0]["skipped"] == "repost"
        assert records[1]["skipped"] is None
        bad = run("rules", "preview", "--network", "x", "--query", "acme",
                  env={**env, "SOCIALDESK_X_API_URL": fake_x.url, "SOCIALDESK_X_BEARER_TOKEN": "wrong"})
        assert bad.returncode == 2 and "X refused the credentials (401" in bad.stderr
