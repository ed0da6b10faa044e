"""The App Home builder: what agents and admins see, escaping, and Block Kit's 100-block limit."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta

from socialdesk.config import Settings
from socialdesk.domain import CaseStatus
from socialdesk.slack import ids
from socialdesk.slack.blocks import home as home_blocks
from socialdesk.slack.blocks.admin import digest_modal, rule_modal, rules_reply
from socialdesk.slack.blocks.home import Home, HomeSettings, home_view
from socialdesk.store.figures import Figures, Spread
from socialdesk.store.lookups import CaseItem, CasePage
from socialdesk.store.views import DigestView, RuleView, WebhookView
from socialdesk.store.sla import AtRisk

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
HOSTILE = "<!channel> <@U999> & <https://evil.example|click>"


def item(case_id: int, text: str = "hello", **changes) -> CaseItem:
    base = dict(case_id=case_id, status=CaseStatus.NEW, assignee=None, priority="normal",
                opened_at=NOW - timedelta(hours=2), updated_at=NOW - timedelta(minutes=5), channel_id="C1",
                message_ts="1700000000.000100", handle="dana_k", name="Dana", text=text,
                url=f"https://x.com/dana_k/status/{case_id}")
    return CaseItem(**(base | changes))


def page(items: list[CaseItem], total: int | None = None) -> CasePage:
    return CasePage(items=items, total=len(items) if total is None else total, offset=0, limit=10)


def rule(rule_id: int, query: str = "acme phone", **changes) -> RuleView:
    base = dict(id=rule_id, network="x", query=query, channel_id="C0CARE", every_seconds=60)
    return RuleView(**(base | changes))


def risk(case_id: int, state: str = "at_risk", minutes: int = 10) -> AtRisk:
    return AtRisk(case_id=case_id, state=state, status="new", priority="high", assignee=None,  # type: ignore[arg-type]
                  opened_at=NOW - timedelta(minutes=25), due=NOW + timedelta(minutes=minutes), channel_id="C1",
                  message_ts="1.2")


SETTINGS = HomeSettings(sla_targets={"high": timedelta(minutes=30), "normal": timedelta(hours=2)},
                        business_hours="Mon-Fri 09:00-17:00 Europe/Berlin", timezone="Europe/Berlin",
                        reply_users=["UALICE"], reply_groups=["S0CARE"], approvers=["UMIA"],
                        saved_replies=["Sorry <!here>", "Refund & returns"], tags=["bug", "<b>"],
                        retention_raw_days=30, retention_closed_days=0, drafts="llama3.2 at localhost:11434")


def make(**changes) -> Home:
    base = dict(user_id="UALICE", now=NOW, mine=page([item(1, status=CaseStatus.CLAIMED, assignee="UALICE")]),
                queue=page([item(2, HOSTILE), item(3)], total=2), at_risk=[risk(2), risk(4, "breached", -5)],
                today=Figures(start=NOW - timedelta(hours=12), end=NOW, opened=7, claimed=5, replied=4, resolved=3,
                              first_response=Spread(count=4, median=754.0, p90=900.0)),
                permalinks={1: "https://slack.example/archives/C1/p1"}, timezone="Europe/Berlin")
    return Home(**(base | changes))


def admin(**changes) -> Home:
    base = dict(is_admin=True, settings=SETTINGS,
                rules=[rule(1, HOSTILE, last_error="429 <!here> too many", consecutive_failures=2,
                            last_error_at=NOW),
                       rule(2, paused=True)],
                digests=[DigestView(id=5, spec="daily 09:00", targets=("C0CARE", "UMIA"), created_by="UMIA")],
                webhooks=[WebhookView(id=9, url="https://hooks.example/in?token=s3cr3t&x=<!channel>",
                                      events=("resolved",))])
    return make(**(base | changes))


def blocks_of(home: Home) -> list[dict]:
    return home_view(home).to_dict()["blocks"]


def texts(blocks: list[dict]) -> str:
    out = []
    for b in blocks:
        if isinstance(b.get("text"), dict):
            out.append(b["text"]["text"])
        out += [f["text"] for f in b.get("fields") or []]
        out += [e["text"] for e in b.get("elements") or [] if isinstance(e.get("text"), str)]
    return "\n".join(out)


def action_ids(blocks: list[dict]) -> list[tuple[str, str]]:
    found = []
    for b in blocks:
        elements = list(b.get("elements") or []) + ([b["accessory"]] if "accessory" in b else [])
        found += [(e["action_id"], e.get("value", "")) for e in elements if "action_id" in e]
    return found


def headers(blocks: list[dict]) -> list[str]:
    return [b["text"]["text"] for b in blocks if b["type"] == "header"]


def test_an_agent_sees_their_cases_the_backlog_sla_and_today_but_no_management():
    blocks = blocks_of(make())
    assert headers(blocks) == ["socialdesk", "Your cases (1)", "Waiting for a claim (2)", "SLA at risk (2)", "Today"]
    text = texts(blocks)
    assert "<https://slack.example/archives/C1/p1|Case #1>" in text  # linked to its card
    assert "*Case #2*" in text and "waiting 2h 0m" in text
    assert "due in 10m" in text and "overdue by 5m" in text and "nobody has claimed it" in text
    assert "*Opened*\n7" in text and "*Resolved*\n3" in text and "*Median first response*\n12m" in text
    assert [a for a, _ in action_ids(blocks)] == [ids.HOME_REFRESH, ids.HOME_QUEUE_FILTER, *[
        ids.QUEUE_CLAIM, ids.QUEUE_ASSIGN] * 2]  # each waiting case with its Claim and Assign…
    assert "Rules" not in text and "Settings" not in text and "whsec" not in json.dumps(blocks)


def test_an_admin_also_manages_rules_digests_webhooks_and_sees_settings():
    blocks = blocks_of(admin())
    assert headers(blocks)[-4:] == ["Rules (2)", "Digests (1)", "Webhooks (1)", "Settings"]
    actions = action_ids(blocks)
    assert (ids.HOME_RULE_PAUSE, "1") in actions and (ids.HOME_RULE_RESUME, "2") in actions
    assert (ids.HOME_RULE_PAUSE, "2") not in actions
    assert (ids.HOME_RULE_EDIT, "1") in actions and (ids.HOME_RULE_EDIT, "2") in actions
    assert (ids.HOME_DIGEST_REMOVE, "5") in actions and ids.HOME_DIGEST_ADD in [a for a, _ in actions]
    assert (ids.WEBHOOK_TEST, "9") in actions
    text = texts(blocks)
    assert "⏸ *paused*" in text and "failing* (2 in a row)" in text
    assert "*daily 09:00* → <#C0CARE>, <@UMIA>" in text
    assert "high 30m, normal 2h" in text and "Mon-Fri 09:00-17:00 Europe/Berlin" in text
    assert "<@UALICE>, members of <!subteam^S0CARE>" in text and "*Approvers*: <@UMIA>" in text
    assert "Refund &amp; returns" in text and "`&lt;b&gt;`" in text and "raw network data 30 days" in text
    assert "set in the environment" in text.lower() and "*Drafted replies*: llama3.2 at localhost:11434" in text
    dumped = json.dumps(blocks)
    assert "whsec-never-shown" not in dumped and "s3cr3t" not in dumped  # the URL is shown without its query


def test_hostile_queries_errors_and_texts_are_escaped():
    blocks = blocks_of(admin(notice="Rule 3 no longer exists."))
    text = texts(blocks)
    for raw in ("<!channel>", "<@U999>", "<!here>", "<https://evil.example|click>"):
        assert raw not in text
    assert "`&lt;!channel&gt; &lt;@U999&gt; &amp; &lt;https://evil.example|click&gt;`" in text  # the rule query
    assert "Last error" in text and "429 &lt;!here&gt; too many" in text
    assert "&lt;!channel&gt; &lt;@U999&gt;" in text  # the queued post's excerpt
    assert "Sorry &lt;!here&gt;" in text
    assert blocks[2]["block_id"] == "home_notice" and "Rule 3 no longer exists." in texts([blocks[2]])


def test_the_view_never_exceeds_100_blocks_and_says_where_the_rest_is():
    many = admin(
        mine=page([item(i, status=CaseStatus.CLAIMED) for i in range(10)], total=40),
        queue=page([item(100 + i) for i in range(10)], total=250),
        at_risk=[risk(200 + i) for i in range(30)],
        rules=[rule(i, f"query {i}") for i in range(1, 61)],
        digests=[DigestView(id=i, spec="daily 09:00", targets=("C0CARE",), created_by="UMIA") for i in range(1, 21)],
        webhooks=[WebhookView(id=i, url=f"https://hooks.example/{i}") for i in range(1, 21)],
        notice="something happened",
    )
    blocks = blocks_of(many)
    assert len(blocks) <= 100
    text = texts(blocks)
    assert "…and 30 more — `/social mine`" in text and "…and 240 more — `/social queue`" in text
    assert "…and 20 more — `/social queue all`" in text  # SLA at risk (a saved view could hide some): 10 of 30 shown
    assert "more — `/social rules`" in text  # 60 rules cannot all fit
    assert headers(blocks)[-1] == "Settings" and ids.HOME_DIGEST_ADD in [a for a, _ in action_ids(blocks)]
    shown_rules = {v for a, v in action_ids(blocks) if a == ids.HOME_RULE_EDIT}
    assert f"…and {60 - len(shown_rules)} more — `/social rules`" in text
    # The builder validates with slack_sdk: each section's text fits.
    assert all(len(b["text"]["text"]) <= 3000 for b in blocks if isinstance(b.get("text"), dict))


def test_lists_within_the_limit_are_shown_whole():
    blocks = blocks_of(admin(rules=[rule(i) for i in range(1, 6)]))
    assert "more —" not in texts(blocks)
    assert len({v for a, v in action_ids(blocks) if a == ids.HOME_RULE_EDIT}) == 5


def test_empty_home_explains_itself():
    blocks = blocks_of(make(mine=page([]), queue=page([]), at_risk=[], is_admin=True, settings=SETTINGS))
    text = texts(blocks)
    assert "You hold no open cases." in text and "Nothing is waiting." in text
    assert "No case is close to its first-response target." in text
    assert "No rules yet" in text and "No digests are scheduled." in text and "No webhooks" in text


def test_rule_modal_prefills_the_rule():
    view = rule_modal(rule(3, "acme <phone>", priority_keywords=("refund", "lawsuit"), priority_followers=5000,
                           every_seconds=120)).to_dict()
    assert view["callback_id"] == ids.RULE_MODAL and json.loads(view["private_metadata"]) == {"rule_id": 3}
    by_id = {b["block_id"]: b["element"] for b in view["blocks"] if b["type"] == "input"}
    assert by_id[ids.RULE_QUERY_INPUT]["initial_value"] == "acme <phone>"  # plain_text: shown as typed
    assert by_id[ids.RULE_CHANNEL_INPUT]["type"] == "conversations_select"
    assert by_id[ids.RULE_CHANNEL_INPUT]["initial_conversation"] == "C0CARE"
    assert by_id[ids.RULE_EVERY_INPUT]["initial_value"] == "120"
    assert by_id[ids.RULE_KEYWORDS_INPUT]["initial_value"] == "refund, lawsuit"
    assert by_id[ids.RULE_FOLLOWERS_INPUT]["initial_value"] == "5000"
    mentions = rule_modal(rule(4, "user:42", kind="mentions")).to_dict()
    assert ids.RULE_QUERY_INPUT not in {b.get("block_id") for b in mentions["blocks"]}


def test_rule_modal_prefills_spam_filing_and_routes():
    view = rule_modal(rule(3, ignore_spam=True, routes=(("question", "C0SUPPORT"), ("tag:refund", "C0BILLING"),
                                                        ("tag:battery", "C0HW")))).to_dict()
    by_id = {b["block_id"]: b["element"] for b in view["blocks"] if b["type"] == "input"}
    assert by_id[ids.RULE_SPAM_INPUT]["initial_options"][0]["value"] == ids.RULE_SPAM_ON
    assert by_id[f"{ids.RULE_ROUTE_INPUT}_question"]["initial_conversations"] == ["C0SUPPORT"]
    assert by_id[f"{ids.RULE_ROUTE_INPUT}_question"]["max_selected_items"] == 1  # can be emptied again
    assert "initial_conversations" not in by_id[f"{ids.RULE_ROUTE_INPUT}_praise"]
    assert by_id[ids.RULE_TAG_ROUTES_INPUT]["initial_value"] == "refund=C0BILLING, battery=C0HW"
    plain = {b["block_id"]: b["element"] for b in rule_modal(rule(4)).to_dict()["blocks"] if b["type"] == "input"}
    assert "initial_options" not in plain[ids.RULE_SPAM_INPUT] and "initial_value" not in plain[ids.RULE_TAG_ROUTES_INPUT]


def test_the_rule_list_shows_spam_filing_and_routes():
    text = texts([b.to_dict() for b in rules_reply([rule(1, ignore_spam=True, routes=(("question", "C0SUPPORT"), ("tag:refund", "C0BILL")))]).blocks])
    assert "Triage: likely spam filed as ignored; routes question → <#C0SUPPORT>, `#refund` → <#C0BILL>" in text
    assert "Triage" not in texts([b.to_dict() for b in rules_reply([rule(2)]).blocks])


def test_digest_modal_asks_when_and_to_whom():
    view = digest_modal(timezone="Europe/Berlin").to_dict()
    kinds = {b["block_id"]: b["element"]["type"] for b in view["blocks"]}
    assert kinds == {ids.DIGEST_SPEC_INPUT: "plain_text_input", ids.DIGEST_CHANNELS_INPUT: "multi_conversations_select",
                     ids.DIGEST_USERS_INPUT: "multi_users_select"}
    assert "Europe/Berlin" in json.dumps(view)


def test_rules_reply_lists_every_rule_escaped():
    reply = rules_reply([rule(1, HOSTILE), rule(2, paused=True)])
    text = "\n".join(b.to_dict()["text"]["text"] for b in reply.blocks)
    assert "*Rule 1*" in text and "*Rule 2*" in text and "paused" in text and "<!channel>" not in text
    assert "No rules yet" in rules_reply([]).text


def test_the_drafting_model_is_named_without_credentials():
    assert home_blocks.drafts_of(Settings(_env_file=None)) == ""
    with_key = Settings(_env_file=None, SOCIALDESK_LLM_URL="https://user:pw@llm.example:8443/v1?token=t",
                        SOCIALDESK_LLM_MODEL="qwen2.5", SOCIALDESK_LLM_API_KEY="sk-secret-0123456789abcdef")
    assert home_blocks.drafts_of(with_key) == "qwen2.5 at llm.example:8443 (with an API key)"
    text = texts(blocks_of(admin(settings=dataclasses.replace(SETTINGS, drafts=""))))
    assert "*Drafted replies*: off" in text


def test_the_backlog_shows_the_viewer_s_saved_view_with_filter_and_show_all():
    plain = blocks_of(make())
    assert "Every waiting case · most urgent first" in texts(plain)
    assert ids.HOME_QUEUE_CLEAR not in [a for a, _ in action_ids(plain)]
    saved = blocks_of(make(queue_filter="priority:high tag:refund",
                           queue=page([item(100 + i, due=NOW + timedelta(minutes=i)) for i in range(10)], total=12)))
    text = texts(saved)
    assert "Your view: `priority:high tag:refund` · most urgent first: SLA due, then priority, then age" in text
    assert [a for a, _ in action_ids(saved)][1:3] == [ids.HOME_QUEUE_FILTER, ids.HOME_QUEUE_CLEAR]
    assert "…and 2 more — `/social queue priority:high tag:refund`" in text and "⏳ due in 9m" in text
    empty = texts(blocks_of(make(queue_filter="intent:praise", queue=page([]))))
    assert "Nothing waiting matches your view." in empty


def test_the_sources_section_names_a_few_in_trouble_escaped_counts_the_rest_and_fits_the_limit():
    from socialdesk.store.views import SourceView

    sources = ([SourceView(name=f"Rule {i} · X search", state="failing", text=f"failing since 01:00 UTC: {HOSTILE}")
                for i in range(1, 8)]
               + [SourceView(name="Rule 8 · X search", state="paused", text="paused")]
               + [SourceView(name=f"Rule {i} · X search", state="ok", text="ok") for i in range(9, 70)])
    many = admin(rules=[rule(i, f"query {i}") for i in range(1, 70)], sources=sources,
                 at_risk=[risk(200 + i) for i in range(30)])
    blocks = blocks_of(many)
    assert len(blocks) <= 100
    [section] = [b["text"]["text"] for b in blocks if b.get("block_id") == "home_sources"]
    lines = section.splitlines()
    assert len(lines) == 7 and lines[0].startswith("⚠️ *Rule 1 · X search* — failing since 01:00 UTC: &lt;!channel&gt;")
    assert lines[5] == "…and 2 more not ok — `socialdesk rules list` shows them all"
    assert lines[6] == "✅ 61 ok · ⏸ 1 paused"
    assert "<!channel>" not in json.dumps(blocks)
    assert "Sources" in headers(blocks) and "Sources" in headers(blocks_of(make(sources=sources)))  # for everyone
    assert "Sources" not in headers(blocks_of(make()))  # no sources: no section
