"""`socialdesk auth mastodon` and mentions rules: against FakeMastodon, the module and then the command (in-process)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from pydantic import ValidationError

from socialdesk.networks.base import SourceRejected
from socialdesk.networks.mastodon import cli
from socialdesk.networks.mastodon.fake.rest import FakeMastodon
from socialdesk.networks.mastodon.settings import MastodonSettings

BRAND = "acmecare@mastodon.example"


@pytest.fixture
def fake() -> Iterator[FakeMastodon]:
    with FakeMastodon() as server:
        yield server


def settings_for(url: str | None, token: str | None) -> MastodonSettings:
    return MastodonSettings(SOCIALDESK_MASTODON_URL=url, SOCIALDESK_MASTODON_TOKEN=token)


def test_settings_take_what_people_paste() -> None:
    assert settings_for("mastodon.social/", " Bearer abc ").mastodon_url == "https://mastodon.social"
    assert settings_for("https://mastodon.social", "Bearer abc").mastodon_token.get_secret_value() == "abc"
    assert settings_for("http://127.0.0.1:8080", None).mastodon_url == "http://127.0.0.1:8080"
    assert settings_for("", "").mastodon_url is None and settings_for("", "").mastodon_token is None
    with pytest.raises(ValidationError, match="address only"):
        settings_for("https://mastodon.social/@acme", "t")
    with pytest.raises(ValidationError, match="instance's address"):
        settings_for("ftp://mastodon.social", "t")
    assert "abc" not in repr(settings_for("https://m.example", "abc"))


def test_auth_says_whose_token_it_is_and_how_to_add_its_mentions_rule(fake, capsys) -> None:
    assert cli.cmd_auth_mastodon(settings_for(fake.url, fake.world.brand_token), SimpleNamespace()) == 0
    out = capsys.readouterr()
    assert f"@{BRAND} (account id {fake.world.brand.id})" in out.out
    assert f"socialdesk rules add --network mastodon --kind mentions --account {BRAND}" in out.out
    assert "mastodon.example allows 500 characters" in out.out
    assert fake.world.brand_token not in out.out + out.err


def test_auth_explains_a_missing_or_refused_token(fake, capsys) -> None:
    assert cli.cmd_auth_mastodon(settings_for(fake.url, None), SimpleNamespace()) == 2
    assert "SOCIALDESK_MASTODON_TOKEN" in capsys.readouterr().err
    assert cli.cmd_auth_mastodon(settings_for(fake.url, "wrong-token-123"), SimpleNamespace()) == 2
    err = capsys.readouterr().err
    assert err.startswith("socialdesk: ") and "SOCIALDESK_MASTODON_TOKEN" in err and "wrong-token-123" not in err


def test_auth_on_an_instance_that_does_not_answer_is_exit_1_try_again_later(capsys) -> None:
    """It was exit 2, as if a setting were wrong."""
    assert cli.cmd_auth_mastodon(settings_for("http://127.0.0.1:9", "t"), SimpleNamespace()) == 1
    err = capsys.readouterr().err
    assert err.startswith("socialdesk: Mastodon could not be reached") and err.endswith("; try again later\n")
    assert err.count("\n") == 1


def test_a_mentions_rule_keeps_the_tokens_account_id(fake) -> None:
    settings = settings_for(fake.url, fake.world.brand_token)
    assert cli.mentions_query(settings, BRAND) == fake.world.brand.id
    assert cli.mentions_query(settings, "@acmecare") == fake.world.brand.id
    with pytest.raises(SourceRejected, match=f"belongs to @{BRAND}"):
        cli.mentions_query(settings, "someone@else.example")


# --- the real command line ------------------------------------------------------------------------


@pytest.fixture
def env(fake: FakeMastodon, tmp_path: Path) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SOCIALDESK_", "SLACK_"))}
    return {**base, "SOCIALDESK_DATABASE_URL": f"sqlite:///{tmp_path}/s.db", "SOCIALDESK_MASTODON_URL": fake.url,
            "SOCIALDESK_MASTODON_TOKEN": fake.world.brand_token}


@pytest.fixture
def run(cli):
    """The command in-process (tests.support.cli): a process would add only its start-up."""
    return cli


def test_the_commands_run_as_an_admin_runs_them(run, fake, env) -> None:
    from socialdesk.store import rules as rule_store
    from socialdesk.store.db import make_engine, session_scope

    signed = run("auth", "mastodon", env=env)
    assert signed.returncode == 0, signed.stderr
    assert f"@{BRAND}" in signed.stdout and fake.world.brand_token not in signed.stdout + signed.stderr
    added = run("rules", "add", "--network", "mastodon", "--kind", "mentions", "--account", BRAND,
                "--channel", "C0123ABCD", env=env)
    assert added.returncode == 0, added.stderr
    with session_scope(make_engine(env["SOCIALDESK_DATABASE_URL"])) as session:
        [rule] = rule_store.list_rules(session=session)
        assert (rule.network, rule.kind, rule.query) == ("mastodon", "mentions", fake.world.brand.id)
    other = run("rules", "add", "--network", "mastodon", "--kind", "mentions", "--account", "bob@else.example",
                "--channel", "C0123ABCD", env=env)
    assert other.returncode == 2 and f"belongs to @{BRAND}" in other.stderr
    refused = run("auth", "mastodon", env={**env, "SOCIALDESK_MASTODON_TOKEN": "nope-42"})
    assert refused.returncode == 2 and "SOCIALDESK_MASTODON_TOKEN" in refused.stderr and "nope-42" not in refused.stderr


def test_rules_preview_shows_hashtag_keyword_and_mention_posts_as_cards_would(run, fake, env) -> None:
    import json

    ann = fake.world.add_account("ann", "Ann", domain="other.example")
    tagged = fake.world.add_status(ann, "my #AcmePhones X3 will not charge")
    fake.world.add_status(ann, "#acmephones giveaway!!! click")
    worded = fake.world.add_status(ann, "the acme battery died again")

    def preview(*args: str) -> list[dict]:
        done = run("rules", "preview", "--network", "mastodon", *args, env=env)
        assert done.returncode == 0, done.stderr
        return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]

    shown = preview("--query", "#acmephones -giveaway")
    taken = [p["id"] for p in shown if not p.get("skipped")]
    assert taken == [tagged["id"]]
    assert [p for p in shown if p["id"] == tagged["id"]][0]["author"]["handle"] == "ann@other.example"
    assert worded["id"] in [p["id"] for p in preview("--query", "acme battery")]
