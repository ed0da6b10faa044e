"""Webhooks in the store, on both databases: the outbox, the cursor, leases, the log."""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update
from sqlmodel import select

from socialdesk.domain import EventKind
from socialdesk.store import ingest, lifecycle
from socialdesk.store import webhook_deliveries as outbox
from socialdesk.store import webhooks as store
from socialdesk.store.db import session_scope
from socialdesk.store.events import record_event
from socialdesk.store.models import CaseEventRow, PostRow, WebhookDeliveryRow, WebhookRow
from tests.support.factories import x_post

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
LEASE = timedelta(seconds=60)


# A local stand-in for DNS: these tests look no name up on the network (and send nothing).
PUBLIC = "93.184.215.14"  # a public address; only ever written down, never contacted
DNS = {"crm.example.com": [PUBLIC], "intranet.example.com": ["10.1.2.3"], "metadata.example.com": ["169.254.169.254"],
       "split.example.com": [PUBLIC, "192.168.1.7"], "v6.example.com": ["2606:2800:21f:cb07:6820:80da:af6b:8b2c"],
       "ula.example.com": ["fd12:3456::1"], "here.example.com": ["127.0.0.1"]}


def fake_dns(host: str, port: int) -> list[str]:
    if host not in DNS:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    return DNS[host]


def add(engine, url="https://crm.example.com/hooks/socialdesk", **kw) -> WebhookRow:
    kw.setdefault("resolve", fake_dns)
    with session_scope(engine) as session:
        return store.add_webhook(session=session, url=url, created_by="UADMIN", now=kw.pop("now", NOW), **kw)


def count_webhooks(engine) -> int:
    with session_scope(engine) as session:
        return len(store.list_webhooks(session=session))


def open_case(engine, text="my Acme phone broke", handle="dana_k") -> int:
    with session_scope(engine) as session:
        [case_id] = ingest.store_posts(session=session, posts=[x_post(text, handle=handle)], rule_id=None,
                                       channel_id="C1", now=NOW)
    return case_id


def change(engine, fn, case_id, user="UALICE", **kw):
    with session_scope(engine) as session:
        assert fn(session=session, case_id=case_id, user_id=user, now=NOW, **kw).ok


def enqueue(engine, now=NOW) -> int:
    with session_scope(engine) as session:
        return outbox.enqueue_new_events(session=session, now=now)


def queued(engine, webhook_id) -> list[WebhookDeliveryRow]:
    with session_scope(engine) as session:
        return list(reversed(outbox.deliveries(session=session, webhook_id=webhook_id, limit=1000)))


def max_event_id(engine) -> int:
    with session_scope(engine) as session:
        return max(e.id for e in session.exec(select(CaseEventRow)))


def test_adding_checks_the_url_and_events_and_makes_a_secret(engine):
    hook = add(engine, events="case.opened, case.resolved")
    assert hook.events == ["case.opened", "case.resolved"] and len(hook.secret) >= 32
    assert add(engine, url="http://127.0.0.1:8080/x", allow_loopback=True).url == "http://127.0.0.1:8080/x"
    assert add(engine, secret="s" * 20).secret == "s" * 20
    assert add(engine, events="all").events == []
    with pytest.raises(store.WebhookInvalid, match="use https://"):
        add(engine, url="http://crm.example.com/hook")
    with pytest.raises(store.WebhookInvalid, match="not an http"):
        add(engine, url="ftp://crm.example.com/hook")
    with pytest.raises(store.WebhookInvalid, match="unknown event case.deleted"):
        add(engine, events="case.opened,case.deleted")
    with pytest.raises(store.WebhookInvalid, match="at least 16"):
        add(engine, secret="short")


# SQLite only: the address is refused before anything is written; storing webhooks is tested on both.
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(("url", "why"), [
    ("https://10.0.0.8/hook", "10.0.0.8 is a private address (10/8, 172.16/12, 192.168/16, fc00::/7)"),
    ("https://172.16.4.1/hook", "172.16.4.1 is a private address"),
    ("https://172.31.255.255/hook", "is a private address"),
    ("https://192.168.1.1/hook", "192.168.1.1 is a private address"),
    ("https://[fd00::1]/hook", "fd00::1 is a private address"),
    ("https://127.0.0.1/hook", "127.0.0.1 is a loopback address"),
    ("https://127.8.9.10/hook", "127.8.9.10 is a loopback address"),
    ("https://[::1]/hook", "::1 is a loopback address"),
    ("https://169.254.169.254/latest/meta-data/", "169.254.169.254 is a link-local address"),
    ("https://169.254.1.2/hook", "169.254.1.2 is a link-local address"),
    ("https://[fe80::1]/hook", "fe80::1 is a link-local address"),
    ("https://0.0.0.0/hook", "0.0.0.0 is the unspecified address"),
    ("https://[::]/hook", ":: is the unspecified address"),
    ("https://224.0.0.251/hook", "224.0.0.251 is a multicast address"),
    ("https://[ff02::1]/hook", "ff02::1 is a multicast address"),
    ("https://100.64.0.1/hook", "100.64.0.1 is a special-purpose address"),  # carrier-grade NAT, some clouds' metadata
    ("https://[::ffff:169.254.169.254]/hook", ("is a link-local address (169.254/16, fe80::/10, where cloud metadata"
                                                " services answer) (169.254.169.254 written as IPv6)")),
    ("https://[::ffff:10.0.0.1]/hook", "is a private address"),
    ("https://[2002:a9fe:a9fe::1]/hook", "is a link-local address"),  # 6to4 around 169.254.169.254
    ("https://[64:ff9b::a9fe:a9fe]/hook", "is a link-local address"),  # NAT64 around it
])
def test_urls_that_point_inward_are_refused_at_add(engine, url, why):
    with pytest.raises(store.WebhookRefused, match=re.escape(why)) as refused:
        add(engine, url=url)
    assert "webhooks go only to public addresses" in str(refused.value)
    assert count_webhooks(engine) == 0


def test_names_are_resolved_at_add_and_every_address_is_checked(engine):
    assert add(engine, url="https://crm.example.com/hook").url == "https://crm.example.com/hook"
    assert add(engine, url="https://v6.example.com/hook").url == "https://v6.example.com/hook"
    for host, why in [("intranet.example.com", "intranet.example.com resolves to 10.1.2.3, a private address"),
                      ("metadata.example.com", "metadata.example.com resolves to 169.254.169.254, a link-local"),
                      ("split.example.com", "split.example.com resolves to 192.168.1.7, a private address"),
                      ("ula.example.com", "ula.example.com resolves to fd12:3456::1, a private address"),
                      ("here.example.com", "here.example.com resolves to 127.0.0.1, a loopback address")]:
        with pytest.raises(store.WebhookRefused, match=re.escape(why)):
            add(engine, url=f"https://{host}/hook")
    # A name not in DNS (yet) is kept: every send resolves and checks it again.
    assert add(engine, url="https://not-yet.example.com/hook").url == "https://not-yet.example.com/hook"
    assert count_webhooks(engine) == 3


def test_localhost_is_refused_unless_loopback_is_allowed(engine):
    """The real resolver, on a name that resolves locally: the opt-in for tests and the local demo."""
    for url in ("http://localhost:8080/hook", "http://127.0.0.1:8080/hook", "https://[::1]:8443/hook"):
        with pytest.raises(store.WebhookRefused, match="set SOCIALDESK_WEBHOOKS_ALLOW_LOOPBACK=1"):
            add(engine, url=url, resolve=store.system_resolve)
        assert add(engine, url=url, resolve=store.system_resolve, allow_loopback=True).url == url
    with pytest.raises(store.WebhookRefused, match="private address"):  # the opt-in is for loopback only
        add(engine, url="https://10.0.0.8/hook", allow_loopback=True)
    with pytest.raises(store.WebhookRefused, match="link-local"):
        add(engine, url="https://169.254.169.254/hook", allow_loopback=True)


# SQLite only: the URL is checked before anything is written; storing webhooks is tested on both.
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(("url", "why"), [
    ("https://crm.example.com/hook\n", None),  # surrounding white space is trimmed: accepted
    ("https://crm.example.com/ho\nok", "control or invisible character (U+000A)"),
    ("https://crm.example.com/ho\rok", "(U+000D)"),
    ("https://crm.example.com/h\x00", "(U+0000)"),
    ("https://crm.example.com/h\x7f", "(U+007F)"),
    ("https://crm.exam ple.com/hook", "(U+0020)"),
    ("https://crm.example.com/\u202ekoob", "(U+202E)"),  # right-to-left override
    ("https://crm.example.com\u200b/hook", "(U+200B)"),  # zero-width space
    ("https://user:pass@crm.example.com/hook", "carries a user name or password"),
    ("https://user@crm.example.com/hook", "carries a user name or password"),
    ("https://crm.example.com@10.0.0.1/hook", "carries a user name or password"),
    ("https://crm.example.com:0/hook", "'crm.example.com:0' has an invalid port; use a number from 1 to 65535"),
    ("https://crm.example.com:65536/hook", "has an invalid port"),
    ("https://crm.example.com:-1/hook", "has an invalid port"),
    ("https://crm.example.com:https/hook", "has an invalid port"),
    ("https://crm.example.com:/hook", "has an invalid port"),
    ("https://2130706433/hook", "write an IPv4 address as four numbers"),  # 127.0.0.1 as one number
    ("https://0x7f.1/hook", "write an IPv4 address as four numbers"),
    ("https://127.1/hook", "write an IPv4 address as four numbers"),
    ("https://-crm-.example.com/hook", "is not a valid host name"),
    ("https://crm..example.com/hook", "is not a valid host name"),
])
def test_malformed_urls_are_refused_with_what_to_fix(engine, url, why):
    if why is None:
        assert add(engine, url=url).url == url.strip()
        return
    with pytest.raises(store.WebhookInvalid, match=re.escape(why)):
        add(engine, url=url)
    assert count_webhooks(engine) == 0


def test_a_slow_dns_answer_is_not_waited_for(engine):
    def slow(host: str, port: int) -> list[str]:
        time.sleep(5)
        return ["10.0.0.1"]

    started = time.monotonic()
    assert add(engine, url="https://slow.example.com/hook", resolve=slow, resolve_timeout=0.2).url
    assert time.monotonic() - started < 2  # the send-time check refuses it if it really is private


def test_the_outbox_queues_each_subscribed_event_once_and_moves_the_cursor(engine):
    before = open_case(engine, "a case from before the webhook existed")
    everything = add(engine)
    resolved_only = add(engine, events=["case.resolved"])
    case_id = open_case(engine)
    change(engine, lifecycle.claim, case_id)
    change(engine, lifecycle.add_note, case_id, text="internal: never sent")
    change(engine, lifecycle.replied, case_id, kind=EventKind.REPLY_SENT, payload={"url": "https://x.com/a/status/1"})
    change(engine, lifecycle.resolve, case_id, outcome="fixed")

    assert enqueue(engine) == 4 + 1
    assert enqueue(engine) == 0  # a second run finds nothing new
    assert [d.kind for d in queued(engine, everything.id)] == ["case.opened", "case.claimed", "case.replied", "case.resolved"]
    assert [d.kind for d in queued(engine, resolved_only.id)] == ["case.resolved"]
    assert all(d.case_id == case_id for d in queued(engine, everything.id))  # not `before`'s history
    assert before != case_id
    with session_scope(engine) as session:
        cursors = {w.id: w.last_event_id for w in store.list_webhooks(session=session)}
    assert cursors == {everything.id: max_event_id(engine), resolved_only.id: max_event_id(engine)}

    [opened, claimed, replied, resolved] = [json.loads(d.body) for d in queued(engine, everything.id)]
    assert opened["type"] == "case.opened" and opened["event"]["actor"] == "system"
    assert opened["case"]["customer"]["handle"] == "dana_k" and opened["case"]["post"]["text"] == "my Acme phone broke"
    assert opened["case"]["post"]["url"].startswith("https://x.com/dana_k/status/")
    assert claimed["event"] == {"id": claimed["event"]["id"], "kind": "claimed", "actor": "UALICE",
                                "at": "2026-11-27T12:00:00Z", "data": {}}
    assert replied["event"]["kind"] == "reply_sent" and replied["event"]["data"]["url"] == "https://x.com/a/status/1"
    assert resolved["case"]["status"] == "resolved" and resolved["case"]["assignee"] == "UALICE"
    assert resolved["case"]["outcome"] == "fixed" and resolved["event"]["data"] == {"outcome": "fixed"}


def test_a_paused_webhook_gets_what_happened_meanwhile_when_resumed(engine):
    hook = add(engine)
    with session_scope(engine) as session:
        store.set_active(session=session, webhook_id=hook.id, active=False)
    case_id = open_case(engine)
    assert enqueue(engine) == 0
    with session_scope(engine) as session:
        store.set_active(session=session, webhook_id=hook.id, active=True)
    assert enqueue(engine) == 1 and queued(engine, hook.id)[0].case_id == case_id


def test_an_event_committed_after_the_cursor_passed_it_is_still_queued(engine):
    """PostgreSQL hands out ids at insert and shows rows at commit: id 10 can appear after id 11 was seen."""
    hook = add(engine)
    case_id = open_case(engine)
    with session_scope(engine) as session:
        record_event(session, case_id, EventKind.RESOLVED, "UBOB", NOW + timedelta(seconds=1))
    late_id = max_event_id(engine)
    with session_scope(engine) as session:  # as if the run had already seen a later event
        session.execute(update(WebhookRow).where(WebhookRow.id == hook.id).values(last_event_id=late_id))
    assert enqueue(engine) == 1  # the opened event shares the webhook's creation second: older, not rechecked
    assert [d.case_event_id for d in queued(engine, hook.id)] == [late_id]
    assert enqueue(engine) == 0


def test_removed_posts_are_sent_without_their_text(engine):
    hook = add(engine)
    case_id = open_case(engine)
    with session_scope(engine) as session:
        session.execute(update(PostRow).where(PostRow.case_id == case_id).values(removed_at=NOW, removed_reason="deleted"))
    enqueue(engine)
    post = json.loads(queued(engine, hook.id)[0].body)["case"]["post"]
    assert post["text"] is None and post["removed"] == "deleted"


def test_two_replicas_queueing_at_once_queue_each_event_once(engine):
    hooks = [add(engine), add(engine, events=["case.opened"])]
    for i in range(30):
        open_case(engine, f"post {i}", handle=f"customer{i}")
    start = threading.Barrier(4)
    counts: list[int] = []
    errors: list[BaseException] = []

    def replica() -> None:
        try:
            start.wait()
            for _ in range(3):
                counts.append(enqueue(engine))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=replica) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert sum(counts) == 60
    for hook in hooks:
        event_ids = [d.case_event_id for d in queued(engine, hook.id)]
        assert len(event_ids) == len(set(event_ids)) == 30


def test_a_leased_delivery_is_not_claimed_again_until_the_lease_runs_out(engine):
    hook = add(engine)
    open_case(engine)
    enqueue(engine)
    with session_scope(engine) as session:
        [first] = outbox.claim_due(session=session, now=NOW, limit=10, lease=LEASE)
    with session_scope(engine) as session:
        assert outbox.claim_due(session=session, now=NOW + timedelta(seconds=59), limit=10, lease=LEASE) == []
    with session_scope(engine) as session:  # the first sender died: another takes over
        [again] = outbox.claim_due(session=session, now=NOW + timedelta(seconds=61), limit=10, lease=LEASE)
    assert again.delivery_id == first.delivery_id and again.attempt == first.attempt == 1
    assert first.secret == hook.secret and first.url == hook.url
    with session_scope(engine) as session:
        assert outbox.record_attempt(session=session, claimed=again, now=NOW, status_code=200, error=None,
                                    delivered=True, retry_at=None)
    with session_scope(engine) as session:  # the slow first sender's late record is dropped
        assert not outbox.record_attempt(session=session, claimed=first, now=NOW, status_code=500, error="HTTP 500",
                                        delivered=False, retry_at=NOW)
    [row] = queued(engine, hook.id)
    assert (row.status, row.attempts, row.last_status_code, row.delivered_at) == ("delivered", 1, 200, NOW)


def test_concurrent_claims_share_the_due_deliveries_without_overlap(engine):
    add(engine)
    for i in range(20):
        open_case(engine, f"post {i}", handle=f"customer{i}")
    enqueue(engine)
    start = threading.Barrier(4)
    claimed: list[int] = []

    def sender() -> None:
        start.wait()
        while True:
            with session_scope(engine) as session:
                batch = outbox.claim_due(session=session, now=NOW, limit=3, lease=LEASE)
            if not batch:
                return
            claimed.extend(c.delivery_id for c in batch)

    threads = [threading.Thread(target=sender) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(claimed) == len(set(claimed)) == 20


def test_retries_wait_for_their_time_and_paused_webhooks_are_not_sent(engine):
    hook = add(engine)
    open_case(engine)
    enqueue(engine)
    with session_scope(engine) as session:
        [c] = outbox.claim_due(session=session, now=NOW, limit=10, lease=LEASE)
        outbox.record_attempt(session=session, claimed=c, now=NOW, status_code=500, error="HTTP 500",
                             delivered=False, retry_at=NOW + timedelta(seconds=10))
    with session_scope(engine) as session:
        assert outbox.claim_due(session=session, now=NOW + timedelta(seconds=9), limit=10, lease=LEASE) == []
        store.set_active(session=session, webhook_id=hook.id, active=False)
    with session_scope(engine) as session:
        assert outbox.claim_due(session=session, now=NOW + timedelta(seconds=11), limit=10, lease=LEASE) == []
        store.set_active(session=session, webhook_id=hook.id, active=True)
    with session_scope(engine) as session:
        [again] = outbox.claim_due(session=session, now=NOW + timedelta(seconds=11), limit=10, lease=LEASE)
    assert again.attempt == 2


def test_failed_deliveries_can_be_queued_again_once(engine):
    hook = add(engine)
    open_case(engine)
    enqueue(engine)
    with session_scope(engine) as session:
        [c] = outbox.claim_due(session=session, now=NOW, limit=10, lease=LEASE)
        outbox.record_attempt(session=session, claimed=c, now=NOW, status_code=410, error="HTTP 410",
                             delivered=False, retry_at=None)
    with session_scope(engine) as session:
        assert outbox.claim_due(session=session, now=NOW + timedelta(days=1), limit=10, lease=LEASE) == []
        assert outbox.retry_failed(session=session, webhook_id=hook.id, now=NOW + timedelta(days=1)) == 1
    with session_scope(engine) as session:
        [again] = outbox.claim_due(session=session, now=NOW + timedelta(days=1), limit=10, lease=LEASE)
        assert outbox.retry_failed(session=session, webhook_id=hook.id, now=NOW) == 0  # pending, not failed
    assert (again.delivery_id, again.attempt) == (c.delivery_id, 2)
    with session_scope(engine) as session:
        with pytest.raises(store.WebhookNotFound):
            outbox.retry_failed(session=session, webhook_id=hook.id + 99, now=NOW)


def test_test_pings_summaries_and_removal(engine):
    hook = add(engine)
    other = add(engine)
    with session_scope(engine) as session:
        ping = outbox.enqueue_test(session=session, webhook_id=hook.id, now=NOW)
        outbox.enqueue_test(session=session, webhook_id=hook.id, now=NOW)  # pings have no event: no clash
    assert json.loads(ping.body)["type"] == "ping" and ping.case_event_id is None
    with session_scope(engine) as session:
        summary = {s.webhook.id: s for s in outbox.summaries(session=session)}
    assert summary[hook.id].pending == 2 and summary[hook.id].last.kind == "ping"
    assert summary[other.id].last is None and summary[other.id].pending == 0
    with session_scope(engine) as session:
        store.remove_webhook(session=session, webhook_id=hook.id)
    with session_scope(engine) as session:
        assert session.exec(select(WebhookDeliveryRow)).all() == []
        with pytest.raises(store.WebhookNotFound, match="no webhook"):
            outbox.deliveries(session=session, webhook_id=hook.id)


def test_display_url_hides_tokens():
    assert store.display_url("https://hooks.zapier.com/hooks/catch/123/abcdefghijklmnopqrstuvwxyz/?k=v") == \
        "https://hooks.zapier.com/hooks/catch/123/abcd…/"


def test_prune_forgets_old_settled_deliveries_but_keeps_pending_ones(engine):
    hook = add(engine)
    with session_scope(engine) as session:
        for status in ("delivered", "failed", "pending"):
            session.add(WebhookDeliveryRow(webhook_id=hook.id, kind="ping", body="{}", status=status,
                                           next_attempt_at=NOW, created_at=NOW - timedelta(days=40)))
        session.add(WebhookDeliveryRow(webhook_id=hook.id, kind="ping", body="{}", status="delivered",
                                       next_attempt_at=NOW, created_at=NOW))
    with session_scope(engine) as session:
        assert outbox.prune(session=session, before=NOW - timedelta(days=30)) == 2
    assert sorted((d.status, d.created_at == NOW) for d in queued(engine, hook.id)) == [
        ("delivered", True), ("pending", False)]
