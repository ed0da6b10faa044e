"""`socialdesk doctor` as an admin runs it: in-process (`main`), against the Slack emulator (through a proxy
where Slack's x-oauth-scopes header is needed: the emulator does not send it), the local fake networks and a
real database."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from socialdesk.cli.doctor import clock_verdict, rule_channels, run_checks, scopes_verdict
from socialdesk.config import Settings
from socialdesk.networks.bluesky.fake.pds import FakeBluesky
from socialdesk.networks.mastodon.fake.rest import FakeMastodon
from socialdesk.networks.x.fake.server import FakeX
from socialdesk.slack.scopes import BOT_SCOPES
from socialdesk.store import rules as rule_store
from socialdesk.store.db import make_engine, session_scope
from socialdesk.store.models import RuleRow
from tests.support.slack_emulator import OBSERVER_TOKEN, SlackEmulator
from tests.support.slack_proxy import SlackProxy

BLUESKY_HANDLE, BLUESKY_PASSWORD = "acmephones.bsky.social", "doctor-app-password"
ALL_SCOPES = ",".join(BOT_SCOPES)


@pytest.fixture
def fakes() -> Iterator[tuple[FakeX, FakeBluesky, FakeMastodon]]:
    with FakeX() as x, FakeBluesky(brand_handle=BLUESKY_HANDLE, brand_password=BLUESKY_PASSWORD) as bluesky, \
            FakeMastodon() as mastodon:
        yield x, bluesky, mastodon


@pytest.fixture
def proxy(slack_emulator: SlackEmulator) -> Iterator[SlackProxy]:
    with SlackProxy(slack_emulator.url) as p:
        p.response_headers["x-oauth-scopes"] = ALL_SCOPES  # as Slack grants what manifest.yml asks for
        yield p


@pytest.fixture
def env(fakes, slack_emulator: SlackEmulator, proxy: SlackProxy, db_url: str, cli) -> dict[str, str]:
    x, bluesky, mastodon = fakes
    env = {"SOCIALDESK_DATABASE_URL": db_url, "SLACK_BOT_TOKEN": slack_emulator.token,
           "SOCIALDESK_SLACK_API_URL": proxy.url,
           "SOCIALDESK_X_API_URL": x.url, "SOCIALDESK_X_BEARER_TOKEN": x.bearer_token,
           "SOCIALDESK_BLUESKY_SERVICE_URL": bluesky.url, "SOCIALDESK_BLUESKY_HANDLE": BLUESKY_HANDLE,
           "SOCIALDESK_BLUESKY_APP_PASSWORD": BLUESKY_PASSWORD, "SOCIALDESK_BLUESKY_JETSTREAM_URL": "",
           "SOCIALDESK_MASTODON_URL": mastodon.url, "SOCIALDESK_MASTODON_TOKEN": mastodon.world.brand_token,
           "SOCIALDESK_MASTODON_STREAMING": "false"}
    assert cli("db", "upgrade", env=env).returncode == 0
    return env


def add_rule(db_url: str, network: str, channel: str, *, routes: dict[str, str] | None = None) -> int:
    engine = make_engine(db_url)
    try:
        with session_scope(engine) as session:
            return rule_store.add_rule(session=session, network=network, query="acme", channel_id=channel,
                                       every_seconds=60, lang=None, include_reposts=False,
                                       now=datetime.now(UTC), routes=routes).id
    finally:
        engine.dispose()


def lines(stdout: str) -> dict[str, str]:
    """Each line's check name → the whole line."""
    return {line[2:].split(": ", 1)[0]: line for line in stdout.splitlines()}


@pytest.mark.both_databases
def test_every_check_passes_when_everything_is_set_up(env, cli, slack_emulator, db_url, fakes):
    x, bluesky, mastodon = fakes
    care, vip = slack_emulator.new_channel("doc"), slack_emulator.new_channel("doc")
    ids = [add_rule(db_url, "x", care, routes={"complaint": vip}), add_rule(db_url, "bluesky", care)]
    ran = cli("doctor", env=env)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    found = lines(ran.stdout)
    assert all(line.startswith("✓ ") for line in found.values()), ran.stdout
    assert list(found) == ["Slack bot token", "Slack scopes", "clock", "database",
                           f"channel {care} (rules {ids[0]}, {ids[1]})", f"channel {vip} (rule {ids[0]})",
                           "X", "Bluesky", "Mastodon"]
    assert found["Slack bot token"] == "✓ Slack bot token: accepted: @socialdesk (U0SOCIALDK) in Acme Phones " \
                                       f"({slack_emulator.team_id})"
    assert found["Slack scopes"] == f"✓ Slack scopes: all {len(BOT_SCOPES)} that manifest.yml asks for are granted"
    assert "migrated to the latest revision" in found["database"]
    assert "the bot is a member of #doc-" in found[f"channel {vip} (rule {ids[0]})"]
    assert found["X"] == "✓ X: the bearer token is accepted (the app's filtered stream has 0 rule(s))"
    assert found["Bluesky"] == f"✓ Bluesky: signed in as @{BLUESKY_HANDLE} ({bluesky.world.brand_did})"
    assert found["Mastodon"] == "✓ Mastodon: the token is accepted: signed in as @acmecare@mastodon.example " \
                                f"(account id {mastodon.world.brand.id})"
    # One cheap call per network: no search (X bills each post read), one sign-in kept in the database.
    assert [r.path for r in x.requests] == ["/2/tweets/search/stream/rules"]
    assert len(bluesky.requests("/xrpc/com.atproto.server.createSession")) == 1
    assert cli("doctor", env=env).returncode == 0
    assert len(bluesky.requests("/xrpc/com.atproto.server.createSession")) == 1  # the stored session was used


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_each_problem_is_one_line_saying_what_to_do(env, cli, slack_emulator, proxy, db_url):
    proxy.response_headers["x-oauth-scopes"] = ",".join(s for s in BOT_SCOPES if s != "channels:history")
    outside = slack_emulator.call("conversations.create", token=OBSERVER_TOKEN, name="doc-nobot")["channel"]["id"]
    member = slack_emulator.new_channel("doc")
    rule = add_rule(db_url, "mastodon", outside)
    add_rule(db_url, "x", member, routes={"complaint": "C0NOSUCHONE"})
    wrong = {**env, "SOCIALDESK_X_BEARER_TOKEN": "not-the-token", "SOCIALDESK_BLUESKY_APP_PASSWORD": "wrong-one",
             "SOCIALDESK_MASTODON_TOKEN": "revoked"}
    ran = cli("doctor", env=wrong)
    assert ran.returncode == 1
    found = lines(ran.stdout)
    assert found["Slack scopes"].startswith("✗ Slack scopes: missing channels:history: add them under OAuth & "
                                            "Permissions → Bot Token Scopes")
    assert "reinstall the app" in found["Slack scopes"]
    assert found[f"channel {outside} (rule {rule})"] == (
        f"✗ channel {outside} (rule {rule}): the bot is not a member of #doc-nobot, so its cards cannot be posted: "
        "in Slack, open the channel and type /invite @socialdesk")
    assert found[f"channel C0NOSUCHONE (rule {rule + 1})"].startswith(
        f"✗ channel C0NOSUCHONE (rule {rule + 1}): Slack has no channel C0NOSUCHONE that the bot can see: check the rule's "
        "channel id")
    assert found[f"channel {member} (rule {rule + 1})"].startswith("✓ ")
    assert found["X"].startswith("✗ X: X refused the credentials (401") and "check SOCIALDESK_X_BEARER_TOKEN" in found["X"]
    assert found["Bluesky"].startswith(f"✗ Bluesky: Bluesky refused to sign in as {BLUESKY_HANDLE}")
    assert "SOCIALDESK_BLUESKY_APP_PASSWORD" in found["Bluesky"]
    assert found["Mastodon"].startswith("✗ Mastodon: Mastodon refused the access token (401")
    assert "check SOCIALDESK_MASTODON_TOKEN" in found["Mastodon"]
    for secret in ("not-the-token", "wrong-one", "revoked", slack_emulator.token):
        assert secret not in ran.stdout + ran.stderr
    # A network nobody set up is fine until a rule needs it.
    unset = {k: v for k, v in wrong.items() if not k.startswith("SOCIALDESK_MASTODON_")}
    found = lines(cli("doctor", env=unset).stdout)
    assert found["Mastodon"] == (f"✗ Mastodon: not set up, and rule(s) {rule} need it: SOCIALDESK_MASTODON_URL and "
                                 "SOCIALDESK_MASTODON_TOKEN are not set; add them and restart")
    assert lines(cli("doctor", env={**unset, "SOCIALDESK_BLUESKY_HANDLE": ""}).stdout)["Bluesky"] == \
        "– Bluesky: not set up (no rule uses it)"


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_emulator_sends_no_scopes_header_and_doctor_says_it_did_not_check(env, cli, slack_emulator):
    ran = cli("doctor", env={**env, "SOCIALDESK_SLACK_API_URL": slack_emulator.url})
    found = lines(ran.stdout)
    assert found["Slack scopes"].startswith("– Slack scopes: not checked: Slack's answer to auth.test had no "
                                            "x-oauth-scopes header")
    assert found["rule channels"] == "– rule channels: no rules yet (socialdesk rules add …)"
    assert ran.returncode == 0, ran.stdout  # not checked is not wrong


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_token_that_is_not_the_bots_is_refused_and_the_rest_waits_for_it(env, cli):
    # The emulator takes any other token as its admin user's, as a user token (xoxp-…) would be.
    found = lines(cli("doctor", env={**env, "SLACK_BOT_TOKEN": OBSERVER_TOKEN}).stdout)
    assert found["Slack bot token"].startswith("✗ Slack bot token: it is not a bot token (Slack says it is admin's): "
                                               "copy the Bot User OAuth Token (xoxb-…)")
    assert found["Slack scopes"] == "– Slack scopes: not checked: the bot token did not work (above)"
    assert found["rule channels"] == "– rule channels: not checked: the bot token did not work (above)"
    assert found["clock"].startswith("✓ clock: within 30 s of Slack's")


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_database_must_answer_and_be_migrated(cli, db_url, tmp_path, slack_emulator):
    base = {"SLACK_BOT_TOKEN": slack_emulator.token, "SOCIALDESK_SLACK_API_URL": slack_emulator.url,
            "SOCIALDESK_BLUESKY_JETSTREAM_URL": ""}
    missing = cli("doctor", env={**base, "SOCIALDESK_DATABASE_URL": db_url})
    assert missing.returncode == 1
    assert lines(missing.stdout)["database"].startswith("✗ database: there is no database file at ")
    assert not (tmp_path / "socialdesk.db").exists()  # doctor creates nothing
    assert lines(missing.stdout)["rule channels"] == "– rule channels: not checked: the database did not work (above)"
    engine = make_engine(db_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
        conn.exec_driver_sql("INSERT INTO alembic_version VALUES ('0019')")
    engine.dispose()
    behind = lines(cli("doctor", env={**base, "SOCIALDESK_DATABASE_URL": db_url}).stdout)["database"]
    assert behind.startswith("✗ database: it is at revision 0019, behind this socialdesk's ")
    assert "run `socialdesk db upgrade`" in behind
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '0099'")
    engine.dispose()
    newer = lines(cli("doctor", env={**base, "SOCIALDESK_DATABASE_URL": db_url}).stdout)["database"]
    assert newer.startswith("✗ database: it is at revision 0099, which this socialdesk does not know")
    refused = cli("doctor", env={**base, "SOCIALDESK_DATABASE_URL":
                                 "postgresql+psycopg://doctor:s3cret-pw@127.0.0.1:1/none"})
    assert lines(refused.stdout)["database"].startswith("✗ database: it did not answer (")
    assert "check SOCIALDESK_DATABASE_URL and that the database is running" in refused.stdout
    assert "s3cret-pw" not in refused.stdout + refused.stderr


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_clock_more_than_30_seconds_off_slacks_is_a_problem(slack_emulator, db_url):
    settings = Settings(SLACK_BOT_TOKEN=slack_emulator.token, SOCIALDESK_SLACK_API_URL=slack_emulator.url,
                        SOCIALDESK_DATABASE_URL=db_url, SOCIALDESK_BLUESKY_JETSTREAM_URL="")
    with httpx.Client() as http:
        late = {c.name: c for c in run_checks(settings, http=http,
                                              clock=lambda: datetime.now(UTC) - timedelta(minutes=3))}
    assert late["clock"].ok is False
    # Slack's Date is in whole seconds: 180 s, give or take one.
    assert re.fullmatch(r"this machine's clock is 1(79|80|81) s behind Slack's: turn on time sync \(NTP.*",
                        late["clock"].said)
    assert late["Slack bot token"].ok is True


def test_the_verdicts_read_what_slack_sends():
    assert scopes_verdict("chat:write, commands", ("chat:write",)).said == \
        "all 1 that manifest.yml asks for are granted (also granted, unused: commands)"
    assert scopes_verdict("", ("chat:write", "commands")).said.startswith("missing chat:write, commands: ")
    assert clock_verdict(31).ok is False and "31 s ahead of Slack's" in clock_verdict(31).said
    assert clock_verdict(-29.6).ok is True


def test_rule_channels_lists_each_channel_once_with_its_rules():
    rules = [RuleRow(id=1, channel_id="C1", routes={"complaint": "C2", "tag:vip": "C1"}), RuleRow(id=2, channel_id="C2"),
             RuleRow(id=3, channel_id="C1")]
    assert rule_channels(rules) == {"C1": [1, 3], "C2": [1, 2]}


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_password_in_the_slack_api_url_is_not_shown(cli, db_url):
    ran = cli("doctor", env={"SOCIALDESK_DATABASE_URL": db_url, "SLACK_BOT_TOKEN": "xoxb-1",
                             "SOCIALDESK_SLACK_API_URL": "http://ops:hunter2pass@127.0.0.1:9/"})
    assert ran.returncode == 1 and "hunter2pass" not in ran.stdout + ran.stderr
    assert lines(ran.stdout)["Slack bot token"].startswith(
        "✗ Slack bot token: Slack did not answer at http://ops:…[redacted]@127.0.0.1:9/ (")
