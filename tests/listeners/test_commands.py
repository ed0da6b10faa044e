"""`/social` and the Prev/Next buttons on its lists (listeners.commands), called in-process.

`commands.social` answers in its ack (an `Acks` here) when the answer is ready within
ANSWER_BUDGET, else acks that it is coming and answers through `respond`. The end-to-end
tests cover help, an unknown command, and each lookup's main answers and usage errors;
here are the argument edge cases, a failing lookup, the late answer, and paging.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from concurrent.futures import Future
from datetime import UTC, datetime, timedelta

from socialdesk import queue_filter
from socialdesk.listeners import commands, digest_commands, export_commands, rule_commands
from socialdesk.listeners import usage_commands, webhook_commands
from socialdesk.slack import ids
from socialdesk.slack.blocks.lookup import nav_value, parse_nav_value
from socialdesk.store import ingest, lifecycle, lookups
from socialdesk.store.db import session_scope
from tests.listeners.conftest import Acks, Responses, click, publish_cases
from tests.support.factories import x_post

GONE = "That list is no longer available; run the command again."


def social(deps, slack_emulator, desk, text: str, *, user: str = "alice", channel: str = "") -> dict:
    ack, respond = Acks(), Responses()
    command = {"command": "/social", "text": text, "user_id": slack_emulator.users[user], "channel_id": channel}
    commands.social(ack, command, desk.slack, respond, deps=deps)
    assert respond.calls == []  # ready within the budget: the answer is the ack
    assert ack.only["response_type"] == "ephemeral"
    return ack.only


def shown(answer: dict) -> str:
    parts = [answer.get("text", "")]
    for block in answer.get("blocks") or []:
        if isinstance(block.get("text"), dict):
            parts.append(block["text"]["text"])
        parts += [e.get("text", "") for e in block.get("elements") or [] if isinstance(e.get("text"), str)]
    return "\n".join(parts)


def case_ids_in(answer: dict) -> list[int]:
    return [int(b["block_id"].removeprefix("case_")) for b in answer["blocks"]
            if b.get("block_id", "").startswith("case_")]


def stored_cases(deps, count: int, *, text: str = "acme queue post") -> list[int]:
    """Cases straight in the database (no cards: no permalinks to fetch), oldest first."""
    now = datetime.now(UTC)
    with session_scope(deps.engine) as session:
        return [case_id for i in range(count)
                for case_id in ingest.store_posts(session=session, posts=[x_post(f"{text} {i}", handle=f"q{i}")],
                                                  rule_id=None, channel_id="C0NOCARDS",
                                                  now=now - timedelta(minutes=count - i))]


def test_help_usage_and_unknown_commands_answer_without_touching_anything(deps, desk, slack_emulator):
    assert social(deps, slack_emulator, desk, "   ")["text"] == social(deps, slack_emulator, desk, "HELP")["text"]
    assert "`/social webhooks test <id>`" in commands.HELP  # the subcommands' own help lines are in it
    # Longer than one section holds: split between lines, nothing cut.
    sections = [b["text"]["text"] for b in social(deps, slack_emulator, desk, "help")["blocks"]]
    assert "\n".join(sections) == commands.HELP and all(len(t) <= 3000 for t in sections)
    usage = {
        "case": "Usage: `/social case <id>`, e.g. `/social case 42`.",
        "case 1 2": "Usage: `/social case <id>`, e.g. `/social case 42`.",
        "case ٣": "`٣` is not a case number.\nUsage: `/social case <id>`, e.g. `/social case 42`.",
        "case 2147483648": "`2147483648` is not a case number.\nUsage: `/social case <id>`, e.g. `/social case 42`.",
        "case #<!here>": "`#&lt;!here&gt;` is not a case number.\nUsage: `/social case <id>`, e.g. `/social case 42`.",
        "queue please": "`please`: the queue takes filters only, written key:value. " + queue_filter.usage(),
        "queue priority:urgent": "`priority:urgent`: priority is one of high, normal, low. " + queue_filter.usage(),
        "MINE all": "Usage: `/social mine` (no arguments).",
        "author a b": commands.USAGE["author"],
        "author <@U123>": commands.USAGE["author"],
        "stats today 7d": commands.USAGE["stats"],
        "stats 1y": "`1y` is not a period socialdesk knows.\n" + commands.USAGE["stats"],
        "search   ": commands.USAGE["search"],
    }
    for text, expected in usage.items():
        assert social(deps, slack_emulator, desk, text)["text"] == expected, text
    unknown = social(deps, slack_emulator, desk, "frob<!everyone> now")["text"]
    assert unknown.startswith("`/social frob&lt;!everyone&gt;` is not a command socialdesk knows yet.")


SUBCOMMANDS = ("search", "case", "mine", "queue", "author", "stats", "incidents", "rules", "digest", "export",
               "webhooks", "usage")


def test_every_subcommand_answers_help_with_its_own_help(deps, desk, slack_emulator):
    for name in SUBCOMMANDS:
        for asked in (f"{name} help", f"{name.upper()} HELP", f"{name} -h", f"{name} --help", f"{name} ?",
                      f"help {name}"):
            for user in ("alice", "mia"):  # admins' subcommands have help for everyone
                answer = shown(social(deps, slack_emulator, desk, asked, user=user))
                assert answer.startswith(f"• `/social {name}"), (asked, user, answer)
                assert "is not" not in answer and "*socialdesk*" not in answer, (asked, user, answer)
                assert answer.endswith("`/social help` lists every command."), (asked, user, answer)
    for name, module in (("rules", rule_commands), ("digest", digest_commands), ("export", export_commands),
                         ("webhooks", webhook_commands), ("usage", usage_commands)):
        assert module.HELP.rstrip("\n") in shown(social(deps, slack_emulator, desk, f"{name} help")), name
    assert "e.g. `/social case 42`" in shown(social(deps, slack_emulator, desk, "case help"))
    assert "not a digest command" in shown(social(deps, slack_emulator, desk, "digest helpme"))
    assert "`/social <command> help`" in commands.HELP


def test_search_help_alone_is_help_and_help_with_other_words_or_quoted_searches(deps, desk, slack_emulator):
    now = datetime.now(UTC)
    with session_scope(deps.engine) as session:
        asked, other = (ingest.store_posts(session=session, posts=[x_post(text, handle=handle)], rule_id=None,
                                           channel_id="C0NOCARDS", now=now)[0]
                        for text, handle in (("acme battery help please", "dana"), ("acme battery fine", "sam")))
    for alone in ("search help", "search HELP", "search -h", "search ?"):
        answer = shown(social(deps, slack_emulator, desk, alone))
        assert answer.startswith("• `/social search <text>`") and '`/social search "help"`' in answer, alone
        assert commands.USAGE["search"] in answer, alone
    assert case_ids_in(social(deps, slack_emulator, desk, 'search "help"')) == [asked]
    assert case_ids_in(social(deps, slack_emulator, desk, "search help battery")) == [asked]
    assert sorted(case_ids_in(social(deps, slack_emulator, desk, "search battery"))) == sorted([asked, other])


LONG = "a" * 5000


def test_an_error_shows_only_the_start_of_what_was_typed_so_its_advice_and_usage_always_show(deps, desk,
                                                                                               slack_emulator):
    url = "https://93.184.215.14/hooks/socialdesk"  # an address: no DNS
    typed = {  # what was typed -> what the answer must go on to say (its advice, then its usage line)
        f"digest schedule daily {LONG}": ('(try "daily 09:00" or "weekly mon 09:00")', digest_commands.USAGE["schedule"]),
        f"digest schedule weekly {LONG} 09:00": ('(try "daily 09:00"', digest_commands.USAGE["schedule"]),
        f"export since:{LONG}": ("is not a date: use YYYY-MM-DD", export_commands.USAGE),
        f"export until:{LONG}": ("is not a date: use YYYY-MM-DD", export_commands.USAGE),
        f"export status:{LONG}": ("is not a case status: use one or more of new", export_commands.USAGE),
        f"export rule:{LONG}": ("is not a rule id: use the number", export_commands.USAGE),
        f"export {LONG}": ("is not something export understands", export_commands.USAGE),
        f"webhooks add {url} {LONG}": ("; choose from case.opened", webhook_commands.USAGE),
        f"webhooks add https://crm.example.com:{'9' * 1500}/hook": ("has an invalid port; use a number",
                                                                    webhook_commands.USAGE),
        f"rules add acme network:{LONG}": ("; choose one of: ", rule_commands.USAGE["add"]),
        f"rules add acme budget:{LONG}": ("write dollars a month, like 50/month", rule_commands.USAGE["add"]),
        f"rules add acme sla:high={LONG}": ("is not a duration like 30m", rule_commands.USAGE["add"]),
        f"rules add acme sla:{LONG}": ("should look like priority=duration", rule_commands.USAGE["add"]),
        f"rules add acme kind:{LONG}": ("; choose one of: search", rule_commands.USAGE["add"]),
        f"rules add kind:mentions {LONG}": ("a mentions rule's query is our account's id", rule_commands.USAGE["add"]),
        f"rules add acme sla:{LONG}=1h": ("; use high, normal, low", rule_commands.USAGE["add"]),
        f"search status:{LONG}": ("status is one of new", ""),
        f"queue tag:{LONG}": ("tag:", queue_filter.usage()),
    }
    wrong = []
    for text, (advice, usage) in typed.items():
        answer = social(deps, slack_emulator, desk, text, user="mia", channel="C0CARE1")
        said = answer["text"]
        if not (advice in said and said.endswith(usage)) or "a" * 41 in said or "9" * 101 in said \
                or [b["text"]["text"] for b in answer["blocks"]] != [said]:  # one section, nothing cut
            wrong.append(f"{text[:40]}… -> {said[:60]}…{said[-60:]}")
    assert wrong == [], "\n".join(wrong)


def test_case_accepts_a_hash_and_links_the_card(deps, desk, slack_emulator, channel):
    [case_id] = publish_cases(desk, channel, ["acme <!channel> phone overheats"])
    answer = shown(social(deps, slack_emulator, desk, f"case #{case_id}"))
    assert re.search(rf"<[^<>|]*/archives/{channel}/p\d+\|Case #{case_id}>", answer), answer  # chat.getPermalink
    assert "&lt;!channel&gt;" in answer and "<!channel>" not in answer
    assert social(deps, slack_emulator, desk, "case 0007777")["text"] == "There is no case #7777."


def test_mine_queue_search_and_stats_read_the_database(deps, desk, slack_emulator):
    first, second, third = stored_cases(deps, 3, text="acme battery")
    alice = slack_emulator.users["alice"]
    with session_scope(deps.engine) as session:
        lifecycle.claim(session=session, case_id=second, user_id=alice, now=deps.clock())
    assert case_ids_in(social(deps, slack_emulator, desk, "mine")) == [second]
    assert case_ids_in(social(deps, slack_emulator, desk, "mine", user="bob")) == []
    assert case_ids_in(social(deps, slack_emulator, desk, "queue")) == [first, third]
    assert sorted(case_ids_in(social(deps, slack_emulator, desk, "search battery status:new"))) == [first, third]
    bad = social(deps, slack_emulator, desk, "search status:<!here>")["text"]
    assert "<!here>" not in bad and "status" in bad
    assert "*Opened* 3" in shown(social(deps, slack_emulator, desk, "stats 7d"))


def test_stats_count_a_case_resolved_twice_once(deps, desk, slack_emulator):
    [case_id] = stored_cases(deps, 1)
    alice = slack_emulator.users["alice"]
    with session_scope(deps.engine) as session:
        for step in (lifecycle.claim, lifecycle.resolve, lifecycle.reopen, lifecycle.claim, lifecycle.resolve):
            assert step(session=session, case_id=case_id, user_id=alice, now=deps.clock()).ok, step
    answer = shown(social(deps, slack_emulator, desk, "stats 7d"))
    assert "*Resolved* 1\n" in answer and "*Claimed* 1\n" in answer, answer
    assert "over 1 case resolved in the period" in answer, answer


def test_a_lookup_that_fails_gets_an_apology_and_the_log_the_trace(deps, desk, slack_emulator, monkeypatch, caplog):
    def broken(**_kwargs):
        raise RuntimeError("database on fire")

    monkeypatch.setattr(lookups, "queue", broken)
    with caplog.at_level(logging.ERROR, logger="socialdesk.listeners.commands"):
        answer = social(deps, slack_emulator, desk, "queue")
    assert answer["text"] == "Sorry, that did not work. Try again in a moment."
    [record] = [r for r in caplog.records if r.getMessage() == "/social queue failed"]
    assert "database on fire" in str(record.exc_info[1])


def test_an_answer_not_ready_in_time_is_acked_as_coming_then_sent_through_respond(deps, desk, slack_emulator,
                                                                                  monkeypatch):
    monkeypatch.setattr(commands, "ANSWER_BUDGET", 0.01)
    held: list[tuple] = []

    def later(work, *args, **kwargs) -> Future:  # the pool, with the work still queued
        held.append((work, args, kwargs))
        return pending

    pending: Future = Future()
    slow = dataclasses.replace(deps, later=later)
    ack, respond = Acks(), Responses()
    commands.social(ack, {"text": "queue", "user_id": "UALICE"}, desk.slack, respond, deps=slow)
    assert ack.only == {"response_type": "ephemeral", "text": "Working on `/social queue`; the answer follows here."}
    assert respond.calls == []
    work, args, kwargs = held.pop()
    pending.set_result(work(*args, **kwargs))  # the work runs: its answer goes to the response_url
    assert respond.only["response_type"] == "ephemeral" and "Nothing is waiting" in shown(respond.only)


def test_a_late_answer_whose_response_url_expired_is_logged(deps, desk, caplog):
    done: Future = Future()
    done.set_result(commands.plain("late"))

    def expired(**_message):
        raise RuntimeError("response_url expired")

    with caplog.at_level(logging.ERROR, logger="socialdesk.listeners.commands"):
        commands.answer_late(done, expired, deps, "queue")
    assert "the answer to /social queue could not be delivered" in caplog.text


def nav_click(slack_emulator, channel: str, value: str, action_id: str = ids.LOOKUP_NEXT) -> dict:
    message = {"ts": "1700000000.000100", "type": "message", "text": "queue"}  # the ephemeral list
    return click(slack_emulator, user="alice", channel=channel, card=message, action_id=action_id, value=value)


def page(deps, desk, slack_emulator, channel: str, value: str) -> dict:
    ack, respond = Acks(), Responses()
    commands.page_clicked(ack, nav_click(slack_emulator, channel, value), respond, desk.slack, deps=deps)
    assert ack.only == {}
    message = respond.only
    assert (message["replace_original"], message["response_type"]) == (True, "ephemeral")
    return message


def test_next_and_prev_replace_the_list_with_the_page_they_name(deps, desk, slack_emulator, channel):
    case_ids = stored_cases(deps, 12)
    second_page = page(deps, desk, slack_emulator, channel, nav_value("queue", "", 10))
    assert case_ids_in(second_page) == case_ids[10:]
    nav = [(e["action_id"], parse_nav_value(e["value"])) for b in second_page["blocks"]
           if b.get("block_id") == "lookup_nav" for e in b["elements"]]
    assert nav == [(ids.LOOKUP_PREV, ("queue", "", 0))]
    assert case_ids_in(page(deps, desk, slack_emulator, channel, nav_value("queue", "", 0))) == case_ids[:10]
    found = page(deps, desk, slack_emulator, channel, nav_value("search", "acme queue", 10))
    assert sorted(case_ids_in(found)) == sorted(case_ids[:2])  # newest first: the two oldest are on page 2


def test_a_prev_next_value_we_did_not_make_gets_the_list_is_gone(deps, desk, slack_emulator):
    stored_cases(deps, 1)
    for value in ("not json", '{"v": "queue"}', nav_value("stats", "", 0), nav_value("export", "", 0),
                  '{"v": "queue", "a": "", "o": -1}', nav_value("queue", "", 100_001),
                  '{"v": "queue", "a": "", "o": "10"}', '{"v": "author", "a": "' + "x" * 2001 + '", "o": 0}'):
        assert page(deps, desk, slack_emulator, "C0NOWHERE", value)["text"] == GONE, value
