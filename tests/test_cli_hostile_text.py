"""What customers and networks wrote reaches the operator's terminal without its control characters:
a post could otherwise clear the screen, retitle the terminal or turn text around (U+202E)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from socialdesk.store import curated, ingest, lifecycle
from socialdesk.store import rules as rule_store
from socialdesk.store.db import make_engine, session_scope
from tests.support.factories import x_post

HOSTILE = "\x1b[2J\x1b]0;owned title\x07\x1b[31mRED \u202eevil\u202c \x9b1m"
CONTROLS = ("\x1b", "\x07", "\u202e", "\u202c", "\x9b")


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_case_show_rules_list_and_faq_list_print_no_control_characters(db_url, cli):
    env = {"SOCIALDESK_DATABASE_URL": db_url}
    assert cli("rules", "list", env=env).returncode == 0  # migrated
    engine = make_engine(db_url)
    now = datetime.now(UTC)
    with session_scope(engine) as session:
        rule = rule_store.add_rule(session=session, network="x", query="acme", channel_id="C0123ABCD",
                                   every_seconds=60, lang=None, include_reposts=False, now=now)
        [case_id] = ingest.store_posts(session=session, posts=[x_post("line one\n" + HOSTILE, handle="cust")],
                                       rule_id=rule.id, channel_id="C0123ABCD", now=now)
        rule_store.record_failure(session=session, rule_id=rule.id, error="X said: " + HOSTILE, not_before=None,
                                  now=now)
        assert lifecycle.resolve(session=session, case_id=case_id, user_id="UALICE", now=now).ok
        curated.save_entry(session=session, case_id=case_id, question="Why " + HOSTILE, answer="Because.",
                           notes="", tags=[], actor="UALICE", now=now)
    engine.dispose()
    for args in (("case", "show", str(case_id)), ("rules", "list"), ("faq", "list")):
        shown = cli(*args, env=env)
        assert shown.returncode == 0, (args, shown.stderr)
        assert not [c for c in CONTROLS if c in shown.stdout], args
        assert "RED" in shown.stdout and "evil" in shown.stdout, args
    assert "line one\n" in cli("case", "show", str(case_id), env=env).stdout  # newlines stay
