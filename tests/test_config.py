import pytest

from socialdesk.config import ConfigError, Settings, load_settings


def test_defaults_need_no_environment(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # no .env here
    settings = load_settings()
    assert settings.database_url == "sqlite:///socialdesk.db"
    assert settings.slack_api_url == "https://slack.com/api/"
    assert settings.x_api_url == "https://api.x.com"
    assert settings.http_port == 3000


def test_invalid_value_names_the_variable(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SOCIALDESK_HTTP_PORT", "eighty")
    with pytest.raises(ConfigError, match="^SOCIALDESK_HTTP_PORT is invalid"):
        load_settings()


def test_missing_required_setting_names_it_and_says_what_to_do():
    with pytest.raises(ConfigError, match="^SLACK_SIGNING_SECRET is not set: copy the Signing Secret"):
        Settings(SLACK_BOT_TOKEN="xoxb-1").require("slack_bot_token", "slack_signing_secret")


def test_own_handles_are_normalised():
    settings = Settings(SOCIALDESK_OWN_HANDLES="@AcmePhones, acme_help  @")
    assert settings.own_handle_set == {"acmephones", "acme_help"}


def test_env_file_is_read(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("SOCIALDESK_X_API_URL=http://127.0.0.1:9/\n")
    assert load_settings().x_api_url == "http://127.0.0.1:9"


def test_secrets_do_not_show_in_repr():
    settings = Settings(SLACK_BOT_TOKEN="xoxb-very-secret")
    assert "very-secret" not in repr(settings)


def test_leases_default_to_what_the_jobs_use(monkeypatch, tmp_path):
    """The lease settings exist so tests can shorten a dead process's leases; production keeps the jobs' own."""
    from socialdesk.jobs import publish, stream

    monkeypatch.chdir(tmp_path)
    settings = load_settings()
    assert settings.publish_lease_seconds == publish.LEASE_SECONDS == 60
    assert settings.stream_lease_seconds == stream.LEASE_SECONDS == 20
    monkeypatch.setenv("SOCIALDESK_PUBLISH_LEASE_SECONDS", "0")
    with pytest.raises(ConfigError, match="^SOCIALDESK_PUBLISH_LEASE_SECONDS is invalid"):
        load_settings()


def test_the_ops_channel_is_a_channel_id_and_alerts_wait_five_minutes_by_default(monkeypatch, tmp_path):
    from datetime import timedelta

    monkeypatch.chdir(tmp_path)
    settings = load_settings()
    assert settings.ops_channel == "" and settings.alert_timedelta == timedelta(minutes=5)
    assert load_settings(SOCIALDESK_OPS_CHANNEL="<#C0OPS123|ops>", SOCIALDESK_ALERT_AFTER="1h").ops_channel == "C0OPS123"
    assert load_settings(SOCIALDESK_ALERT_AFTER="1h").alert_timedelta == timedelta(hours=1)
    with pytest.raises(ConfigError, match="^SOCIALDESK_OPS_CHANNEL is invalid: must be a Slack channel id"):
        load_settings(SOCIALDESK_OPS_CHANNEL="#ops")
    with pytest.raises(ConfigError, match="^SOCIALDESK_ALERT_AFTER is invalid: 'soon' is not a duration"):
        load_settings(SOCIALDESK_ALERT_AFTER="soon")


def test_a_blank_setting_is_unset(monkeypatch, tmp_path):
    """`VAR=` or spaces: a secret is not set (it passed `require`), an optional port is none (it was "not a valid
    integer"), a number takes its default; a text setting with a default keeps its empty value."""
    monkeypatch.chdir(tmp_path)
    blank = {"SLACK_BOT_TOKEN": "", "SLACK_SIGNING_SECRET": "  ", "SOCIALDESK_METRICS_PORT": "",
             "SOCIALDESK_HTTP_PORT": " ", "SOCIALDESK_INCIDENT_WINDOW": ""}
    for name, value in blank.items():
        monkeypatch.setenv(name, value)
    settings = load_settings()
    assert (settings.slack_bot_token, settings.slack_signing_secret, settings.metrics_port) == (None, None, None)
    assert settings.http_port == 3000 and settings.incident_timedelta is None
    with pytest.raises(ConfigError, match="^SLACK_SIGNING_SECRET is not set: copy the Signing Secret"):
        settings.require("slack_signing_secret")
    from pydantic import SecretStr

    assert Settings(SLACK_BOT_TOKEN=SecretStr(" ")).slack_bot_token is None  # as tests and callers pass it


@pytest.mark.parametrize("encoding", ["utf-16", "latin-1"])
def test_an_env_file_that_is_not_utf8_is_one_line(monkeypatch, tmp_path, encoding):
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("SOCIALDESK_OWN_HANDLES=café\n", encoding=encoding)
    with pytest.raises(ConfigError, match="^.env is not UTF-8: save it as UTF-8$"):
        load_settings()


def test_an_env_file_with_a_byte_order_mark_is_read(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("SOCIALDESK_OWN_HANDLES=café\n", encoding="utf-8-sig")
    assert load_settings().own_handle_set == {"café"}


@pytest.mark.parametrize(("given", "kept"), [("0.0.0.0", "0.0.0.0"), (" localhost ", "localhost"), ("[::1]", "::1"),
                                             ("desk-1.internal", "desk-1.internal")])
def test_the_http_host_is_an_address_or_a_host_name(given, kept):
    assert Settings(SOCIALDESK_HTTP_HOST=given).http_host == kept


@pytest.mark.parametrize("given", ["localhost:3000", "http://0.0.0.0", "", "a b"])
def test_an_http_host_with_a_port_or_a_scheme_is_refused(given):
    with pytest.raises(ConfigError, match="^SOCIALDESK_HTTP_HOST is invalid: .* without http:// or a port"):
        load_settings(SOCIALDESK_HTTP_HOST=given)


@pytest.mark.parametrize("name", ["SOCIALDESK_X_MONTHLY_BUDGET", "SOCIALDESK_SLACK_POST_INTERVAL",
                                  "SOCIALDESK_X_RATE_POST_READ"])
@pytest.mark.parametrize("given", ["inf", "nan", "-inf"])
def test_a_number_setting_is_finite(monkeypatch, tmp_path, name, given):
    """`inf` was taken: usage printed "budget $inf"."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(name, given)
    with pytest.raises(ConfigError, match=f"^{name} is invalid: Input should be a finite number"):
        load_settings()
