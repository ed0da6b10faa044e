"""The `socialdesk` command as a user runs it: `main([...])` on a real database, and a real process for
the entry point and `run`."""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from socialdesk.networks.x.fake.server import FakeX
from socialdesk.store.db import head_revision


def process(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SOCIALDESK_", "SLACK_"))}
    return subprocess.run([sys.executable, "-m", "socialdesk", *args], env={**base, **env},
                          capture_output=True, text=True, timeout=60)


@pytest.fixture
def env(db_url) -> dict[str, str]:
    return {"SOCIALDESK_DATABASE_URL": db_url}


def test_rules_lifecycle(env, cli):
    added = cli("rules", "add", "--network", "x", "--query", "acme phone", "--channel", "C0123ABCD", "--every", "30", env=env)
    assert added.returncode == 0, added.stderr
    assert added.stdout.strip() == "rule 1 added: x 'acme phone' → C0123ABCD every 30 s"
    assert "SOCIALDESK_X_BEARER_TOKEN is not set" in added.stderr
    listed = cli("rules", "list", env=env).stdout
    assert "C0123ABCD" in listed and " ok " in listed and "acme phone" in listed and "never" in listed
    assert cli("rules", "pause", "1", env=env).stdout.strip() == "rule 1 paused"
    assert "paused" in cli("rules", "list", env=env).stdout
    assert cli("rules", "resume", "1", env=env).stdout.strip() == "rule 1 resumed"
    assert cli("rules", "remove", "1", env=env).stdout.strip() == "rule 1 removed; its cases stay"
    assert cli("rules", "list", env=env).stdout.startswith("no rules yet")


def test_resuming_a_rule_paused_longer_than_search_reaches_back_says_what_is_lost(env, db_url, cli):
    from datetime import timedelta

    from socialdesk.store import rules as rule_store
    from socialdesk.store.db import make_engine, session_scope, utcnow

    env = {**env, "SOCIALDESK_X_BEARER_TOKEN": "test-bearer"}  # the network is built (nothing is fetched)
    assert cli("rules", "add", "--network", "x", "--query", "acme phone", "--channel", "C0123ABCD", env=env).returncode == 0
    engine = make_engine(db_url)
    with session_scope(engine) as session:
        rule_store.save_cursor(session=session, rule_id=1, cursor={"since_id": "1"}, not_before=None,
                               now=utcnow() - timedelta(days=30))
    engine.dispose()
    assert cli("rules", "pause", "1", env=env).stdout.strip() == "rule 1 paused"
    said = cli("rules", "resume", "1", env=env).stdout.splitlines()
    assert said[0] == "rule 1 resumed"
    assert said[1].startswith("It last read posts ") and "X's search reaches back 7 days" in said[1]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_rule_is_streamed_with_stream_and_turned_on_and_off(env, cli):
    added = cli("rules", "add", "--network", "x", "--query", "acme phone", "--channel", "C0123ABCD", "--stream",
                env=env)
    assert added.returncode == 0, added.stderr
    assert added.stdout.strip() == "rule 1 added: x 'acme phone' → C0123ABCD every 60 s, streamed"
    assert cli("rules", "add", "--network", "x", "--query", "acme refund", "--channel", "C0123ABCD",
               env=env).returncode == 0
    listed = cli("rules", "list", env=env).stdout.splitlines()
    assert listed[2].split() == ["streamed"] and "acme refund" in listed[3] and len(listed) == 4
    assert cli("rules", "stream", "2", "on", env=env).stdout.strip() == \
        "rule 2: streamed (polled only while the stream is down)"
    assert cli("rules", "stream", "1", "off", env=env).stdout.strip() == "rule 1: polled, not streamed"
    assert [line.split() for line in cli("rules", "list", env=env).stdout.splitlines()[2:]][1] == ["streamed"]
    bluesky = cli("rules", "add", "--network", "bluesky", "--query", "acme", "--channel", "C0123ABCD", "--stream",
                  env=env)
    assert bluesky.returncode == 2 and "Bluesky has no such stream" in bluesky.stderr
    assert cli("rules", "stream", "9", "on", env=env).returncode == 2  # no such rule: fix the command


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_rule_can_have_its_own_first_response_targets(env, cli):
    added = cli("rules", "add", "--network", "x", "--query", "acme vip", "--channel", "C0123ABCD",
                "--sla", "high=15m, normal=1h", env=env)
    assert added.returncode == 0, added.stderr
    assert "SLA: high=15m,normal=1h" in cli("rules", "list", env=env).stdout
    assert cli("rules", "sla", "1", "low=1d", env=env).stdout.strip() == "rule 1: first-response targets low=1d"
    default = cli("rules", "sla", "1", "default", env=env)
    assert default.stdout.strip() == "rule 1: first-response targets from SOCIALDESK_SLA_TARGETS"
    assert "SLA:" not in cli("rules", "list", env=env).stdout
    bad = cli("rules", "sla", "1", "vip=5m", env=env)
    assert bad.returncode == 2 and bad.stderr.strip() == "socialdesk: --sla: unknown priority 'vip'; use high, normal, low"
    worse = cli("rules", "add", "--network", "x", "--query", "acme", "--channel", "C0123ABCD", "--sla", "high=soon",
                env=env)
    assert worse.returncode == 2 and "is not a duration like 30m" in worse.stderr
    assert cli("rules", "sla", "9", "high=5m", env=env).returncode == 2
    for targets in ("high=99999999999999d", "normal=31d"):  # a deadline so far off overflowed the date
        too_long = cli("rules", "sla", "1", targets, env=env)
        assert (too_long.returncode, too_long.stderr) == (
            2, f"socialdesk: --sla: '{targets.split('=')[1]}' is too long for a first-response target: give at most "
               "30 days (30d)\n"), too_long
    added = cli("rules", "add", "--network", "x", "--query", "acme", "--channel", "C0123ABCD", "--sla",
                "high=99999999999999999d", env=env)
    assert added.returncode == 2 and added.stderr.count("\n") == 1 and "give at most 30 days" in added.stderr
    assert "SLA:" not in cli("rules", "list", env=env).stdout and "rule 2" not in cli("rules", "list", env=env).stdout


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_user_errors_are_one_line_with_exit_code_2(env, cli):
    too_long = cli("rules", "add", "--network", "x", "--query", "q" * 513, "--channel", "C0123ABCD", env=env)
    assert too_long.returncode == 2
    assert too_long.stderr == ("socialdesk: the query is 513 characters; X accepts at most 512. "
                               "Shorten it or split it into two rules\n")
    for unknown in (("rules", "pause", "42"), ("rules", "resume", "42"), ("rules", "remove", "42")):
        missing = cli(*unknown, env=env)
        assert (missing.returncode, missing.stderr) == (
            2, "socialdesk: there is no rule 42; `socialdesk rules list` shows the rules\n"), unknown
    no_case = cli("case", "show", "7", env=env)
    assert no_case.returncode == 2 and no_case.stderr.count("\n") == 1 and "numbered on their cards" in no_case.stderr
    bad_url = cli("rules", "list", env={"SOCIALDESK_DATABASE_URL": "desk.db"})
    assert bad_url.returncode == 2 and "SOCIALDESK_DATABASE_URL is not a database URL" in bad_url.stderr
    usage = cli("rules", "frobnicate", env=env)
    assert usage.returncode == 2 and "invalid choice" in usage.stderr


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_number_out_of_range_is_refused_with_the_range(env, cli):
    for out in ("0", "101"):
        refused = cli("rules", "preview", "--network", "x", "--query", "acme", "--limit", out, env=env)
        assert refused.returncode == 2
        assert refused.stderr.splitlines()[-1] == (f"socialdesk rules preview: error: argument --limit: {out} is out "
                                                   "of range; use a number from 1 to 100")
    word = cli("rules", "preview", "--network", "x", "--query", "acme", "--limit", "many", env=env)
    assert word.returncode == 2 and "'many' is not a whole number; use one from 1 to 100" in word.stderr
    shown = cli("rules", "preview", "--help", env=env)
    assert shown.returncode == 0 and "--limit N" in shown.stdout and "{10," not in shown.stdout


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_poll_interval_past_a_day_is_refused_and_adds_no_rule(env, cli):
    """A rule polled every 999999999999 s was saved, and then its poll timer could not be set."""
    for every in ("86401", "999999999999", "99999999999999999999"):
        refused = cli("rules", "add", "--network", "x", "--query", "acme", "--channel", "C0123ABCD", "--every", every,
                      env=env)
        assert (refused.returncode, refused.stderr) == (
            2, f"socialdesk: an interval of {every} s is longer than a day; give one from 5 to 86400 seconds "
               "(a day)\n"), refused
    assert cli("rules", "list", env=env).stdout.startswith("no rules yet")
    assert cli("rules", "add", "--network", "x", "--query", "acme", "--channel", "C0123ABCD", "--every", "86400",
               env=env).stdout.startswith("rule 1 added: x 'acme' → C0123ABCD every 86400 s")
    assert "seconds between polls, 5 to 86400 (a day; default 60)" in " ".join(
        cli("rules", "add", "--help", env=env).stdout.split())


ID_COMMANDS = [("rules", verb) for verb in ("pause", "resume", "remove", "edit", "sla", "stream")] + [
    ("case", "show"), ("faq", "withdraw")] + [("webhooks", verb) for verb in
                                               ("remove", "test", "deliveries", "retry", "pause", "resume")]
FOLLOWING = {"sla": ("high=15m",), "stream": ("on",), "edit": ("--ignore-spam",)}  # the rest of a valid command


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("command", ID_COMMANDS, ids=" ".join)
@pytest.mark.parametrize("given", ["99999999999999999999", "2147483648", "0"])
def test_an_id_no_row_can_have_is_a_usage_error_that_gives_the_range(env, cli, command, given):
    """Not an OverflowError from the database driver: refused while parsing, with the range ids have."""
    ran = cli(*command, given, *FOLLOWING.get(command[1], ()), env=env)
    assert ran.returncode == 2, ran.stderr
    assert ran.stderr.splitlines()[-1] == (f"socialdesk {' '.join(command)}: error: argument ID: {given} is out of "
                                           "range; use a number from 1 to 2,147,483,647")
    largest = cli(*command, "2147483647", *FOLLOWING.get(command[1], ()), env=env)  # names nothing: one line
    assert largest.returncode == 2 and largest.stderr.count("\n") == 1 and "socialdesk: " in largest.stderr, largest


@pytest.mark.parametrize("url", ["mysql://desk:hunter2@127.0.0.1/desk", "foo://desk:hunter2@127.0.0.1/desk"])
@pytest.mark.parametrize("command", [("rules", "list"), ("run",)])
def test_a_database_socialdesk_has_no_driver_for_is_exit_2_without_the_password(cli, url, command):
    """A driver that is not installed, or no such dialect: a setting to fix, not a traceback (`run` too)."""
    ran = cli(*command, env={"SOCIALDESK_DATABASE_URL": url, "SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s"})
    assert ran.returncode == 2 and ran.stderr.startswith("socialdesk: SOCIALDESK_DATABASE_URL is not a database URL "
                                                         "socialdesk can use: set it to sqlite:///")
    assert "hunter2" not in ran.stderr and ran.stderr.count("\n") == 1


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_database_migrated_by_a_newer_socialdesk_is_one_line(env, cli, db_url):
    import sqlalchemy

    assert cli("db", "upgrade", env=env).returncode == 0
    engine = sqlalchemy.create_engine(db_url)
    with engine.begin() as conn:  # as a later version leaves it: a revision this one does not have
        conn.execute(sqlalchemy.text("UPDATE alembic_version SET version_num = '0099_later'"))
    engine.dispose()
    for command in (("rules", "list"), ("db", "upgrade")):
        ran = cli(*command, env=env)
        assert (ran.returncode, ran.stderr) == (2, (
            "socialdesk: the database is at revision 0099_later, which this socialdesk does not know (its latest is "
            f"{head_revision()}): it was upgraded by a newer version; run that one, or set SOCIALDESK_DATABASE_URL "
            "to another database\n")), command


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_an_unknown_log_level_is_a_setting_to_fix(env, cli):
    ran = cli("rules", "list", env={**env, "SOCIALDESK_LOG_LEVEL": "LOUD"})
    assert (ran.returncode, ran.stderr) == (2, "socialdesk: SOCIALDESK_LOG_LEVEL is invalid: 'LOUD' is not a log level; "
                                               "use DEBUG, INFO, WARNING or ERROR. Fix it in the environment or .env\n")
    assert cli("rules", "list", env={**env, "SOCIALDESK_LOG_LEVEL": "debug"}).returncode == 0  # any case, as before


def test_a_database_that_does_not_answer_is_exit_1_without_the_password(cli, tmp_path):
    gone = cli("rules", "list", env={"SOCIALDESK_DATABASE_URL": f"sqlite:///{tmp_path}/no/such/dir/desk.db"})
    assert gone.returncode == 1
    assert gone.stderr == ("socialdesk: the database did not answer (unable to open database file); check "
                           "SOCIALDESK_DATABASE_URL and that the database is running\n")
    refused = cli("rules", "list", env={"SOCIALDESK_DATABASE_URL": "postgresql+psycopg://desk:hunter2@127.0.0.1:1/desk"})
    assert refused.returncode == 1 and "the database did not answer (connection" in refused.stderr
    assert "hunter2" not in refused.stderr and refused.stderr.count("\n") == 1


def test_every_command_says_what_it_does_in_its_help():
    from socialdesk.cli import _parser

    def commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    yield path + (name,), sub
                    yield from commands(sub, path + (name,))

    found = dict(commands(_parser()))
    assert {("rules", "add"), ("rules", "pause"), ("auth", "x"), ("webhooks", "deliveries"), ("forget",)} <= set(found)
    assert [" ".join(path) for path, sub in found.items() if not (sub.description or "").strip()] == []
    # Each argument says what it takes too (`rules pause ID` without it reads "id" and nothing more).
    unexplained = [f"{' '.join(path)} {action.option_strings[0] if action.option_strings else action.dest}"
                   for path, sub in found.items() for action in sub._actions
                   if not isinstance(action, (argparse._HelpAction, argparse._SubParsersAction))
                   and not (action.help or "").strip()]
    assert unexplained == []


def test_run_help_lists_every_setting_from_the_settings_themselves(cli):
    from socialdesk.config import REQUIRED_TO_RUN, Settings

    shown = cli("run", "--help", env={"SLACK_BOT_TOKEN": "xoxb-not-for-help", "SOCIALDESK_HTTP_PORT": "4000"})
    assert shown.returncode == 0 and shown.stdout.startswith("usage: socialdesk run")
    names = [line.split()[0] for line in shown.stdout.splitlines()
             if line.startswith("  ") and line.split()[0].startswith(("SOCIALDESK_", "SLACK_"))]
    assert sorted(names) == sorted(field.alias for field in Settings.model_fields.values())  # each once
    required = shown.stdout.split("\nrequired:\n")[1].split("\n\n")[0]
    assert [line.split()[0] for line in required.splitlines() if not line.startswith("      ")] == \
        [Settings.model_fields[name].alias for name in REQUIRED_TO_RUN]
    assert "  SOCIALDESK_HTTP_PORT (default 3000)\n      HTTP mode: the port" in shown.stdout  # defaults, not the env
    assert "  SOCIALDESK_WEBHOOKS_ALLOW_LOOPBACK (default false)\n" in shown.stdout
    assert "xoxb-not-for-help" not in shown.stdout and "4000" not in shown.stdout
    every = [field for field in Settings.model_fields.values() if not (field.description or "").strip()]
    assert every == [], "each setting says what it is (its description is what `run --help` prints)"


def test_the_entry_point_runs_as_a_process():
    shown = process("--help", env={})
    assert shown.returncode == 0 and shown.stdout.startswith("usage: socialdesk") and "webhooks" in shown.stdout
    usage = process("rules", "frobnicate", env={})
    assert usage.returncode == 2 and "invalid choice" in usage.stderr


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_run_refuses_bad_settings_in_one_line(env):
    bad_port = process("run", env={**env, "SOCIALDESK_HTTP_PORT": "eighty"})
    assert bad_port.returncode == 2 and bad_port.stderr.startswith("socialdesk: SOCIALDESK_HTTP_PORT is invalid")
    assert "Traceback" not in bad_port.stderr
    no_token = process("run", env=env)
    assert no_token.returncode == 2
    assert no_token.stderr.strip().startswith("socialdesk: SLACK_BOT_TOKEN is not set: copy the Bot User OAuth Token")


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_db_upgrade_reports_the_revision(env, cli):
    result = cli("db", "upgrade", env=env)
    assert result.returncode == 0 and result.stdout.strip() == f"database is at revision {head_revision()}"


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_preview_prints_normalized_posts_as_json_lines(env, cli):
    with FakeX(bearer_token="preview-token") as fake_x:
        fake_x.post(username="dana_k", text="acme phone <!channel> & cracked")
        original = fake_x.post(username="eli", text="acme phone is great")
        fake_x.post(username="fan", text="", retweet_of=original["id"])
        result = cli("rules", "preview", "--network", "x", "--query", "acme phone",
                     env={**env, "SOCIALDESK_X_API_URL": fake_x.url, "SOCIALDESK_X_BEARER_TOKEN": "preview-token"})
        assert result.returncode == 0, result.stderr
        records = [json.loads(line) for line in result.stdout.splitlines()]
        assert [r["author"]["handle"] for r in records] == ["fan", "eli", "dana_k"]
        assert records[2]["text"] == "acme phone <!channel> & cracked"
        assert records[0]["is_repost"] and records[0]["skipped"] == "repost"
        assert records[1]["skipped"] is None
        assert not records[1]["lang_detected"]
        fewer = cli("rules", "preview", "--network", "x", "--query", "acme phone", "--limit", "2",
                    env={**env, "SOCIALDESK_X_API_URL": fake_x.url, "SOCIALDESK_X_BEARER_TOKEN": "preview-token"})
        assert [json.loads(line)["author"]["handle"] for line in fewer.stdout.splitlines()] == ["fan", "eli"]
        # A language X could not tell is guessed, before `--lang` marks posts skipped (as the poller does).
        fake_x.post(username="lucia", text="acme phone: mi teléfono no enciende desde ayer y nadie responde",
                    lang="und")
        spanish = cli("rules", "preview", "--network", "x", "--query", "acme phone", "--lang", "en",
                      env={**env, "SOCIALDESK_X_API_URL": fake_x.url, "SOCIALDESK_X_BEARER_TOKEN": "preview-token"})
        first = json.loads(spanish.stdout.splitlines()[0])
        assert (first["lang"], first["lang_detected"], first["skipped"]) == ("es", True, "language es")
        bad = cli("rules", "preview", "--network", "x", "--query", "acme",
                  env={**env, "SOCIALDESK_X_API_URL": fake_x.url, "SOCIALDESK_X_BEARER_TOKEN": "wrong"})
        assert bad.returncode == 2 and "X refused the credentials (401" in bad.stderr


def test_rules_spam_filing_and_routes_are_set_checked_listed_and_edited(env, cli):
    added = cli("rules", "add", "--network", "x", "--query", "acme", "--channel", "C0CARE", "--ignore-spam",
                "--route", "question=C0SUPPORT", "--route", "tag:refund=C0BILLING", env=env)
    assert added.stdout.strip() == ("rule 1 added: x 'acme' → C0CARE every 60 s; likely spam filed as ignored; "
                                    "routes question=C0SUPPORT, tag:refund=C0BILLING")
    listed = cli("rules", "list", env=env).stdout
    assert "likely spam filed as ignored" in listed and "routes: question=C0SUPPORT, tag:refund=C0BILLING" in listed
    edited = cli("rules", "edit", "1", "--no-ignore-spam", "--route", "Praise=C0MARKET", env=env)
    assert edited.stdout.strip() == "rule 1: routes praise=C0MARKET"
    assert cli("rules", "edit", "1", "--no-routes", env=env).stdout.strip() == (
        "rule 1: likely spam opens normal cases; no routes")
    assert "routes:" not in cli("rules", "list", env=env).stdout
    for bad, says in ((["--route", "refund=C0BILLING"], "'refund' is not an intent a route can name"),
                      (["--route", "question=support"], "'support' is not a Slack channel id"),
                      (["--route", "question"], "is not NAME=CHANNEL")):
        ran = cli("rules", "edit", "1", *bad, env=env)
        assert ran.returncode == 2 and says in ran.stderr
    nothing = cli("rules", "edit", "1", env=env)
    assert nothing.returncode == 2 and "nothing to change" in nothing.stderr
    assert cli("rules", "edit", "9", "--ignore-spam", env=env).returncode == 2  # no such rule
    assert "--ignore-spam" in cli("rules", "add", "--help", env=env).stdout


@pytest.mark.parametrize(("argv", "says"), [
    (("webhooks", "deliveries", "1", "--limit", "0"), "argument --limit: 0 is out of range; use a number from 1 to 1000"),
    (("demo", "--port", "99999"), "argument --port: 99999 is out of range; use a number from 1 to 65535"),
    (("sandbox", "--port", "http"), "argument --port: 'http' is not a whole number; use one from 1 to 65535"),
    (("demo", "--speed", "fast"), "argument --speed: 'fast' is not a number; use a positive one like 2 or 0.5"),
    (("sandbox", "--duration", "-5"), "argument --duration: -5 is not a positive number; use one like 2 or 0.5"),
    (("export", "--format", "jsonl", "--batch", "99999999999999999999"),
     "argument --batch: 99999999999999999999 is out of range; use a number from 1 to 100,000"),
    (("demo", "--duration", "inf"), "argument --duration: inf is not a positive number; use one like 2 or 0.5"),
    (("rules", "add", "--network", "x", "--query", "acme", "--channel", "C0123ABCD", "--priority-followers", "-5"),
     "argument --priority-followers: -5 is out of range; use a number from 0 to 1,000,000,000"),
    # Not a number, but the same kind of mistake: a rule with --lang english would skip every post.
    (("rules", "add", "--network", "x", "--query", "acme", "--channel", "C0123ABCD", "--lang", "english"),
     "argument --lang: 'english' is not a language code; use a lower-case ISO 639 code like en or pt"),
    (("rules", "preview", "--network", "x", "--query", "acme", "--lang", "EN"),
     "argument --lang: 'EN' is not a language code; use a lower-case ISO 639 code like en or pt"),
])
def test_values_out_of_range_are_usage_errors_that_give_the_range(cli, argv, says):
    """Refused while parsing, before anything starts: no traceback, no silent clamping (--limit 0 printed 1)."""
    ran = cli(*argv, env={})
    assert ran.returncode == 2 and ran.stderr.splitlines()[-1].endswith(f"error: {says}"), ran.stderr


def test_the_readme_quick_start_is_two_commands_in_two_blocks(cli):
    """Each command can be copied alone, and the reader knows before typing it that the first one stays running."""
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    quick = readme.split("\n## Quick start\n")[1].split("\n## ")[0]
    assert re.findall(r"```sh\n(.*?)```", quick, re.DOTALL) == ["pip install -e . && socialdesk demo\n",
                                                                "bash .ci/run\n"]
    assert "keeps running until you press Ctrl-C" in " ".join(quick.split("```sh")[0].split())
    shown = cli("demo", "--help", env={}).stdout
    options = set(re.findall(r"`(--[a-z-]+)", quick))
    assert options and [o for o in sorted(options) if o not in shown] == []  # the options it names exist


def test_rules_list_shows_each_rule_s_state_and_the_streams(env, cli):
    from datetime import UTC, datetime, timedelta

    from socialdesk.store import rules as rule_store
    from socialdesk.store import streams as stream_store
    from socialdesk.store.db import make_engine, session_scope

    for query in ("acme phone", "acme tv", "acme radio"):
        assert cli("rules", "add", "--network", "x", "--query", query, "--channel", "C0123ABCD", "--every", "60",
                   env=env).returncode == 0
    now = datetime.now(UTC)
    engine = make_engine(env["SOCIALDESK_DATABASE_URL"])
    try:
        with session_scope(engine) as session:
            rule_store.record_failure(session=session, rule_id=1, error="X answered 503", now=now - timedelta(hours=1),
                                      not_before=now + timedelta(seconds=30))
            rule_store.save_cursor(session=session, rule_id=2, cursor={"since_id": "5"}, not_before=None,
                                   now=now - timedelta(minutes=10))  # every 60 s: behind
            rule_store.record_gap(session=session, rule_id=2, start=now - timedelta(days=9), end=now - timedelta(days=7),
                                  now=now)
            rule_store.save_cursor(session=session, rule_id=3, cursor={"since_id": "6"}, not_before=None, now=now)
            stream_store.take_lease(session=session, network="x", holder="h1", now=now, seconds=30)
            stream_store.record_connection(session=session, network="x", holder="h1", now=now - timedelta(minutes=3),
                                           error="the stream dropped")
    finally:
        engine.dispose()
    rows = {line.split()[0]: line for line in cli("rules", "list", env=env).stdout.splitlines()[1:]
            if line.split()[0].isdigit()}
    listed = cli("rules", "list", env=env).stdout
    assert rows["1"].split()[4] == "failing" and rows["2"].split()[4] == "behind" and rows["3"].split()[4] == "ok"
    assert f"state: failing since {(now - timedelta(hours=1)):%Y-%m-%d %H:%M} UTC" in listed
    assert "last error: X answered 503" in listed
    assert f"missed posts from {(now - timedelta(days=9)):%Y-%m-%d %H:%M} to " in listed
    assert f"X stream: failing since {(now - timedelta(minutes=3)):%Y-%m-%d %H:%M} UTC: the stream dropped" in listed


@pytest.mark.parametrize("blank", ["SLACK_SIGNING_SECRET", "SLACK_BOT_TOKEN"])
def test_run_takes_a_blank_secret_for_unset(cli, blank):
    """A blank signing secret was a traceback; a blank bot token started the app calling Slack with it."""
    # A database URL nothing opens: were the secret taken, `run` stops there rather than serving.
    ran = cli("run", env={"SOCIALDESK_DATABASE_URL": "foo://", "SLACK_BOT_TOKEN": "xoxb-1",
                          "SLACK_SIGNING_SECRET": "s", blank: " "})
    assert ran.returncode == 2 and ran.stderr.startswith(f"socialdesk: {blank} is not set: copy the ")
    assert ran.stderr.count("\n") == 1


@pytest.fixture
def taken_port():
    """A port something already listens on (127.0.0.1)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


RUNNABLE = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s", "SOCIALDESK_HTTP_HOST": "127.0.0.1",
            "SOCIALDESK_SLACK_API_URL": "http://127.0.0.1:9/", "SOCIALDESK_BLUESKY_JETSTREAM_URL": ""}


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_run_on_a_port_in_use_is_one_line_before_anything_starts(env, cli, taken_port):
    """It was an OSError traceback, after the jobs had started."""
    ran = cli("run", env={**env, **RUNNABLE, "SOCIALDESK_HTTP_PORT": str(taken_port)})
    assert (ran.returncode, ran.stderr) == (1, f"socialdesk: SOCIALDESK_HTTP_PORT {taken_port} is in use on "
                                               f"127.0.0.1: stop what listens there (another socialdesk?) or set "
                                               "SOCIALDESK_HTTP_PORT to a free port\n")


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_run_with_its_metrics_port_in_use_is_one_line(env, taken_port):
    from tests.support.ports import free_port

    # A process: `run` has set its signal handlers by the time the metrics port is opened.
    ran = process("run", env={**env, **RUNNABLE, "SOCIALDESK_HTTP_PORT": str(free_port()),
                              "SOCIALDESK_METRICS_PORT": str(taken_port)})
    assert ran.returncode == 1 and ran.stderr.splitlines()[-1] == (
        f"socialdesk: SOCIALDESK_METRICS_PORT {taken_port} is in use on 127.0.0.1: stop what listens there "
        "(another socialdesk?) or set SOCIALDESK_METRICS_PORT to a free port")
    assert "Traceback" not in ran.stderr


@pytest.mark.parametrize("host", ["localhost:3000", "http://127.0.0.1", "nosuch.invalid"])
def test_run_on_a_host_it_cannot_listen_on_is_a_setting_to_fix(cli, host):
    ran = cli("run", env={**RUNNABLE, "SOCIALDESK_DATABASE_URL": "sqlite:///desk.db", "SOCIALDESK_HTTP_HOST": host})
    assert ran.returncode == 2 and ran.stderr.startswith("socialdesk: SOCIALDESK_HTTP_HOST is invalid: ")
    assert ran.stderr.count("\n") == 1


def test_a_database_file_that_is_not_sqlite_is_one_line(cli, tmp_path):
    """An 80-line traceback: the driver's DatabaseError is OperationalError's parent, which was all that was caught."""
    (tmp_path / "junk.db").write_text("notadb\n")
    ran = cli("rules", "list", env={"SOCIALDESK_DATABASE_URL": f"sqlite:///{tmp_path}/junk.db"})
    assert (ran.returncode, ran.stderr) == (1, "socialdesk: the database could not be used (file is not a database); "
                                               "check that SOCIALDESK_DATABASE_URL names socialdesk's database\n")
