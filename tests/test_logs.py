import io
import json
import logging
import secrets
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from socialdesk import logs
from socialdesk.jobs.poll import Poller
from socialdesk.logs import RedactingFilter, redact
from socialdesk.networks.x.fake.server import FakeX
from socialdesk.networks.x.search import SEARCH_PATH, XSource
from socialdesk.store import rules as rule_store
from socialdesk.store.db import session_scope
from tests.support.db import engine  # noqa: F401  (fixture)
from tests.support.networks import x_network


def test_tokens_and_bearer_credentials_are_masked():
    line = "headers={'Authorization': 'Bearer AAAAsecretBEARER%3D'} token=xoxb-1234-5678-abcdef app=xapp-1-A1-xyz"
    clean = redact(line)
    assert "secretBEARER" not in clean
    assert "1234-5678-abcdef" not in clean
    assert "A1-xyz" not in clean
    assert "[redacted]" in clean


def test_the_filter_rewrites_records_logged_with_arguments(caplog):
    logger = logging.getLogger("slack_sdk.web.base_client.test")
    logger.addFilter(RedactingFilter())
    with caplog.at_level(logging.DEBUG):
        logger.debug("Sending a request - headers: %s", {"Authorization": "Bearer xoxb-999-secret"})
    assert "999-secret" not in caplog.text
    assert "Sending a request" in caplog.text


def test_network_session_tokens_and_app_passwords_are_masked():
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJkaWQ6cGxjOmFiYyIsImV4cCI6MX0.c2lnbmF0dXJlLXBhcnQ"
    clean = redact(f"refreshSession answered {{'accessJwt': '{jwt}'}} for password abcd-ef12-gh34-ij56")
    assert "eyJzdWIi" not in clean and "c2lnbmF0dXJl" not in clean and "ef12-gh34" not in clean
    assert redact("order 2026-12-01 and version 4.2.1") == "order 2026-12-01 and version 4.2.1"


def test_a_traceback_quoting_a_secret_is_masked(caplog):
    logger = logging.getLogger("socialdesk.test.traceback")
    logger.addFilter(RedactingFilter())
    with caplog.at_level(logging.ERROR):
        try:
            raise RuntimeError("login refused for app password abcd-ef12-gh34-ij56")
        except RuntimeError:
            logger.exception("sign-in failed")
    assert "ef12-gh34" not in caplog.text and "sign-in failed" in caplog.text and "RuntimeError" in caplog.text


# --- through logs.configure(), as `socialdesk` configures it (cli.main) -----------------------------------------

_CONFIGURED = ("", "slack_sdk", "slack_bolt", "slack_bolt.App", "urllib3", "waitress.queue", "apscheduler",
               "apscheduler.scheduler", "alembic", "httpx", "httpcore")


@pytest.fixture
def app_logging() -> Iterator[Callable[[], str]]:
    """logs.configure() on the real root logger, its handler writing to a buffer; undone afterwards."""
    saved = {name: (logging.getLogger(name).level, list(logging.getLogger(name).handlers),
                    list(logging.getLogger(name).filters)) for name in _CONFIGURED}
    logs.configure("DEBUG")
    buffer = io.StringIO()
    [handler] = logging.getLogger().handlers  # the one configure() installed, with its filter
    handler.setStream(buffer)  # type: ignore[attr-defined]
    yield buffer.getvalue
    for name, (level, handlers, filters) in saved.items():
        logger = logging.getLogger(name)
        logger.setLevel(level)
        logger.handlers[:] = handlers
        logger.filters[:] = filters


def test_bolts_start_up_warnings_about_the_unused_token_are_dropped_and_its_others_kept(app_logging):
    logs.configure("DEBUG")  # again, as a second command in one process does: still one filter
    [handler] = logging.getLogger().handlers
    buffer = io.StringIO()
    handler.setStream(buffer)  # type: ignore[attr-defined]
    bolt = logging.getLogger("slack_bolt.App")
    bolt.warning("As you gave `client` as well, `token` will be unused.")
    bolt.warning("As `installation_store` or `authorize` has been used, `token` (or SLACK_BOT_TOKEN env variable) "
                 "will be ignored.")
    bolt.warning("Failed to run a middleware (error: boom)")
    assert buffer.getvalue().count("slack_bolt.App") == 1 and "Failed to run a middleware" in buffer.getvalue()
    assert len(bolt.filters) == 1


def test_webhook_secrets_are_masked_whichever_logger_logs_them(app_logging):
    generated = secrets.token_urlsafe(32)  # what `socialdesk webhooks add` makes and prints
    chosen = "our-own-receiver-secret-2026"  # --secret (at least 16 characters)
    logging.getLogger("socialdesk.jobs.webhooks").warning("delivery failed for %r",
                                                          {"url": "https://hooks.example/x", "secret": chosen})
    logging.getLogger("socialdesk.cli.webhooks").info(
        "signing secret (shown once; give it to the receiver): %s", generated)
    logging.getLogger("socialdesk.jobs.webhooks").warning("claimed %s", f"Claimed(webhook_id=1, secret={generated!r})")
    logging.getLogger("httpx").warning("retrying with %s", generated)  # bare, by its shape
    out = app_logging()
    assert generated not in out and chosen not in out
    assert out.count("[redacted]") == 4 and "delivery failed" in out and "https://hooks.example/x" in out


def test_oauth1_authorization_headers_are_masked(app_logging):
    header = ('OAuth oauth_consumer_key="xvz1evFS4wEEPTGEFPHBog", oauth_nonce="kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg", '
              'oauth_signature="tnnArxj06cWHq44gCs1OSKk%2FjLY%3D", oauth_signature_method="HMAC-SHA1", '
              'oauth_timestamp="1318622958", oauth_token="370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb", '
              'oauth_version="1.0"')
    logging.getLogger("slack_sdk.web.base_client").info("Sending a request - headers: %s", {"Authorization": header})
    logging.getLogger("httpx").warning("request headers %s", {"authorization": header})
    logging.getLogger("socialdesk.networks.x.reply").error(
        "X refused oauth_token=370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb&oauth_token_secret=LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE")
    out = app_logging()
    for secret in ("xvz1evFS4wEEPTGEFPHBog", "tnnArxj06cWHq44gCs1OSKk", "GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb",
                   "kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg", "LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE"):
        assert secret not in out, secret
    assert out.count("OAuth …[redacted]") == 2 and "Sending a request" in out and "X refused" in out


def test_database_url_passwords_are_masked_in_messages_and_tracebacks(app_logging):
    url = "postgresql+psycopg://socialdesk:Tr0ub4dor%263@db.internal:5432/socialdesk"
    logging.getLogger("socialdesk.store.db").warning("connecting to %s", url)
    try:
        raise ConnectionError(f"could not connect to {url}")
    except ConnectionError:
        logging.getLogger("socialdesk.jobs.poll").exception("rule 1: polling failed")
    out = app_logging()
    assert "Tr0ub4dor" not in out
    assert out.count("postgresql+psycopg://socialdesk:…[redacted]@db.internal:5432/socialdesk") == 2
    assert "Traceback" in out and "ConnectionError" in out


def test_ordinary_lines_are_left_alone(app_logging):
    line = ("rule 3: polling failed (X answered 503: Service Unavailable); next try at 2026-01-01T00:00:00+00:00; "
            "https://x.com/acme/status/1790000000000000000 http://127.0.0.1:8080/slack/events "
            "a secret must be at least 16 characters; next_token=b26v89c19zqg8o3fpzbkk6ap2qbg2ya")
    logging.getLogger("socialdesk.jobs.poll").warning(line)
    assert line in app_logging()


def test_slack_sdk_debug_bodies_stay_out_even_at_debug(app_logging):
    logging.getLogger("slack_sdk.web.base_client").debug("Sending a request - body: token=xoxb-1-2-secretbody")
    out = app_logging()
    assert "secretbody" not in out and "Sending a request" not in out  # the SDK stays at INFO


# --- SOCIALDESK_LOG_FORMAT=json ---------------------------------------------------------------------------------


@pytest.fixture
def json_logging() -> Iterator[Callable[[], list[dict]]]:
    """logs.configure(…, "json") on the real root logger; returns the lines written so far, each parsed."""
    saved = {name: (logging.getLogger(name).level, list(logging.getLogger(name).handlers),
                    list(logging.getLogger(name).filters)) for name in _CONFIGURED}
    logs.configure("DEBUG", "json")
    buffer = io.StringIO()
    [handler] = logging.getLogger().handlers
    handler.setStream(buffer)  # type: ignore[attr-defined]
    yield lambda: [json.loads(line) for line in buffer.getvalue().splitlines()]  # every line is one object
    for name, (level, handlers, filters) in saved.items():
        logger = logging.getLogger(name)
        logger.setLevel(level)
        logger.handlers[:] = handlers
        logger.filters[:] = filters


def test_json_lines_carry_the_case_rule_and_network_as_fields(json_logging):
    log = logging.getLogger("socialdesk.jobs.publish")
    log.warning("case %s: card not posted (%s)", 7, "channel_not_found", extra=logs.about(case_id=7))
    log.info("rule %s: polling %s recovered", 3, "X", extra=logs.about(rule_id=3, network="x"))
    logging.getLogger("socialdesk.server").info("listening")
    first, second, plain = json_logging()
    assert first == {"time": first["time"], "level": "WARNING", "logger": "socialdesk.jobs.publish",
                     "message": "case 7: card not posted (channel_not_found)", "case_id": 7}
    assert datetime.fromisoformat(first["time"]).utcoffset() == timedelta(0)
    assert (second["rule_id"], second["network"], second["message"]) == (3, "x", "rule 3: polling X recovered")
    assert plain.keys() == {"time", "level", "logger", "message"}


def test_json_lines_are_redacted_and_a_traceback_stays_on_its_line(json_logging):
    log = logging.getLogger("socialdesk.jobs.poll")
    log.warning("sending %s", {"Authorization": "Bearer xoxb-123-456-secretjson"}, extra=logs.about(rule_id=1))
    try:
        raise ConnectionError("could not connect to postgresql+psycopg://u:pa55word-json@db/socialdesk")
    except ConnectionError:
        log.exception("rule %s: polling failed", 2, extra=logs.about(rule_id=2))
    try:
        raise ValueError("a plain failure\nover two lines")
    except ValueError:
        log.exception("rule %s: unexpected", 3, extra=logs.about(rule_id=3))
    secret, quoted, plain = json_logging()
    assert "secretjson" not in json.dumps(secret) and secret["rule_id"] == 1
    assert "pa55word-json" not in json.dumps(quoted) and "ConnectionError" in json.dumps(quoted)
    assert plain["exception"].startswith("Traceback") and "over two lines" in plain["exception"]
    assert plain["rule_id"] == 3


def test_the_log_format_is_a_setting_with_a_clear_error(cli, tmp_path):
    env = {"SOCIALDESK_DATABASE_URL": f"sqlite:///{tmp_path}/s.db"}
    bad = cli("db", "upgrade", env={**env, "SOCIALDESK_LOG_FORMAT": "yaml"})
    assert bad.returncode == 2
    assert bad.stderr.strip() == ("socialdesk: SOCIALDESK_LOG_FORMAT is invalid: 'yaml' is not a log format; use "
                                  "text or json. Fix it in the environment or .env")
    assert cli("db", "upgrade", env={**env, "SOCIALDESK_LOG_FORMAT": "JSON"}).returncode == 0
    assert isinstance(logging.getLogger().handlers[0].formatter, logs.JsonFormatter)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_poller_says_which_rule_a_failure_is_about(json_logging, engine):  # noqa: F811
    with FakeX(bearer_token="log-bearer") as fake:
        fake.unavailable_next(SEARCH_PATH, times=1)
        with session_scope(engine) as session:
            rule_id = rule_store.add_rule(session=session, network="x", query="acme", channel_id="C1",
                                          every_seconds=60, lang=None, include_reposts=False,
                                          now=datetime.now(UTC)).id
        with httpx.Client(timeout=5) as http:
            source = XSource(http=http, api_url=fake.url, bearer_token="log-bearer")
            Poller(engine=engine, networks=x_network(source), own_handles=frozenset(),
                   clock=lambda: datetime.now(UTC)).poll_rule(rule_id)
    [failed] = [line for line in json_logging() if line["logger"] == "socialdesk.jobs.poll"]
    assert (failed["level"], failed["rule_id"]) == ("WARNING", rule_id)
    assert failed["message"].startswith(f"rule {rule_id}: polling failed (X answered 503")
