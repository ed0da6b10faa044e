"""The digest's blocks: figures with their changes, escaping, Block Kit limits."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from slack_sdk.models.blocks import ActionsBlock

from socialdesk.slack import ids
from socialdesk.slack.blocks.digest import (
    change,
    digest_blocks,
    digest_text,
    duration,
    sparkline,
)
from socialdesk.store.figures import AgentFigures, AuthorFigures, Backlog, Figures, RuleFigures, Spread, UnclaimedCase

START, END = datetime(2026, 1, 15, tzinfo=UTC), datetime(2026, 1, 16, tzinfo=UTC)
HOSTILE = "<!channel> & <@U0BOSS> <https://evil.example|click>"


def figs(**kw) -> Figures:
    return Figures(start=START, end=END, **kw)


def render(blocks) -> str:
    return json.dumps([b.to_dict() for b in blocks], ensure_ascii=False)


def busy() -> Figures:
    return figs(
        opened=12, claimed=9, replied=8, resolved=6, ignored=1, sla_breached=2,
        first_response=Spread(3, 3600, 39600), time_to_resolve=Spread(2, 7200, 43200),
        agents=[AgentFigures("UA", 2, 2, 1), AgentFigures("system", 0, 0, 1)],
        rules=[RuleFigures(1, "x: acme & <phones>", 3, 2), RuleFigures(None, "no rule", 1, 0)],
        sentiment={"negative": 6, "neutral": 3, "positive": 3, "unknown": 0},
        hourly=[0] * 9 + [1, 4, 8] + [0] * 12,
        top_authors=[AuthorFigures("x", HOSTILE, 4), AuthorFigures("x", "dana", 1)],
    )


WAITING = Backlog(waiting=2, oldest=[UnclaimedCase(7, START, "x", "C1", "1.0", "high"),
                                             UnclaimedCase(9, START, "x", "C1", None, "normal")])


def test_change_and_duration_labels():
    assert change(12, 10) == "▲ 20%"
    assert change(5, 10) == "▼ 50%"
    assert change(10, 10) == "= 0%"
    assert change(3, 0) == "▲ new" and change(0, 0) == "–"
    assert change(None, 5.0) == "–" and change(5.0, None) == "–"
    assert [duration(s) for s in (None, 45, 720, 3600, 11100, 2 * 86400 + 4 * 3600)] == ["–", "45 s", "12 min", "1 h", "3 h 5 min", "2 d 4 h"]


def test_sparkline_scales_to_the_maximum():
    assert sparkline([0, 1, 2, 4, 8]) == "▁▂▃▅█"
    assert sparkline([0] * 24) == "▁" * 24
    assert sparkline([]) == ""
    assert len(sparkline(list(range(24)))) == 24


def test_figures_and_their_changes_are_shown():
    before = figs(opened=10, claimed=9, replied=4, resolved=12, first_response=Spread(2, 1800, 7200),
                  sentiment={"negative": 2, "neutral": 3, "positive": 3, "unknown": 0})
    blocks = digest_blocks(busy(), before, title="Daily digest", period_label="Thu 15 Jan 2026",
                           permalinks={7: "https://acme.slack.com/archives/C1/p1"}, backlog=WAITING)
    text = render(blocks)
    assert "*Opened*\\n12  `▲ 20%` _(was 10)_" in text
    assert "*Replied*\\n8  `▲ 100%`" in text
    assert "*Resolved*\\n6  `▼ 50%`" in text
    assert "median 1 h  `▲ 100%`" in text and "p90 11 h  `▲ 450%`" in text
    assert "▁▁▁▁▁▁▁▁▁▂▅█▁" in text  # the hourly sparkline
    assert "<@UA> · 2 claimed · 2 replied · 1 resolved" in text and "_system_" in text
    assert "😠 negative 6 (50%, `▲ 200%`)" in text
    assert "<https://acme.slack.com/archives/C1/p1|Case #7> 🔥" in text and "Case #9 · waiting" in text
    [actions] = [b for b in blocks if isinstance(b, ActionsBlock)]
    button = actions.to_dict()["elements"][0]
    assert button["action_id"] == ids.DIGEST_BACKLOG and button["url"] == "https://acme.slack.com/archives/C1/p1"
    assert "*Backlog now* · 2 cases waiting for a claim\\n" in text
    assert digest_text(busy(), title="Daily digest", period_label="Thu 15 Jan 2026").startswith("Daily digest — Thu 15 Jan 2026: 12 opened")
    assert digest_text(busy(), title="D", period_label="p", backlog=WAITING).endswith("; 2 waiting now")


def test_the_backlog_waiting_now_is_shown_even_when_the_period_was_quiet():
    """Issue #15: "the backlog is clear 🎉" with 10 cases waiting (opened after the period)."""
    waiting = Backlog(waiting=10, oldest=[UnclaimedCase(i, END, "x", "C1", None, "normal") for i in range(1, 6)])
    text = render(digest_blocks(figs(hourly=[0] * 24), figs(), title="Digest", period_label="day", permalinks={},
                                backlog=waiting, compared_with="the day before"))
    assert "clear" not in text
    assert "*Backlog now* · 10 cases waiting for a claim\\nCase #1 · waiting since" in text
    assert "_…and 5 more: `/social queue all` lists them_" in text and "compared with the day before" in text


def test_hostile_handles_and_rule_queries_are_escaped():
    text = render(digest_blocks(busy(), figs(), title="Digest", period_label="<!here>", permalinks={}))
    assert "<!channel>" not in text and "<@U0BOSS>" not in text and "<!here>" not in text and "<https://evil" not in text
    assert "@&lt;!channel&gt; &amp; &lt;@U0BOSS&gt;" in text
    assert "x: acme &amp; &lt;phones&gt;" in text


def test_an_empty_period_renders_and_has_no_backlog_button():
    blocks = digest_blocks(figs(hourly=[0] * 24), figs(hourly=[0] * 24), title="Digest", period_label="day", permalinks={})
    text = render(blocks)
    assert "No claims, replies or resolutions" in text and "the backlog is clear" in text
    assert not [b for b in blocks if isinstance(b, ActionsBlock)]
    for block in blocks:
        block.validate_json()


def test_a_week_shows_one_sparkline_per_day():
    hourly = [0] * (7 * 24)
    hourly[0], hourly[-1] = 2, 1
    text = render(digest_blocks(figs(hourly=hourly), figs(), title="Weekly", period_label="w", permalinks={}))
    assert "`Mon █" in text and "`Sun ▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▅`" in text


def test_huge_figures_stay_within_block_kit_limits():
    many = figs(
        opened=10**6,
        agents=[AgentFigures(f"U{i:030d}", i, i, i) for i in range(500)],
        rules=[RuleFigures(i, HOSTILE * 40, i, i) for i in range(500)],
        top_authors=[AuthorFigures("x", "&" * 500, 10**6) for _ in range(5)],
        hourly=[10**6] * (7 * 24),
    )
    waiting = Backlog(waiting=10**6, oldest=[UnclaimedCase(i, START, "x", "C1", "1.0", "high") for i in range(5)])
    links = {i: "https://acme.slack.com/archives/C1/p" + "9" * 900 for i in range(5)}
    blocks = digest_blocks(many, figs(), title="T" * 500, period_label="P" * 3000, permalinks=links, backlog=waiting,
                           compared_with="C" * 3000)
    assert len(blocks) <= 50
    for block in blocks:
        block.validate_json()  # slack_sdk's own limit checks
        data = block.to_dict()
        for text in [data.get("text", {}).get("text", "") if isinstance(data.get("text"), dict) else ""] + [
            f["text"] for f in data.get("fields", [])
        ] + [e.get("text", "") for e in data.get("elements", []) if isinstance(e.get("text"), str)]:
            assert len(text) <= 3000
    assert "more agents" in render(blocks)
