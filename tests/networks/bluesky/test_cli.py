"""`socialdesk` commands for Bluesky as an admin runs them: in-process (`main`), FakeBluesky, a real database."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from socialdesk.networks.bluesky.fake.pds import FakeBluesky
from socialdesk.store import rules as rule_store
from socialdesk.store.credentials import get_credential
from socialdesk.store.db import make_engine, session_scope

BRAND, PASSWORD = "acmephones.bsky.social", "cli-app-password"


@pytest.fixture
def fake() -> Iterator[FakeBluesky]:
    with FakeBluesky(brand_handle=BRAND, brand_password=PASSWORD) as server:
        yield server


@pytest.fixture
def env(fake: FakeBluesky, tmp_path: Path) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SOCIALDESK_", "SLACK_"))}
    return {**base, "SOCIALDESK_DATABASE_URL": f"sqlite:///{tmp_path}/s.db", "SOCIALDESK_BLUESKY_SERVICE_URL": fake.url,
            "SOCIALDESK_BLUESKY_HANDLE": BRAND, "SOCIALDESK_BLUESKY_APP_PASSWORD": PASSWORD,
            "SOCIALDESK_BLUESKY_JETSTREAM_URL": ""}


@pytest.fixture
def run(cli):
    """The command in-process (tests.support.cli): a process would add only its start-up."""
    return cli


def test_auth_bluesky_signs_in_once_and_keeps_the_tokens(run, fake, env, tmp_path):
    signed = run("auth", "bluesky", env=env)
    assert signed.returncode == 0, signed.stderr
    assert f"signed in to Bluesky as @{BRAND} ({fake.world.brand_did})" in signed.stdout
    engine = make_engine(env["SOCIALDESK_DATABASE_URL"])
    with session_scope(engine) as session:
        row = get_credential(session=session, network="bluesky")
        assert (row.account_id, row.account_handle) == (fake.world.brand_did, BRAND) and row.refresh_token
    assert PASSWORD not in signed.stdout + signed.stderr and row.access_token not in signed.stdout + signed.stderr
    # A second run checks the stored session with Bluesky (no new login); a revoked one is renewed.
    assert run("auth", "bluesky", env=env).returncode == 0
    assert len(fake.requests("/xrpc/com.atproto.server.createSession")) == 1
    assert fake.requests("/xrpc/app.bsky.actor.getProfiles")[-1].headers["authorization"].startswith("Bearer ")
    fake.expire_access_tokens()
    assert run("auth", "bluesky", env=env).returncode == 0
    assert len(fake.requests("/xrpc/com.atproto.server.refreshSession")) == 1


def test_auth_bluesky_says_what_to_set_and_what_was_refused(run, fake, env):
    missing = run("auth", "bluesky", env={**env, "SOCIALDESK_BLUESKY_APP_PASSWORD": ""})
    assert missing.returncode == 2 and "SOCIALDESK_BLUESKY_APP_PASSWORD" in missing.stderr
    refused = run("auth", "bluesky", env={**env, "SOCIALDESK_BLUESKY_APP_PASSWORD": "not-this-one-42"})
    assert refused.returncode == 2 and "SOCIALDESK_BLUESKY_APP_PASSWORD" in refused.stderr
    assert refused.stderr.strip().splitlines()[-1].startswith("socialdesk: ")
    assert "not-this-one-42" not in refused.stderr + refused.stdout


def test_auth_bluesky_when_bluesky_does_not_answer_is_exit_1_try_again_later(run, env):
    """It was exit 2, as if a setting were wrong, and said "retrying later" though nothing retries."""
    gone = run("auth", "bluesky", env={**env, "SOCIALDESK_BLUESKY_SERVICE_URL": "http://127.0.0.1:9"})
    assert gone.returncode == 1 and gone.stderr.count("\n") == 1
    assert gone.stderr.startswith("socialdesk: Bluesky's sign-in service did not answer (")
    assert gone.stderr.endswith("; try again later\n") and "retrying" not in gone.stderr


def test_rules_add_mentions_keeps_the_accounts_did_and_queries_are_checked(run, fake, env):
    added = run("rules", "add", "--network", "bluesky", "--kind", "mentions", "--account", BRAND, "--channel",
                "C0123ABCD", env=env)
    assert added.returncode == 0, added.stderr
    assert fake.world.brand_did in added.stdout
    engine = make_engine(env["SOCIALDESK_DATABASE_URL"])
    with session_scope(engine) as session:
        [rule] = rule_store.list_rules(session=session)
        assert (rule.network, rule.kind, rule.query) == ("bluesky", "mentions", fake.world.brand_did)
    nobody = run("rules", "add", "--network", "bluesky", "--kind", "mentions", "--account", "nobody.bsky.social",
                 "--channel", "C0123ABCD", env=env)
    assert nobody.returncode == 2 and "nobody.bsky.social" in nobody.stderr
    unreadable = run("rules", "add", "--network", "bluesky", "--query", '"acme phone', "--channel", "C0123ABCD",
                     env=env)
    assert unreadable.returncode == 2 and "quote" in unreadable.stderr.lower()


def test_preview_shows_what_the_stream_would_take(run, fake, env):
    ann = fake.world.add_account("ann.bsky.social", "Ann")
    fake.world.add_post(ann, "acme phone question")
    fake.world.add_post(ann, "acme giveaway now")
    shown = run("rules", "preview", "--network", "bluesky", "--query", "acme -giveaway", env=env)
    assert shown.returncode == 0, shown.stderr
    records = [json.loads(line) for line in shown.stdout.splitlines()]
    skipped = {r["text"]: r["skipped"] for r in records}
    assert skipped["acme phone question"] is None
    assert "does not match the query" in skipped["acme giveaway now"]
    assert all(r["network"] == "bluesky" and r["author"]["handle"] == "ann.bsky.social" for r in records)
