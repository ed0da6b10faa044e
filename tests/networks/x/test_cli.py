"""`socialdesk auth x` as an admin runs it: FakeX and a real SQLite database.

The commands run in-process (`main([...])`, tests.support.cli), what they would read on a
terminal given as standard input; the one that pastes the address at a prompt runs the real
entry point in a process of its own.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from socialdesk.config import Settings
from socialdesk.networks.x.fake.server import FakeX
from socialdesk.networks.x.auth import XUserAuth
from socialdesk.networks.x.reply import XReplier
from socialdesk.store.credentials import DatabaseCredentials, get_credential
from socialdesk.store.db import make_engine, session_scope
from tests.support.cli import Cli, Ran

AUTH_X = [sys.executable, "-m", "socialdesk", "auth", "x"]
Run = Callable[..., Ran]


@pytest.fixture
def fake() -> Iterator[FakeX]:
    with FakeX(require_user_context=True) as server:
        yield server


@pytest.fixture
def env(fake: FakeX, tmp_path: Path) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SOCIALDESK_", "SLACK_"))}
    return {**base, "SOCIALDESK_DATABASE_URL": f"sqlite:///{tmp_path}/s.db", "SOCIALDESK_X_API_URL": fake.url,
            "SOCIALDESK_X_AUTHORIZE_URL": fake.url + "/i/oauth2/authorize",
            "SOCIALDESK_X_CLIENT_ID": fake.client_id, "SOCIALDESK_X_CLIENT_SECRET": fake.client_secret or ""}


@pytest.fixture
def run(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> Run:
    """`run("--redirect-url", url, env=env)`: `socialdesk auth x …` with nothing (or `stdin`) to read."""
    def auth_x(*args: str, env: dict[str, str], stdin: str | None = None) -> Ran:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin or ""))
        return cli("auth", "x", *args, env={k: v for k, v in env.items() if k.startswith(("SOCIALDESK_", "SLACK_"))})

    return auth_x


def start(run: Run, env: dict[str, str]) -> str:
    """Run `socialdesk auth x` with nothing to paste; returns the authorize URL it printed."""
    started = run(env=env)
    assert started.returncode == 2, started.stderr
    assert "socialdesk auth x --redirect-url" in started.stderr
    url = started.stdout.strip()
    assert url.startswith(env["SOCIALDESK_X_AUTHORIZE_URL"] + "?") and "\n" not in url
    return url


def connected(fake: FakeX) -> str:
    return f"connected @acmephones (id {fake.own_user['id']}); replies will be sent as @acmephones\n"


def test_sign_in_then_finish_with_redirect_url(fake: FakeX, env: dict[str, str], run: Run) -> None:
    url = start(run, env)
    landed = fake.approve(url)  # the admin clicks "Authorize app"
    done = run("--redirect-url", landed, env=env)
    assert (done.returncode, done.stdout) == (0, connected(fake)), done.stderr
    engine = make_engine(env["SOCIALDESK_DATABASE_URL"])
    try:
        with session_scope(engine) as session:
            row = get_credential(session=session, network="x")
            assert get_credential(session=session, network="x:pending") is None
        assert (row.account_id, row.account_handle) == (fake.own_user["id"], "acmephones")
        assert row.refresh_token and row.expires_at
        # The stored sign-in is what replies use.
        question = fake.post(username="dana_k", text="@acmephones help")
        settings = Settings(_env_file=None, SOCIALDESK_X_API_URL=fake.url, SOCIALDESK_X_CLIENT_ID=fake.client_id,
                            SOCIALDESK_X_CLIENT_SECRET=fake.client_secret)
        with httpx.Client(timeout=5) as http:
            replier = XReplier(http=http, api_url=fake.url, auth=XUserAuth(settings, http=http, credentials=DatabaseCredentials(engine, "x")))
            assert replier.reply("@dana_k on it", question["id"], idempotency_key="k").url.startswith(
                "https://x.com/acmephones/status/")
    finally:
        engine.dispose()
    again = run("--redirect-url", landed, env=env)
    assert again.returncode == 2 and "no sign-in is waiting" in again.stderr


def test_sign_in_pasting_the_address(fake: FakeX, env: dict[str, str]) -> None:
    proc = subprocess.Popen(AUTH_X, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        url = proc.stdout.readline().strip()  # type: ignore[union-attr]
        out, err = proc.communicate(fake.approve(url) + "\n", timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert (proc.returncode, out) == (0, connected(fake)), err
    assert "Paste that whole address here" in err


def test_missing_client_id_is_one_line(env: dict[str, str], run: Run) -> None:
    failed = run(env={**env, "SOCIALDESK_X_CLIENT_ID": ""})
    assert failed.returncode == 2 and failed.stdout == ""
    assert failed.stderr.startswith("socialdesk: SOCIALDESK_X_CLIENT_ID is not set: in the X developer console")
    assert failed.stderr.count("\n") == 1


def test_bad_redirects_are_one_line_errors(fake: FakeX, env: dict[str, str], run: Run) -> None:
    url = start(run, env)
    state = parse_qs(urlsplit(url).query)["state"][0]
    callback = "http://127.0.0.1:8765/x/callback?"

    def finish(landed: str) -> str:
        failed = run("--redirect-url", landed, env=env)
        assert failed.returncode == 2 and failed.stdout == "" and failed.stderr.count("\n") == 1, failed.stderr
        assert "Traceback" not in failed.stderr
        return failed.stderr

    landed = fake.approve(url)
    assert "state does not match" in finish(landed.replace(f"state={state}", "state=forged"))
    assert "access_denied" in finish(fake.approve(url, deny=True))
    assert "has no code=" in finish(callback + urlencode({"state": state}))
    fake.clock = lambda: time.time() + 31  # the code is valid for 30 seconds
    assert "X refused the code: Value passed for the authorization code was invalid." in finish(landed)
    fake.clock = time.time
    done = run("--redirect-url", fake.approve(url), env=env)  # the pending sign-in survived the failures
    assert (done.returncode, done.stdout) == (0, connected(fake)), done.stderr
