"""`socialdesk webhooks …` as an admin runs it: `main([...])`, a real database, a real receiver."""

from __future__ import annotations

import re

import pytest

from tests.support.webhook_receiver import Scripted, WebhookReceiver


@pytest.fixture
def run(cli):
    return lambda *args, env: cli("webhooks", *args, env=env)


@pytest.fixture
def env(db_url) -> dict[str, str]:
    return {"SOCIALDESK_DATABASE_URL": db_url, "SOCIALDESK_WEBHOOKS_ALLOW_LOOPBACK": "1"}  # the receiver is local


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_add_test_list_and_the_delivery_log(run, env):
    with WebhookReceiver(secret="unknown yet", script=[Scripted(500, body="crm is down")]) as receiver:
        added = run("add", receiver.url, "--events", "case.opened,case.resolved", env=env)
        assert added.returncode == 0, added.stderr
        assert added.stdout.splitlines()[0] == f"webhook 1 added: {receiver.url} (events: case.opened, case.resolved)"
        receiver.secret = re.search(r"shown once; give it to the receiver\): (\S+)", added.stdout).group(1)
        assert len(receiver.secret) >= 32

        failed = run("test", "1", env=env)
        assert failed.returncode == 1
        assert failed.stdout.strip() == "webhook 1 test ping (delivery 1): failed: HTTP 500: crm is down"
        ok = run("test", "1", env=env)
        assert ok.returncode == 0, ok.stderr
        assert re.fullmatch(r"webhook 1 test ping \(delivery 2\): delivered \(HTTP 200 in \d+ ms, attempt 1\)\n",
                            ok.stdout)
    assert [r.verified for r in receiver.received] == [True, True]  # signed with the printed secret
    assert receiver.received[1].json["type"] == "ping"

    listed = run("list", env=env).stdout.splitlines()
    assert listed[1].split()[:4] == ["1", "active", "0", "1"] and "delivered ping" in listed[1]
    assert listed[1].endswith(receiver.url) and listed[2].strip() == "events: case.opened, case.resolved"
    log = run("deliveries", "1", env=env).stdout.splitlines()
    # id, queued (date time), event, case, status, tries, code, …: newest first
    assert [line.split()[3:8] for line in log[1:]] == [["ping", "-", "delivered", "1", "200"],
                                                        ["ping", "-", "failed", "1", "500"]]
    assert log[2].endswith("HTTP 500: crm is down")
    retried = run("retry", "1", env=env).stdout
    assert retried.startswith("webhook 1: 1 failed delivery queued again")
    assert run("retry", "1", env=env).stdout.strip() == "webhook 1 has no failed deliveries"

    assert run("pause", "1", env=env).stdout.strip() == "webhook 1 paused"
    assert "paused" in run("list", env=env).stdout
    assert run("resume", "1", env=env).stdout.strip() == "webhook 1 resumed"
    assert run("remove", "1", env=env).stdout.strip() == "webhook 1 removed, with its delivery log"
    assert run("list", env=env).stdout.startswith("no webhooks yet")


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_mistakes_are_one_line(run, env):
    plain_http = run("add", "http://crm.example.com/hook", env=env)
    assert plain_http.returncode == 2 and plain_http.stderr.startswith("socialdesk: use https://")
    bad_event = run("add", "https://crm.example.com/hook", "--events", "case.opend", env=env)
    assert bad_event.returncode == 2 and "unknown event case.opend; choose from case.opened" in bad_event.stderr
    for action in ("test", "pause", "remove", "deliveries"):
        missing = run(action, "7", env=env)
        assert missing.returncode == 2, action
        assert missing.stderr == "socialdesk: there is no webhook 7; `socialdesk webhooks list` shows them\n"
    assert "Traceback" not in plain_http.stderr + bad_event.stderr + missing.stderr


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_addresses_that_point_inward_are_refused_in_one_line(run, env):
    strict = {**env, "SOCIALDESK_WEBHOOKS_ALLOW_LOOPBACK": "0"}
    metadata = run("add", "https://169.254.169.254/latest/meta-data/", env=strict)
    assert metadata.returncode == 2
    assert metadata.stderr == ("socialdesk: 169.254.169.254 is a link-local address (169.254/16, fe80::/10, where "
                               "cloud metadata services answer): webhooks go only to public addresses, so they "
                               "cannot reach internal services\n")
    local = run("add", "http://localhost:8080/hook", env=strict)
    assert local.returncode == 2
    assert local.stderr == ("socialdesk: localhost resolves to 127.0.0.1, a loopback address (this machine): webhooks "
                            "go only to public addresses; to send them to a local receiver (tests, the local demo) "
                            "set SOCIALDESK_WEBHOOKS_ALLOW_LOOPBACK=1\n")
    private = run("add", "https://10.20.30.40:8443/hook", env=env)  # the opt-in is for loopback only
    assert private.returncode == 2 and private.stderr.startswith("socialdesk: 10.20.30.40 is a private address")
    creds = run("add", "https://admin:hunter2@10.20.30.40/hook", env=env)
    assert creds.returncode == 2 and "carries a user name or password" in creds.stderr
    port = run("add", "https://127.0.0.1:99999/hook", env=env)
    assert port.returncode == 2 and "has an invalid port; use a number from 1 to 65535" in port.stderr
    assert run("list", env=env).stdout.startswith("no webhooks yet")
