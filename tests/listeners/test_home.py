"""App Home (listeners.home), called in-process: the published tab, and what admins do there.

"mia" is a workspace admin in the emulator (users.info says is_admin); "alice" is not. A
refusal or a vanished rule is a notice at the top of the re-published Home. The end-to-end
tests cover the Home's lists and SLA section, an admin pausing and editing a rule (with a
too-small interval, a too-long query and a bad SLA), and adding then removing a digest.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta

import pytest

from socialdesk.listeners import home, views
from socialdesk.listeners.binding import run_now
from socialdesk.networks import registry
from socialdesk.networks.base import Network
from socialdesk.slack import ids
from socialdesk.store import digests as digest_store
from socialdesk.store import lifecycle
from socialdesk.store import rules as rule_store
from socialdesk.store.db import read_scope, session_scope
from tests.listeners.conftest import (
    Acks,
    AcksWatching,
    opened_views,
    publish_cases,
    published_homes,
    submission,
    text_input,
)
from tests.support.home_view import listed, texts


def add_rule(deps, channel: str, *, query: str = "acme phone", kind: str = "search", paused: bool = False) -> int:
    with session_scope(deps.engine) as session:
        rule = rule_store.add_rule(session=session, network="x", query=query, channel_id=channel, every_seconds=300,
                                   lang=None, include_reposts=False, now=datetime.now(UTC), kind=kind)
        if paused:
            rule.paused = True
        return rule.id


def rule_of(deps, rule_id: int):
    with read_scope(deps.engine) as session:
        return rule_store.get_rule(session=session, rule_id=rule_id)


def add_digest(deps, target: str) -> int:
    with session_scope(deps.engine) as session:
        return digest_store.add_schedule(session=session, spec="daily 09:00", targets=[target], created_by="UMIA",
                                         now=datetime.now(UTC)).id


def schedules(deps) -> list:
    with read_scope(deps.engine) as session:
        return digest_store.list_schedules(session=session)


def home_click(slack_emulator, user: str, action_id: str, value: str) -> dict:
    """A button in the Home tab: the view is the container; no channel, message or response_url."""
    return {"type": "block_actions", "user": {"id": slack_emulator.users[user], "name": user},
            "team": {"id": slack_emulator.team_id}, "trigger_id": slack_emulator.trigger_id(user),
            "container": {"type": "view", "view_id": "V0HOME"}, "view": {"id": "V0HOME", "type": "home"},
            "actions": [{"action_id": action_id, "block_id": "b", "type": "button", "value": value}]}


def opened(slack_emulator, user: str) -> dict:
    return {"type": "event_callback", "event_id": "Ev0HOME", "event": {
        "type": "app_home_opened", "user": slack_emulator.users[user], "tab": "home", "channel": "D0HOME"}}


def notice(view: dict) -> str | None:
    """The line at the top of the Home (after the header and the greeting), if any."""
    top = view["blocks"][2]
    return top["elements"][0]["text"] if top.get("block_id") == "home_notice" else None


def buttons(view: dict) -> list[tuple[str, str]]:
    return [(e["action_id"], e.get("value")) for b in view["blocks"]
            for e in [*(b.get("elements") or []), *([b["accessory"]] if b.get("accessory") else [])]
            if "action_id" in e]


def last_home(slack_proxy, slack_emulator, user: str) -> dict:
    return published_homes(slack_proxy, slack_emulator.users[user])[-1]


def test_the_home_lists_the_user_s_cases_and_only_an_admin_sees_what_they_manage(desk, deps, slack_emulator,
                                                                               slack_proxy, channel):
    first, second, third = publish_cases(desk, channel, ["acme battery", "acme screen", "acme billing"])
    alice = slack_emulator.users["alice"]
    with session_scope(deps.engine) as session:
        lifecycle.claim(session=session, case_id=second, user_id=alice, now=datetime.now(UTC))
    rule_id = add_rule(deps, channel)

    home.home_opened(opened(slack_emulator, "alice"), desk.slack, deps=deps)
    [mine] = published_homes(slack_proxy, alice)
    assert listed(mine, "mine_") == [second] and listed(mine, "queue_") == [first, third]
    assert notice(mine) is None
    assert "Rules (" not in texts(mine) and "Settings" not in texts(mine)
    assert not [b for b in buttons(mine) if b[0].startswith("home_rule") or b[0] == ids.WEBHOOK_TEST]

    home.home_opened(opened(slack_emulator, "mia"), desk.slack, deps=deps)
    admins = last_home(slack_proxy, slack_emulator, "mia")
    assert listed(admins, "mine_") == [] and listed(admins, "queue_") == [first, third]
    assert "Rules (1)" in texts(admins) and "Digests (0)" in texts(admins) and "Settings" in texts(admins)
    assert (ids.HOME_RULE_PAUSE, str(rule_id)) in buttons(admins)
    shown = json.dumps(admins)
    assert desk.settings.slack_bot_token.get_secret_value() not in shown
    assert desk.settings.slack_signing_secret.get_secret_value() not in shown


def test_every_admin_button_refuses_a_non_admin_at_the_top_of_the_home(desk, deps, slack_emulator, slack_proxy,
                                                                       channel):
    rule_id, digest_id = add_rule(deps, channel), add_digest(deps, channel)
    for work, action_id, value, what in (
            (home.pause_clicked, ids.HOME_RULE_PAUSE, str(rule_id), "pause or resume rules"),
            (home.resume_clicked, ids.HOME_RULE_RESUME, str(rule_id), "pause or resume rules"),
            (home.edit_clicked, ids.HOME_RULE_EDIT, str(rule_id), "edit rules"),
            (home.add_digest_clicked, ids.HOME_DIGEST_ADD, "add", "schedule digests"),
            (home.remove_digest_clicked, ids.HOME_DIGEST_REMOVE, str(digest_id), "remove digests")):
        work(home_click(slack_emulator, "alice", action_id, value), desk.slack, deps=deps)
        refused = last_home(slack_proxy, slack_emulator, "alice")
        assert notice(refused) == "⚠️ " + home.NOT_ADMIN.format(what=what), action_id
        assert "Rules (" not in texts(refused)  # the refusal is no way in to the admin sections
    assert len(published_homes(slack_proxy, slack_emulator.users["alice"])) == 5
    assert rule_of(deps, rule_id).paused is False
    assert [s.id for s in schedules(deps)] == [digest_id]
    assert opened_views(slack_proxy) == []


def test_resuming_a_rule_paused_longer_than_its_search_reaches_back_says_what_is_lost(desk, deps, slack_emulator,
                                                                                     slack_proxy, channel):
    rule_id = add_rule(deps, channel, paused=True)
    with session_scope(deps.engine) as session:  # last read a month ago
        rule_store.save_cursor(session=session, rule_id=rule_id, cursor={"since_id": "1"}, not_before=None,
                               now=datetime.now(UTC) - timedelta(days=30))
    deps = dataclasses.replace(deps, networks={**deps.networks, "x": Network(
        info=registry.info("x"), sources={}, gap_limit=timedelta(days=7))})
    home.resume_clicked(home_click(slack_emulator, "mia", ids.HOME_RULE_RESUME, str(rule_id)), desk.slack, deps=deps)
    said = notice(last_home(slack_proxy, slack_emulator, "mia"))
    assert said.startswith(f"⚠️ Rule {rule_id} resumed. It last read posts ") and "cannot be read" in said
    assert rule_of(deps, rule_id).paused is False and rule_of(deps, rule_id).resumed_at is not None


def test_an_admin_resumes_a_rule_and_a_rule_removed_meanwhile_is_noted(desk, deps, slack_emulator, slack_proxy,
                                                                       channel):
    rule_id = add_rule(deps, channel, paused=True)
    home.resume_clicked(home_click(slack_emulator, "mia", ids.HOME_RULE_RESUME, str(rule_id)), desk.slack, deps=deps)
    assert rule_of(deps, rule_id).paused is False
    resumed = last_home(slack_proxy, slack_emulator, "mia")
    assert notice(resumed) is None and "✅ active" in texts(resumed)
    assert (ids.HOME_RULE_PAUSE, str(rule_id)) in buttons(resumed)

    for work, value, said in ((home.pause_clicked, "4242", "Rule 4242 no longer exists; someone removed it."),
                              (home.pause_clicked, "abc", "Rule ? no longer exists; someone removed it."),
                              (home.edit_clicked, "4242", "Rule 4242 no longer exists; someone removed it.")):
        work(home_click(slack_emulator, "mia", ids.HOME_RULE_PAUSE, value), desk.slack, deps=deps)
        assert notice(last_home(slack_proxy, slack_emulator, "mia")).startswith("⚠️ " + said), value
    assert rule_of(deps, rule_id).paused is False
    assert opened_views(slack_proxy) == []


def rule_values(channel: str, *, every: str = "60", query: str = "acme phone", followers: str = "",
                keywords: str = "", sla: str = "") -> dict:
    return (text_input(ids.RULE_QUERY_INPUT, query) | text_input(ids.RULE_EVERY_INPUT, every)
            | text_input(ids.RULE_FOLLOWERS_INPUT, followers) | text_input(ids.RULE_KEYWORDS_INPUT, keywords)
            | text_input(ids.RULE_SLA_INPUT, sla)
            | {ids.RULE_CHANNEL_INPUT: {ids.RULE_CHANNEL_INPUT: {"type": "conversations_select",
                                                                 "selected_conversation": channel}}})


def submit_rule(slack_emulator, desk, deps, view: dict, values: dict, user: str = "mia",
                ack: Acks | None = None) -> Acks:
    ack = ack or Acks()
    home.rule_submitted(ack, submission(slack_emulator, user=user, view=view, values=values), desk.slack, deps=deps)
    return ack


def edit_rule(slack_emulator, slack_proxy, desk, deps, rule_id: int) -> dict:
    home.edit_clicked(home_click(slack_emulator, "mia", ids.HOME_RULE_EDIT, str(rule_id)), desk.slack, deps=deps)
    return opened_views(slack_proxy, ids.RULE_MODAL)[-1]


def test_the_rule_editor_refuses_what_rules_add_would_and_saves_the_rest(desk, deps, slack_emulator, slack_proxy,
                                                                         channel):
    rule_id = add_rule(deps, channel)
    view = edit_rule(slack_emulator, slack_proxy, desk, deps, rule_id)
    assert json.loads(view["private_metadata"]) == {"rule_id": rule_id}

    def errors(values: dict, user: str = "mia", modal: dict = view) -> dict:
        ack = submit_rule(slack_emulator, desk, deps, modal, values, user)
        assert ack.only.get("response_action") == "errors", ack.only
        return ack.only["errors"]

    # Whether alice is an admin is not known here yet: the ack does not wait on Slack to find out; the
    # work after it asks, changes nothing, and says why in her Home.
    cold = AcksWatching(slack_proxy, "users.info")
    asked = len(slack_proxy.calls_to("users.info"))
    assert submit_rule(slack_emulator, desk, deps, view, rule_values(channel, every="90"), "alice", cold).only == {}
    assert cold.calls_before == [asked] and len(slack_proxy.calls_to("users.info")) == asked + 1
    assert rule_of(deps, rule_id).every_seconds == 300
    assert notice(last_home(slack_proxy, slack_emulator, "alice")) == (
        f"⚠️ Rule {rule_id} was not changed. " + home.NOT_ADMIN.format(what="edit rules"))
    assert errors(rule_values(channel), user="alice") == {  # known now: refused in the modal
        ids.RULE_QUERY_INPUT: home.NOT_ADMIN.format(what="edit rules")}  # the first input block
    assert set(errors(rule_values(channel, every="sixty", followers="lots"))) == {
        ids.RULE_EVERY_INPUT, ids.RULE_FOLLOWERS_INPUT}
    assert errors(rule_values(channel, every=""))[ids.RULE_EVERY_INPUT].startswith("Give a whole number of seconds")
    assert errors(rule_values(channel, every="٦٠"))[ids.RULE_EVERY_INPUT].startswith("Give a whole number")
    assert errors(rule_values(channel, every="86401")) == {  # at most a day, as `rules add` takes it
        ids.RULE_EVERY_INPUT: "86401 s is longer than a day; give an interval from 5 to 86400 seconds (a day)."}
    assert "is not a Slack channel id" in errors(rule_values(""))[ids.RULE_CHANNEL_INPUT]
    assert errors(rule_values(channel, query="   ")) == {
        ids.RULE_QUERY_INPUT: "the query is empty; give the words to search for"}
    gone = dict(view, private_metadata=json.dumps({"rule_id": 4242}))
    assert errors(rule_values(channel), modal=gone) == {
        ids.RULE_QUERY_INPUT: "This rule no longer exists; close this window."}
    assert rule_of(deps, rule_id).every_seconds == 300

    other = slack_emulator.new_channel("moved")
    values = rule_values(other, every="90", query="acme x2 -is:retweet", followers="12,500", keywords="refund, recall")
    assert submit_rule(slack_emulator, desk, deps, view, values).only == {}
    saved = rule_of(deps, rule_id)
    assert (saved.query, saved.channel_id, saved.every_seconds, saved.priority_followers, saved.priority_keywords) == (
        "acme x2 -is:retweet", other, 90, 12500, ["refund", "recall"])
    republished = last_home(slack_proxy, slack_emulator, "mia")
    assert "every 90 s" in texts(republished) and notice(republished) is None


def test_two_admins_editing_one_rule_at_once_each_keep_the_other_s_change(desk, deps, slack_emulator, slack_proxy,
                                                                            channel):
    """Each editor sends its whole form: saved as such, the second undid the first's edit, silently."""
    rule_id = add_rule(deps, channel)
    first = edit_rule(slack_emulator, slack_proxy, desk, deps, rule_id)
    second = edit_rule(slack_emulator, slack_proxy, desk, deps, rule_id)  # opened before the first is saved

    def as_left(view: dict) -> dict:  # the form as it opened: what Slack submits for fields nobody touched
        return views.as_shown(view)["state"]["values"]

    assert submit_rule(slack_emulator, desk, deps, first,
                       as_left(first) | text_input(ids.RULE_EVERY_INPUT, "90")).only == {}
    assert submit_rule(slack_emulator, desk, deps, second,
                       as_left(second) | text_input(ids.RULE_QUERY_INPUT, "acme x2 -is:retweet")).only == {}
    saved = rule_of(deps, rule_id)
    assert (saved.query, saved.every_seconds, saved.channel_id) == ("acme x2 -is:retweet", 90, channel)
    # A form saved untouched changes nothing, even what changed since it opened.
    assert submit_rule(slack_emulator, desk, deps, first, as_left(first)).only == {}
    assert (rule_of(deps, rule_id).query, rule_of(deps, rule_id).every_seconds) == ("acme x2 -is:retweet", 90)


def triage_values(*, spam: bool, question: str | None = None, tags: str = "") -> dict:
    box = {"type": "checkboxes", "selected_options": [{"value": ids.RULE_SPAM_ON}] if spam else []}
    return ({ids.RULE_SPAM_INPUT: {ids.RULE_SPAM_INPUT: box}}
            | {f"{ids.RULE_ROUTE_INPUT}_{intent}": {ids.RULE_ROUTE_INPUT: {
                "type": "multi_conversations_select",
                "selected_conversations": [question] if intent == "question" and question else []}}
               for intent in ("complaint", "question", "praise", "other")}
            | text_input(ids.RULE_TAG_ROUTES_INPUT, tags))


def test_the_rule_editor_sets_and_clears_spam_filing_and_routes(desk, deps, slack_emulator, slack_proxy, channel):
    rule_id = add_rule(deps, channel)
    view = edit_rule(slack_emulator, slack_proxy, desk, deps, rule_id)
    support = slack_emulator.new_channel("support")
    bad = submit_rule(slack_emulator, desk, deps, view, rule_values(channel) | triage_values(spam=True, tags="refund"))
    assert bad.only["response_action"] == "errors"
    assert "is not NAME=CHANNEL" in bad.only["errors"][ids.RULE_TAG_ROUTES_INPUT]
    good = rule_values(channel) | triage_values(spam=True, question=support, tags="refund=C0BILLING, Battery=C0HW")
    assert submit_rule(slack_emulator, desk, deps, view, good).only == {}
    saved = rule_of(deps, rule_id)
    assert saved.ignore_spam is True
    assert saved.routes == {"question": support, "tag:refund": "C0BILLING", "tag:battery": "C0HW"}
    assert f"routes question → <#{support}>" in texts(last_home(slack_proxy, slack_emulator, "mia"))
    reopened = edit_rule(slack_emulator, slack_proxy, desk, deps, rule_id)
    by_id = {b["block_id"]: b["element"] for b in reopened["blocks"] if b["type"] == "input"}
    assert by_id[f"{ids.RULE_ROUTE_INPUT}_question"]["initial_conversations"] == [support]
    assert submit_rule(slack_emulator, desk, deps, reopened, rule_values(channel) | triage_values(spam=False)).only == {}
    cleared = rule_of(deps, rule_id)
    assert (cleared.ignore_spam, cleared.routes) == (False, None)
    # A view without these inputs (an editor opened before they existed) leaves them as they are.
    with session_scope(deps.engine) as session:
        rule_store.set_triage(session=session, rule_id=rule_id, ignore_spam=True, routes={"praise": "C0MARKET"})
    assert submit_rule(slack_emulator, desk, deps, reopened, rule_values(channel)).only == {}
    kept = rule_of(deps, rule_id)
    assert (kept.ignore_spam, kept.routes) == (True, {"praise": "C0MARKET"})


def test_a_mentions_rule_keeps_its_query_whatever_is_submitted(desk, deps, slack_emulator, slack_proxy, channel):
    rule_id = add_rule(deps, channel, query="user:12345", kind="mentions")
    view = edit_rule(slack_emulator, slack_proxy, desk, deps, rule_id)
    assert ids.RULE_QUERY_INPUT not in [b.get("block_id") for b in view["blocks"]]
    bad = submit_rule(slack_emulator, desk, deps, view, rule_values("nope"))
    assert bad.only["response_action"] == "errors" and list(bad.only["errors"]) == [ids.RULE_CHANNEL_INPUT]
    # A forged query box is ignored: a mentions rule's query is the account's id.
    assert submit_rule(slack_emulator, desk, deps, view, rule_values(channel, query="evil", every="120")).only == {}
    saved = rule_of(deps, rule_id)
    assert (saved.query, saved.every_seconds) == ("user:12345", 120)


def test_a_rule_removed_while_its_edit_was_being_saved_is_noted(desk, deps, slack_emulator, slack_proxy, channel):
    rule_id = add_rule(deps, channel)
    view = edit_rule(slack_emulator, slack_proxy, desk, deps, rule_id)

    def remove_first(work, *args, **kwargs):  # someone runs `rules remove` between the ack and the save
        with session_scope(deps.engine) as session:
            rule_store.remove_rule(session=session, rule_id=rule_id)
        return run_now(work, *args, **kwargs)

    racing = dataclasses.replace(deps, later=remove_first)
    ack = Acks()
    home.rule_submitted(ack, submission(slack_emulator, user="mia", view=view, values=rule_values(channel)),
                        desk.slack, deps=racing)
    assert ack.only == {}
    assert notice(last_home(slack_proxy, slack_emulator, "mia")) == (
        f"⚠️ Rule {rule_id} was removed while you edited it; nothing was saved.")
    with read_scope(deps.engine) as session, pytest.raises(rule_store.RuleNotFound):
        rule_store.get_rule(session=session, rule_id=rule_id)


def digest_values(spec: str, channels: list[str], users: list[str]) -> dict:
    return text_input(ids.DIGEST_SPEC_INPUT, spec) | {
        ids.DIGEST_CHANNELS_INPUT: {ids.DIGEST_CHANNELS_INPUT: {"type": "multi_conversations_select",
                                                                "selected_conversations": channels}},
        ids.DIGEST_USERS_INPUT: {ids.DIGEST_USERS_INPUT: {"type": "multi_users_select", "selected_users": users}}}


def test_digests_are_added_checked_and_removed_once(desk, deps, slack_emulator, slack_proxy, channel):
    home.add_digest_clicked(home_click(slack_emulator, "mia", ids.HOME_DIGEST_ADD, "add"), desk.slack, deps=deps)
    [modal] = opened_views(slack_proxy, ids.DIGEST_MODAL)
    alice, mia = slack_emulator.users["alice"], slack_emulator.users["mia"]

    def submit(values: dict, user: str = "mia") -> dict:
        ack = Acks()
        home.digest_submitted(ack, submission(slack_emulator, user=user, view=modal, values=values), desk.slack,
                              deps=deps)
        return ack.only

    good = digest_values("weekly Monday 9:30", [channel], [alice])
    assert submit(good, user="alice") == {}  # not known here yet whether alice is an admin: asked after the ack
    assert notice(last_home(slack_proxy, slack_emulator, "alice")) == (
        "⚠️ The digest (weekly Monday 9:30) was not scheduled. " + home.NOT_ADMIN.format(what="schedule digests"))
    assert submit(good, user="alice") == {"response_action": "errors", "errors": {
        ids.DIGEST_SPEC_INPUT: home.NOT_ADMIN.format(what="schedule digests")}}
    forged = submit(digest_values("daily 09:00", ["<!channel>"], []))
    assert list(forged["errors"]) == [ids.DIGEST_CHANNELS_INPUT] and "<!channel>" in forged["errors"][
        ids.DIGEST_CHANNELS_INPUT]
    assert schedules(deps) == []

    assert submit(good) == {}
    [row] = schedules(deps)
    assert (row.spec, row.targets, row.created_by) == ("weekly mon 09:30", [channel, alice], mia)
    assert f"*weekly mon 09:30* → <#{channel}>, <@{alice}>" in texts(last_home(slack_proxy, slack_emulator, "mia"))

    remove = home_click(slack_emulator, "mia", ids.HOME_DIGEST_REMOVE, str(row.id))
    home.remove_digest_clicked(remove, desk.slack, deps=deps)
    assert schedules(deps) == []
    assert "Digests (0)" in texts(last_home(slack_proxy, slack_emulator, "mia"))
    home.remove_digest_clicked(remove, desk.slack, deps=deps)  # a second click, from the old Home
    assert notice(last_home(slack_proxy, slack_emulator, "mia")) == "⚠️ That digest was already removed."


def stream_box(ticked: bool) -> dict:
    chosen = [{"value": ids.RULE_STREAM_ON, "text": {"type": "plain_text", "text": "Carry it"}}] if ticked else []
    return {ids.RULE_STREAM_INPUT: {ids.RULE_STREAM_INPUT: {"type": "checkboxes", "selected_options": chosen}}}


def test_the_rule_editor_marks_a_rule_for_the_live_stream_and_takes_it_off(desk, deps, slack_emulator, slack_proxy,
                                                                          channel):
    rule_id = add_rule(deps, channel)
    view = edit_rule(slack_emulator, slack_proxy, desk, deps, rule_id)
    [box] = [b for b in view["blocks"] if b.get("block_id") == ids.RULE_STREAM_INPUT]
    assert box["element"]["type"] == "checkboxes" and "initial_options" not in box["element"]
    assert submit_rule(slack_emulator, desk, deps, view, rule_values(channel) | stream_box(True)).only == {}
    assert rule_of(deps, rule_id).stream is True
    again = edit_rule(slack_emulator, slack_proxy, desk, deps, rule_id)
    [box] = [b for b in again["blocks"] if b.get("block_id") == ids.RULE_STREAM_INPUT]
    assert [o["value"] for o in box["element"]["initial_options"]] == [ids.RULE_STREAM_ON]
    assert submit_rule(slack_emulator, desk, deps, again, rule_values(channel) | stream_box(False)).only == {}
    assert rule_of(deps, rule_id).stream is False
    # A submission without the box (an editor opened before, or forged) leaves the mark alone.
    with session_scope(deps.engine) as session:
        rule_store.set_stream(session=session, rule_id=rule_id, stream=True)
    assert submit_rule(slack_emulator, desk, deps, again, rule_values(channel)).only == {}
    assert rule_of(deps, rule_id).stream is True


def test_the_rule_editor_has_no_stream_box_where_the_stream_takes_every_rule(desk, deps, slack_emulator, slack_proxy,
                                                                             channel):
    with session_scope(deps.engine) as session:
        rule_id = rule_store.add_rule(session=session, network="bluesky", query="acme phone", channel_id=channel,
                                      every_seconds=300, lang=None, include_reposts=False, now=datetime.now(UTC)).id
    view = edit_rule(slack_emulator, slack_proxy, desk, deps, rule_id)
    assert ids.RULE_STREAM_INPUT not in [b.get("block_id") for b in view["blocks"]]
    forged = rule_values(channel) | stream_box(True)
    ack = submit_rule(slack_emulator, desk, deps, view, forged)
    said = ack.only["errors"][ids.RULE_STREAM_INPUT]
    assert ack.only["response_action"] == "errors" and "has no such stream" in said
    assert said.endswith("Untick the live stream") and "--stream" not in said  # the box, not the flag
    assert rule_of(deps, rule_id).stream is False
