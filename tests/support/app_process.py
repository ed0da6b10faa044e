"""`socialdesk` as a real process: started on a free port, killed or stopped like in production."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.support.cli import Ran, run_main
from tests.support.ports import free_port


@dataclass
class AppProcess:
    env: dict[str, str]
    log_path: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None
    _moves: int = 0  # times start() moved to another port (see there)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def events_url(self) -> str:
        return self.url + "/slack/events"

    @property
    def signing_secret(self) -> str:
        return self.env["SLACK_SIGNING_SECRET"]

    def cli(self, *args: str, check: bool = True) -> Ran:
        """`socialdesk …` against this app's database and settings, as an admin runs it beside the app.
        In the test's process (`main([...])`): a process of its own adds a second of start-up, nothing more."""
        result = run_main(list(args), env=self._env())
        if check and result.returncode != 0:
            raise AssertionError(f"socialdesk {' '.join(args)} failed ({result.returncode}): {result.stderr}")
        return result

    def start(self, timeout: float = 30, ready: Callable[[], object] | None = None) -> AppProcess:
        """Run `socialdesk run`; return once it answers /healthz, or once `ready()` is truthy
        (Socket Mode serves no HTTP: there, ready is "it connected")."""
        logged = len(self.log())  # what this start writes comes after
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "socialdesk", "run"], env=self._env(), stdout=log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                if "Address already in use" in self.log()[logged:] and ready is None and self._moves < 3:
                    # The port was free when picked; after a kill -9 any outgoing connection on the machine
                    # may take it as its own end before the restart binds it. Another free port, then.
                    self._moves += 1
                    self.port = free_port()
                    return self.start(timeout=max(1.0, deadline - time.monotonic()))
                raise AssertionError(f"socialdesk run exited with {self.proc.returncode}:\n{self.log()}")
            if ready is not None:
                if ready():
                    return self
            else:
                try:
                    if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                        return self
                except httpx.TransportError:
                    pass
            time.sleep(0.1)
        waited = "was not ready" if ready is not None else "did not answer /healthz"
        raise AssertionError(f"socialdesk run {waited} in {timeout} s:\n{self.log()}")

    def kill9(self) -> None:
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self, sig: int = signal.SIGINT, timeout: float = 20) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
                raise AssertionError(f"socialdesk run ignored {signal.Signals(sig).name}:\n{self.log()}") from None
        return self.proc.returncode

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SOCIALDESK_", "SLACK_"))}
        env.update(self.env, SOCIALDESK_HTTP_PORT=str(self.port), SOCIALDESK_HTTP_HOST="127.0.0.1")
        return env


def app_env(*, db_url: str, slack_api_url: str, x_url: str, x_token: str, **extra: str) -> dict[str, str]:
    return {
        "SOCIALDESK_DATABASE_URL": db_url,
        # A token of its own: the emulator budgets requests per token string.
        "SLACK_BOT_TOKEN": f"xoxb-e2e-{uuid.uuid4().hex}",
        "SLACK_SIGNING_SECRET": uuid.uuid4().hex,
        "SOCIALDESK_SLACK_API_URL": slack_api_url,
        "SOCIALDESK_X_API_URL": x_url,
        "SOCIALDESK_X_BEARER_TOKEN": x_token,
        "SOCIALDESK_OWN_HANDLES": "acmephones",
        "SOCIALDESK_LOG_LEVEL": "INFO",
        "SOCIALDESK_BLUESKY_JETSTREAM_URL": "",  # no stream unless a test starts a local one: no internet
        # Numbered look-alike posts ("acme order 3 never arrived") are how these tests count cards: as a
        # storm they would be one incident card. Incidents are on where the tests are about them
        # (tests/store, tests/jobs, tests/listeners test_incidents) and in the sandbox and demo runs.
        "SOCIALDESK_INCIDENT_WINDOW": "0",
        **extra,
    }
