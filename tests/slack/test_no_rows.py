"""The Slack builders take plain views: nothing under slack/ imports the table models or the store's functions.

A row handed to a builder is bound to a session and carries columns no message
should show (a webhook's secret); the listeners turn rows into `store.views` first.
"""

from __future__ import annotations

import re
from pathlib import Path

import socialdesk.slack

SLACK = Path(socialdesk.slack.__file__).parent
FORBIDDEN = re.compile(r"store\.models|store import|\w+Row\b")


def test_nothing_under_slack_names_the_table_models():
    sources = sorted(SLACK.rglob("*.py"))
    assert len(sources) > 5  # the grep looks where the builders are
    found = [f"{path.relative_to(SLACK)}:{n}: {line.strip()}" for path in sources
             for n, line in enumerate(path.read_text().splitlines(), 1) if FORBIDDEN.search(line)]
    assert found == []
