"""Logging that never prints a secret.

slack_sdk logs request headers and bodies at DEBUG; a filter on our handler masks
tokens and bearer credentials whatever the level, and the SDK loggers stay at INFO.
"""

from __future__ import annotations

import logging
import re
import sys

# Slack tokens, bearer credentials, JWTs (the networks' session tokens) and Bluesky app passwords.
_SECRET = re.compile(r"(xox[abposr]-[A-Za-z0-9-]+|xapp-[A-Za-z0-9-]+|(?i:bearer)\s+[A-Za-z0-9._~+/%=-]+"
                     r"|eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"
                     r"|\b[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4}\b)")


def redact(text: str) -> str:
    return _SECRET.sub(lambda m: m.group(0)[:5] + "…[redacted]", text)


class _PublisherOverlapFilter(logging.Filter):
    """The publisher drains for longer than its 1 s interval on purpose; skipped runs are expected."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Publisher.run_once" not in record.getMessage()


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


def configure(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("slack_sdk", "slack_bolt", "urllib3", "waitress.queue"):
        logging.getLogger(noisy).setLevel(max(logging.INFO, root.level))
    # "Running job …" every second is noise; job failures are logged by the jobs.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    logging.getLogger("apscheduler.scheduler").addFilter(_PublisherOverlapFilter())
    logging.getLogger("alembic").setLevel(logging.WARNING)
    # One line per HTTP request to a network is noise; failures are logged by the poll job.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
