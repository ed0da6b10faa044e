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
