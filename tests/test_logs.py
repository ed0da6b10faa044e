import logging

from socialdesk.logs import RedactingFilter, redact


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
