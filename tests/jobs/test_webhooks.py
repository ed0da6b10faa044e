"""Sending webhooks to a real local HTTP receiver that checks every signature.

Time is a fake clock moved by the test: backoff is never slept through.
"""

from __future__ import annotations

import json
import socket
import ssl
import threading
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import update

from socialdesk.jobs.webhooks import (BACKOFF_SECONDS, MAX_ATTEMPTS, WebhookSender,
                                      send_test_ping)
from socialdesk.store import ingest, lifecycle
from socialdesk.store import webhook_deliveries as outbox
from socialdesk.store import webhooks as store
from socialdesk.store.db import session_scope
from socialdesk.store.models import WebhookRow
from socialdesk.webhook_signature import SignatureError, sign, verify_signature
from tests.support.factories import x_post
from tests.support.webhook_receiver import Scripted, WebhookReceiver

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
SECRET = "whsec-test-0123456789abcdef"


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def at(self, seconds: float) -> Clock:
        self.now = T0 + timedelta(seconds=seconds)
        return self


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def http():
    with httpx.Client() as client:
        yield client


def sender(engine, http, clock, **kw) -> WebhookSender:
    kw.setdefault("allow_loopback", True)  # the receivers here listen on 127.0.0.1
    return WebhookSender(engine=engine, http=http, clock=clock, **kw)


def add(engine, url: str, **kw):
    kw.setdefault("allow_loopback", True)
    with session_scope(engine) as session:
        return store.add_webhook(session=session, url=url, secret=SECRET, created_by="UADMIN", now=T0, **kw)


def open_case(engine, clock, text="my Acme phone broke") -> int:
    with session_scope(engine) as session:
        [case_id] = ingest.store_posts(session=session, posts=[x_post(text, handle="dana_k")], rule_id=None,
                                       channel_id="C1", now=clock())
    return case_id


def log(engine, webhook_id) -> list:
    with session_scope(engine) as session:
        return outbox.deliveries(session=session, webhook_id=webhook_id)


def test_case_events_arrive_signed_with_their_delivery_id(engine, http, clock):
    with WebhookReceiver(secret=SECRET, clock=clock) as receiver:
        hook = add(engine, receiver.url)
        case_id = open_case(engine, clock.at(1))
        with session_scope(engine) as session:
            lifecycle.claim(session=session, case_id=case_id, user_id="UALICE", now=clock.at(2)())
        results = sender(engine, http, clock.at(3)).run_once()

    assert [r.outcome for r in results] == ["delivered", "delivered"]
    got = receiver.verified()
    assert len(got) == len(receiver.received) == 2
    assert [r.headers["x-socialdesk-event"] for r in got] == ["case.opened", "case.claimed"]
    rows = {str(d.id): d for d in log(engine, hook.id)}
    for request in got:
        row = rows[request.headers["x-socialdesk-delivery"]]
        assert request.body == row.body  # the stored body is the exact bytes signed and sent
        assert request.headers["content-type"] == "application/json"
        assert request.headers["x-socialdesk-timestamp"] == str(int(clock().timestamp()))
        assert (row.status, row.attempts, row.last_status_code) == ("delivered", 1, 200)
    claimed = got[1].json
    assert claimed["case"]["id"] == case_id and claimed["case"]["assignee"] == "UALICE"
    assert claimed["event"]["actor"] == "UALICE" and claimed["case"]["customer"]["handle"] == "dana_k"
    assert sender(engine, http, clock.at(60)).run_once() == []  # nothing is sent twice


def test_a_receiver_that_fails_twice_gets_the_event_on_the_third_attempt(engine, http, clock):
    script = [Scripted(500, body="database is down"), Scripted(503, {"Retry-After": "120"}, "deploying")]
    with WebhookReceiver(secret=SECRET, clock=clock, script=script) as receiver:
        hook = add(engine, receiver.url)
        open_case(engine, clock.at(1))
        job = sender(engine, http, clock)

        [first] = job.run_once()
        assert (first.outcome, first.status_code, first.retry_at) == ("retrying", 500, T0 + timedelta(seconds=11))
        assert job.run_once() == []
        clock.at(10)
        assert job.run_once() == []  # not before its time
        [second] = sender(engine, http, clock.at(11)).run_once()
        # 503 asked for 120 s, longer than the 30 s backoff: Retry-After wins.
        assert (second.outcome, second.status_code, second.retry_at) == ("retrying", 503, T0 + timedelta(seconds=131))
        assert sender(engine, http, clock.at(130)).run_once() == []
        [third] = sender(engine, http, clock.at(131)).run_once()

    assert (third.outcome, third.attempt, third.status_code) == ("delivered", 3, 200)
    assert [r.answered for r in receiver.received] == [500, 503, 200]
    assert all(r.verified for r in receiver.received)
    assert len({r.headers["x-socialdesk-delivery"] for r in receiver.received}) == 1  # one id: receivers dedupe on it
    assert len({r.body for r in receiver.received}) == 1
    assert [r.headers["x-socialdesk-timestamp"] for r in receiver.received] == [
        str(int((T0 + timedelta(seconds=s)).timestamp())) for s in (1, 11, 131)]  # each attempt signed afresh
    [row] = log(engine, hook.id)
    assert (row.status, row.attempts, row.last_status_code) == ("delivered", 3, 200)
    assert row.delivered_at == T0 + timedelta(seconds=131)
    assert row.last_error == "HTTP 503: deploying"  # what the retries were for stays in the log


def test_a_delivery_that_keeps_failing_backs_off_then_fails(engine, http, clock):
    with WebhookReceiver(secret=SECRET, clock=clock, script=[Scripted(500)] * MAX_ATTEMPTS) as receiver:
        hook = add(engine, receiver.url)
        open_case(engine, clock)
        waits = []
        for _ in range(MAX_ATTEMPTS):
            [result] = sender(engine, http, clock).run_once()
            if result.retry_at is None:
                break
            waits.append((result.retry_at - clock()).total_seconds())
            clock.now = result.retry_at
    assert waits == list(BACKOFF_SECONDS)
    assert (result.outcome, result.attempt) == ("failed", MAX_ATTEMPTS)
    assert len(receiver.received) == MAX_ATTEMPTS
    [row] = log(engine, hook.id)
    assert (row.status, row.attempts, row.last_status_code, row.delivered_at) == ("failed", MAX_ATTEMPTS, 500, None)
    clock.now += timedelta(days=1)
    assert sender(engine, http, clock).run_once() == []


def test_a_down_receiver_costs_one_request_and_the_queue_keeps_its_order(engine, http, clock):
    with WebhookReceiver(secret=SECRET, clock=clock, script=[Scripted(502)]) as receiver:
        hook = add(engine, receiver.url)
        cases = [open_case(engine, clock, f"problem {i}") for i in range(3)]
        [failed] = sender(engine, http, clock).run_once()
        assert (failed.outcome, failed.status_code) == ("retrying", 502)
        waiting = {d.case_id: (d.attempts, d.next_attempt_at) for d in log(engine, hook.id)}
        assert waiting == {cases[0]: (1, T0 + timedelta(seconds=10)),  # tried, and two untried behind it
                           cases[1]: (0, T0 + timedelta(seconds=10)), cases[2]: (0, T0 + timedelta(seconds=10))}
        assert sender(engine, http, clock.at(9)).run_once() == []
        results = sender(engine, http, clock.at(10)).run_once()
    assert [r.outcome for r in results] == ["delivered"] * 3
    assert [r.json["case"]["id"] for r in receiver.received] == [cases[0], *cases]
    assert [r.answered for r in receiver.received] == [502, 200, 200, 200]


def test_gone_fails_at_once_and_other_client_errors_are_retried(engine, http, clock):
    with WebhookReceiver(secret=SECRET, clock=clock, script=[Scripted(404), Scripted(410)]) as receiver:
        add(engine, receiver.url)
        open_case(engine, clock)
        [first] = sender(engine, http, clock).run_once()
        [second] = sender(engine, http, clock.at(10)).run_once()
    assert (first.outcome, first.status_code) == ("retrying", 404)
    assert (second.outcome, second.status_code, second.describe()) == ("failed", 410, "failed: HTTP 410")


def test_unreachable_and_silent_receivers_are_retried(engine, http, clock):
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        add(engine, f"http://127.0.0.1:{silent.getsockname()[1]}/hook")
        with socket.socket() as closed:
            closed.bind(("127.0.0.1", 0))
            add(engine, f"http://127.0.0.1:{closed.getsockname()[1]}/hook")  # bound, not listening: refused
            open_case(engine, clock)
            results = sorted(sender(engine, http, clock, timeout=0.5).run_once(), key=lambda r: r.webhook_id)
    assert [r.outcome for r in results] == ["retrying", "retrying"]
    assert results[0].error == "no answer within 0.5 s"
    assert results[1].error.startswith("could not reach the receiver (ConnectError")


def test_the_test_ping_is_sent_now_and_tried_once(engine, http, clock):
    with WebhookReceiver(secret=SECRET, clock=clock, script=[Scripted(500, body="nope")]) as receiver:
        hook = add(engine, receiver.url)
        failed = send_test_ping(engine=engine, clock=clock, webhook_id=hook.id, http=http, allow_loopback=True)
        with session_scope(engine) as session:  # a paused webhook can still be tested
            store.set_active(session=session, webhook_id=hook.id, active=False)
        ok = send_test_ping(engine=engine, clock=clock, webhook_id=hook.id, allow_loopback=True)  # own client
    assert (failed.outcome, failed.describe()) == ("failed", "failed: HTTP 500: nope")
    assert ok.outcome == "delivered" and ok.describe().startswith("delivered (HTTP 200 in ")
    assert [r.json["type"] for r in receiver.verified()] == ["ping", "ping"]
    assert [r.headers["x-socialdesk-event"] for r in receiver.received] == ["ping", "ping"]
    assert [(d.kind, d.status) for d in log(engine, hook.id)] == [("ping", "delivered"), ("ping", "failed")]
    with pytest.raises(store.WebhookNotFound):
        send_test_ping(engine=engine, clock=clock, webhook_id=999, http=http)


def test_two_senders_at_once_send_each_delivery_once(engine, http, clock):
    with WebhookReceiver(secret=SECRET, clock=clock) as receiver:
        add(engine, receiver.url)
        for i in range(12):
            with session_scope(engine) as session:
                ingest.store_posts(session=session, posts=[x_post(f"post {i}", handle=f"c{i}")], rule_id=None,
                                   channel_id="C1", now=T0)
        start = threading.Barrier(2)
        results: list = []

        def replica() -> None:
            start.wait()
            results.extend(sender(engine, http, clock, batch=3).run_once())

        threads = [threading.Thread(target=replica) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    ids = [r.headers["x-socialdesk-delivery"] for r in receiver.verified()]
    assert len(ids) == len(set(ids)) == 12 and len(results) == 12


# --- where deliveries may go: checked again at send time, after DNS ---

PUBLIC = "93.184.215.14"  # a public address: only written down, never contacted (the transport below refuses)


def dns(table: dict[str, list[str]], calls: list[str] | None = None):
    """A stand-in resolver: nothing is looked up on the network."""
    def resolve(host: str, port: int) -> list[str]:
        if calls is not None:
            calls.append(host)
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return table[host]
    return resolve


@pytest.fixture
def no_network():
    """An HTTP client that fails the test if anything is sent through it."""
    sent: list[httpx.Request] = []

    def refuse(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        raise AssertionError(f"a request went out to {request.url}")

    with httpx.Client(transport=httpx.MockTransport(refuse)) as client:
        yield client
    assert sent == []


@pytest.mark.parametrize(("resolves_to", "why"), [
    (["169.254.169.254"], "crm.example.com resolves to 169.254.169.254, a link-local address"),
    (["10.0.0.5"], "crm.example.com resolves to 10.0.0.5, a private address"),
    ([PUBLIC, "192.168.0.10"], "crm.example.com resolves to 192.168.0.10, a private address"),  # every one is checked
    (["fd00::5"], "crm.example.com resolves to fd00::5, a private address"),
    (["::ffff:127.0.0.1"], "loopback address"),
    (["0.0.0.0"], "the unspecified address"),
])
def test_a_name_that_now_points_inward_is_not_sent_to(engine, no_network, clock, resolves_to, why):
    """Checked at add (public then), refused at send (DNS changed since): nothing leaves, the log says why."""
    hook = add(engine, "https://crm.example.com/hooks/socialdesk", resolve=dns({"crm.example.com": [PUBLIC]}),
               allow_loopback=False)
    open_case(engine, clock)
    [result] = sender(engine, no_network, clock, allow_loopback=False,
                      resolve=dns({"crm.example.com": resolves_to})).run_once()
    assert (result.outcome, result.status_code) == ("retrying", None)
    assert result.error.startswith("not sent: ") and why in result.error
    assert "webhooks go only to public addresses" in result.error
    [delivery] = log(engine, hook.id)
    assert delivery.last_error == result.error and delivery.attempts == 1


def test_loopback_is_refused_at_send_unless_allowed(engine, http, clock):
    with WebhookReceiver(secret=SECRET, clock=clock) as receiver:
        hook = add(engine, receiver.url)  # added while allowed
        open_case(engine, clock)
        [refused] = sender(engine, http, clock, allow_loopback=False).run_once()
        assert receiver.received == []
        assert refused.error.startswith("not sent: 127.0.0.1 is a loopback address")
        assert "SOCIALDESK_WEBHOOKS_ALLOW_LOOPBACK=1" in refused.error
        ping = send_test_ping(engine=engine, clock=clock, webhook_id=hook.id, http=http, allow_loopback=False)
        assert ping.outcome == "failed" and "loopback" in ping.error and receiver.received == []
        [delivered] = sender(engine, http, clock.at(10), allow_loopback=True).run_once()
    assert delivered.outcome == "delivered" and len(receiver.verified()) == 1


def test_a_name_that_does_not_resolve_is_retried_with_the_reason(engine, no_network, clock):
    add(engine, "https://crm.example.com/hook", resolve=dns({}), allow_loopback=False)  # not in DNS yet: kept
    open_case(engine, clock)
    [result] = sender(engine, no_network, clock, resolve=dns({})).run_once()
    assert result.outcome == "retrying"
    assert result.error == "could not resolve crm.example.com (Name or service not known)"


def test_stored_urls_are_checked_again_before_sending(engine, no_network, clock):
    """A row written before these checks (or by hand) with credentials or a bad port is not sent."""
    hook = add(engine, "https://crm.example.com/hook", resolve=dns({"crm.example.com": [PUBLIC]}))
    for url, why in [("https://user:pw@crm.example.com/hook", "carries a user name or password"),
                     ("https://crm.example.com:0/hook", "has an invalid port"),
                     ("http://crm.example.com/hook", "use https://")]:
        with session_scope(engine) as session:
            session.execute(update(WebhookRow).where(WebhookRow.id == hook.id).values(url=url))
        result = send_test_ping(engine=engine, clock=clock, webhook_id=hook.id, http=no_network,
                                resolve=dns({"crm.example.com": [PUBLIC]}))
        assert result.outcome == "failed" and why in result.error


def test_the_post_goes_to_the_checked_address_with_the_name_in_host(engine, http, clock):
    """The name is resolved once, by the sender's resolver, and the connection is made to a checked address
    (the next one when the first refuses the connection: nobody listens on 127.0.0.3)."""
    calls: list[str] = []
    with WebhookReceiver(secret=SECRET, clock=clock) as receiver:
        port = receiver.url.split(":")[2].split("/")[0]
        hook = add(engine, f"http://localhost:{port}/hooks/socialdesk", resolve=dns({"localhost": ["127.0.0.1"]}))
        result = send_test_ping(engine=engine, clock=clock, webhook_id=hook.id, http=http, allow_loopback=True,
                                resolve=dns({"localhost": ["127.0.0.3", "127.0.0.1"]}, calls))
    assert result.outcome == "delivered", result.error
    assert calls == ["localhost"]
    [ping] = receiver.verified()
    assert ping.headers["host"] == f"localhost:{port}" and ping.headers["connection"] == "close"


def _self_signed(tmp_path, name: str):
    """A certificate for `name` and an SSL context that trusts only it (no external CA, no network)."""
    x509 = pytest.importorskip("cryptography.x509")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(datetime.now(UTC) - timedelta(days=1))
            .not_valid_after(datetime.now(UTC) + timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert_file, key_file)
    client = ssl.create_default_context(cafile=str(cert_file))
    return server, client


def test_https_keeps_the_name_for_sni_and_the_certificate(engine, clock, tmp_path):
    """crm.example.com → 127.0.0.1 (a stand-in resolver): the TLS handshake names crm.example.com and the
    certificate is checked for it, though the connection goes to the checked address."""
    server_ctx, client_ctx = _self_signed(tmp_path, "crm.example.com")
    server_names: list[str | None] = []
    server_ctx.sni_callback = lambda sock, name, ctx: server_names.append(name)
    resolve = dns({"crm.example.com": ["127.0.0.1"]})
    with WebhookReceiver(secret=SECRET, clock=clock) as receiver:
        receiver._server.socket = server_ctx.wrap_socket(receiver._server.socket, server_side=True)
        port = receiver.url.split(":")[2].split("/")[0]
        hook = add(engine, f"https://crm.example.com:{port}/hooks/socialdesk", resolve=resolve)
        with httpx.Client(verify=client_ctx) as http:
            result = send_test_ping(engine=engine, clock=clock, webhook_id=hook.id, http=http, allow_loopback=True,
                                    resolve=resolve)
        with httpx.Client(verify=ssl.create_default_context()) as untrusting:  # the name is really checked
            refused = send_test_ping(engine=engine, clock=clock, webhook_id=hook.id, http=untrusting,
                                     allow_loopback=True, resolve=resolve)
    assert result.outcome == "delivered", result.error
    assert server_names[0] == "crm.example.com"
    assert receiver.verified()[0].headers["host"] == f"crm.example.com:{port}"
    assert refused.outcome == "failed" and "CERTIFICATE_VERIFY_FAILED" in refused.error


# --- verify_signature, as a receiver uses it ---

BODY = json.dumps({"type": "case.opened", "case": {"id": 1}})
STAMP = int(T0.timestamp())


def test_a_good_signature_passes_and_rotation_lists_are_accepted():
    verify_signature(SECRET, str(STAMP), BODY, sign(SECRET, STAMP, BODY), now=T0)
    verify_signature(SECRET, STAMP, BODY.encode(), f"v1=00ff, {sign(SECRET, STAMP, BODY)}", now=T0 + timedelta(seconds=299))


@pytest.mark.parametrize("secret, stamp, body, signature, now, problem", [
    (SECRET, STAMP, BODY.replace("1", "2"), sign(SECRET, STAMP, BODY), T0, "does not match"),
    ("another-secret-0123456789", STAMP, BODY, sign(SECRET, STAMP, BODY), T0, "does not match"),
    (SECRET, STAMP, BODY, sign(SECRET, STAMP, BODY), T0 + timedelta(seconds=301), "a replay"),
    (SECRET, STAMP, BODY, sign(SECRET, STAMP, BODY), T0 - timedelta(seconds=301), "a replay"),
    (SECRET, STAMP + 1, BODY, sign(SECRET, STAMP, BODY), T0, "does not match"),  # the timestamp is signed too
    (SECRET, STAMP, BODY, sign(SECRET, STAMP, BODY).removeprefix("v1="), T0, "no v1= signature"),
    (SECRET, "yesterday", BODY, sign(SECRET, STAMP, BODY), T0, "not Unix seconds"),
], ids=["tampered body", "wrong secret", "stale", "from the future", "moved timestamp", "no scheme", "bad timestamp"])
def test_bad_signatures_are_refused(secret, stamp, body, signature, now, problem):
    with pytest.raises(SignatureError, match=problem):
        verify_signature(secret, stamp, body, signature, now=now)
