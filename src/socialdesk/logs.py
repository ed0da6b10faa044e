"""Logging that never prints a secret.

slack_sdk logs request headers and bodies at DEBUG; a filter on our handler masks
tokens, bearer and OAuth 1.0a credentials, webhook secrets and passwords in URLs
whatever the level and whichever logger, and the SDK loggers stay at INFO.

Two formats (SOCIALDESK_LOG_FORMAT): `text`, a line for a person, and `json`, one JSON
object per line for a log collector: time, level, logger, message, and `case_id`,
`rule_id` and `network` as fields of their own when the call passed them
(`log.info(…, extra=about(rule_id=3))`). Both are redacted by the same filter.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

# Slack tokens, bearer credentials, JWTs (the networks' session tokens), app passwords (xxxx-xxxx-xxxx-xxxx)
# and language-model API keys in OpenAI's form (sk-…, sk-proj-…; SOCIALDESK_LLM_API_KEY).
_SECRET = re.compile(r"(xox[abposr]-[A-Za-z0-9-]+|xapp-[A-Za-z0-9-]+|(?i:bearer)\s+[A-Za-z0-9._~+/%=-]+"
                     r"|\bsk-[A-Za-z0-9_-]{16,}"
                     r"|eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"
                     r"|\b[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4}\b)")
# A webhook's generated signing secret (`socialdesk webhooks add`: secrets.token_urlsafe(32), 43
# characters): a lone word of exactly that length mixing upper and lower case with a digit, - or _.
_WEBHOOK_SECRET = re.compile(r"(?<![A-Za-z0-9_-])(?=[A-Za-z0-9_-]{0,42}[A-Z])(?=[A-Za-z0-9_-]{0,42}[a-z])"
                             r"(?=[A-Za-z0-9_-]{0,42}[0-9_-])[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])")
# An OAuth 1.0a Authorization header: every parameter after "OAuth" (the signature, the keys, the nonce).
_OAUTH1_HEADER = re.compile(r"\b((?i:OAuth))\s+(?:oauth_[a-z_]+\s*=\s*\\?\"[^\"\\]*\\?\"\s*,?\s*)+")
# OAuth 1.0a credentials anywhere else (a query string, a form body, a dict's repr).
_OAUTH1_PARAM = re.compile(r"\b(oauth_(?:token|token_secret|signature|consumer_key|verifier|nonce|callback_confirmed)"
                           r"(?:['\"]?\s*[:=]\s*['\"]?|%3D))([^\s'\"&,;}]+)")
# A password in a URL: postgresql+psycopg://user:PASSWORD@host/db (SQLAlchemy's own repr shows ***).
_URL_PASSWORD = re.compile(r"\b([a-z][a-z0-9+.-]*://[^\s:/@]*:)([^\s/@]+)(@)", re.IGNORECASE)
# Named secrets: secret=…, "client_secret": "…", password: …, a webhook's secret='…' in a repr,
# "signing secret (shown once; …): …" as `socialdesk webhooks add` prints it.
_NAMED_SECRET = re.compile(r"((?:\b|_)(?:[a-z_]*secret(?:\s*\([^()\n]{0,80}\))?|password|passwd|access_token"
                           r"|refresh_token)"
                           r"['\"]?\s*[:=]\s*['\"]?)(?!\*\*\*)([^\s'\"&,;}]{6,})", re.IGNORECASE)
_REDACTED = "…[redacted]"


def redact(text: str) -> str:
    text = _SECRET.sub(lambda m: m.group(0)[:5] + _REDACTED, text)
    text = _OAUTH1_HEADER.sub(lambda m: f"{m.group(1)} {_REDACTED}", text)
    text = _OAUTH1_PARAM.sub(lambda m: m.group(1) + _REDACTED, text)
    text = url_passwords_masked(text)
    text = _NAMED_SECRET.sub(lambda m: m.group(1) + _REDACTED, text)
    return _WEBHOOK_SECRET.sub(_REDACTED, text)


def url_passwords_masked(text: str) -> str:
    """`text` with the password of each URL in it masked: for lines meant for people, where `redact`'s other
    patterns would mask prose ("the bearer token")."""
    return _URL_PASSWORD.sub(lambda m: m.group(1) + _REDACTED + m.group(3), text)


class _PublisherOverlapFilter(logging.Filter):
    """The publisher drains for longer than its 1 s interval on purpose; skipped runs are expected."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Publisher.run_once" not in record.getMessage()


class _BoltStartFilter(logging.Filter):
    """Bolt warns at start that the token it read from SLACK_BOT_TOKEN is unused: app.build gives it a
    client and an authorizer (slack.identity) on purpose, so the lines only alarm whoever reads the log."""

    _SAID = ("As you gave `client` as well, `token` will be unused.",
             "As `installation_store` or `authorize` has been used, `token`")

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(self._SAID)


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and record.exc_info[1] is not None:  # a traceback may quote a secret too
            formatted = logging.Formatter().formatException(record.exc_info)
            if redact(formatted) != formatted:
                record.msg, record.args = f"{record.getMessage()}\n{redact(formatted)}", None
                record.exc_info, record.exc_text = None, None
        return True


# What a log call may say it is about, as `extra=`: each becomes a field of the JSON line.
FIELDS = ("case_id", "rule_id", "network")
FORMATS = ("text", "json")


def about(*, case_id: int | None = None, rule_id: int | None = None, network: str | None = None) -> dict[str, Any]:
    """`extra=` for a log call about a case, a rule or a network (the ones left None are left out)."""
    given = {"case_id": case_id, "rule_id": rule_id, "network": network}
    return {k: v for k, v in given.items() if v is not None}


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line (a traceback is a field, its newlines escaped)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),  # redacted already by RedactingFilter, which runs first
        }
        for name in FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = redact(value) if isinstance(value, str) else value
        if record.exc_info and record.exc_info[1] is not None:
            entry["exception"] = redact(self.formatException(record.exc_info))
        if record.stack_info:
            entry["stack"] = redact(self.formatStack(record.stack_info))
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure(level: str = "INFO", fmt: str = "text") -> None:
    """Our one handler on the root logger, at `level`, writing `fmt` ("text" or "json") to stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else
                         logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("slack_sdk", "slack_bolt", "urllib3", "waitress.queue"):
        logging.getLogger(noisy).setLevel(max(logging.INFO, root.level))
    # "Running job …" every second is noise; job failures are logged by the jobs.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    for name, only in (("apscheduler.scheduler", _PublisherOverlapFilter()), ("slack_bolt.App", _BoltStartFilter())):
        logger = logging.getLogger(name)  # configured again (a CLI command in a test): one filter, not two
        logger.filters[:] = [f for f in logger.filters if type(f) is not type(only)] + [only]
    logging.getLogger("alembic").setLevel(logging.WARNING)
    # One line per HTTP request to a network is noise; failures are logged by the poll job.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
