"""What the ops channel is told (slack.blocks.ops): escaped, with what to do, and how long the recovery took."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from socialdesk.slack.blocks import ops

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def test_an_alert_says_what_happened_and_what_to_do_escaped():
    message = ops.alert(text="Rule 3 (N search “<!channel> & co”) has failed", fix="Check the <token>")
    kwargs = message.as_kwargs()
    assert kwargs["text"] == "⚠️ Rule 3 (N search “&lt;!channel&gt; &amp; co”) has failed"
    assert [b["block_id"] for b in kwargs["blocks"]] == ["ops_alert", "ops_fix"]
    assert kwargs["blocks"][1]["text"]["text"] == "*What to do*: Check the &lt;token&gt;"
    assert "<!channel>" not in json.dumps(kwargs)


def test_a_recovery_says_how_long_after_the_alert():
    message = ops.recovery(text="Rule 3 has failed", opened_at=NOW - timedelta(minutes=75), now=NOW)
    assert message.text == "✅ Recovered, 75 min after the alert of 2026-12-02 10:45 UTC: Rule 3 has failed"
    long = ops.recovery(text="x" * 5000, opened_at=NOW, now=NOW)
    assert all(len(b.to_dict().get("text", {}).get("text", "")) <= 3000 for b in long.blocks)
