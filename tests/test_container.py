"""The Dockerfile and compose.yaml say what the README promises (there is no Docker engine here to
run them): a slim Python 3.11 image, a non-root user, a health check on /healthz that fails when
/healthz does, `socialdesk run` (which migrates first), and PostgreSQL with two replicas on it."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml
from sqlalchemy.engine import make_url

from socialdesk.config import Settings

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "Dockerfile"
COMPOSE = ROOT / "compose.yaml"


def instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order: comments dropped, continued lines joined."""
    joined = re.sub(r"\\\n", " ", "\n".join(line for line in path.read_text().splitlines()
                                           if not line.lstrip().startswith("#")))
    return [(word.upper(), rest.strip()) for word, _, rest in
            (line.strip().partition(" ") for line in joined.splitlines() if line.strip())]


def args_of(value: str) -> list[str]:
    """An exec-form (JSON array) or shell-form instruction's words."""
    return json.loads(value) if value.startswith("[") else shlex.split(value)


@pytest.fixture(scope="module")
def dockerfile() -> list[tuple[str, str]]:
    return instructions(DOCKERFILE)


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def test_the_image_is_slim_python_3_11_and_runs_as_a_user_it_creates(dockerfile):
    [base] = [v for k, v in dockerfile if k == "FROM"]
    assert re.fullmatch(r"python:3\.11(\.\d+)?-slim(-\w+)?", base), base
    users = [v for k, v in dockerfile if k == "USER"]
    assert users, "no USER: the app would run as root"
    final = users[-1].split(":")[0]
    assert final not in ("root", "0")
    created = " ".join(v for k, v in dockerfile if k == "RUN")
    assert re.search(rf"useradd\b[^&;]*\s{re.escape(final)}(\s|$)", created), f"user {final} is never created"
    # Nothing runs as root after the switch: the last USER comes after the last RUN.
    order = [k for k, _ in dockerfile]
    assert len(order) - 1 - order[::-1].index("USER") > len(order) - 1 - order[::-1].index("RUN")


def test_the_image_runs_socialdesk_run_on_the_http_port_it_exposes(dockerfile):
    entry = next((args_of(v) for k, v in reversed(dockerfile) if k == "ENTRYPOINT"), [])
    command = next((args_of(v) for k, v in reversed(dockerfile) if k == "CMD"), [])
    assert entry + command == ["socialdesk", "run"]  # run migrates first (tests/store/test_db_upgrade.py)
    env = " ".join(v for k, v in dockerfile if k == "ENV")
    port = re.search(r"SOCIALDESK_HTTP_PORT=(\d+)", env)
    assert port and [v for k, v in dockerfile if k == "EXPOSE"] == [port.group(1)]
    assert "SOCIALDESK_HTTP_HOST=0.0.0.0" in env  # reachable from outside the container
    assert {"SOCIALDESK_HTTP_PORT", "SOCIALDESK_HTTP_HOST"} <= {f.alias for f in Settings.model_fields.values()}


class Health(BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:  # http.server's name for it
        code = self.status if self.path == "/healthz" else 404
        self.send_response(code)
        self.end_headers()
        self.wfile.write(b'{"ok": true}' if code == 200 else b'{"ok": false}')

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def health_server() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_the_health_check_passes_on_a_200_from_healthz_and_fails_on_a_503(dockerfile, health_server):
    [check] = [v for k, v in dockerfile if k == "HEALTHCHECK"]
    options, _, command = check.partition("CMD ")
    assert "--interval=" in options and "--timeout=" in options and "--start-period=" in options
    argv = args_of(command.strip())
    assert argv[0] == "python"  # the slim image has no curl or wget
    env = dict(os.environ, SOCIALDESK_HTTP_PORT=str(health_server.server_address[1]))

    def run_check() -> int:
        return subprocess.run([sys.executable, *argv[1:]], check=False, env=env, capture_output=True,
                              timeout=30).returncode

    Health.status = 200
    assert run_check() == 0
    Health.status = 503  # the database does not answer
    assert run_check() != 0
    health_server.shutdown()  # nothing listening
    health_server.server_close()
    assert run_check() != 0


def test_compose_runs_two_replicas_of_the_image_on_its_postgresql(compose):
    services = compose["services"]
    [db_name] = [name for name, s in services.items() if str(s.get("image", "")).startswith("postgres:")]
    db = services[db_name]
    assert db.get("healthcheck", {}).get("test"), "the database needs a health check for depends_on"
    replicas = {name: s for name, s in services.items() if s.get("build") in (".", {"context": "."})}
    assert len(replicas) == 2, sorted(services)
    ports = set()
    for name, replica in replicas.items():
        url = make_url(replica["environment"]["SOCIALDESK_DATABASE_URL"].replace(
            "${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD in .env}", "secret"))
        assert url.drivername == "postgresql+psycopg", name
        assert url.host == db_name and url.port in (None, 5432)
        assert url.username == db["environment"]["POSTGRES_USER"] and url.database == db["environment"]["POSTGRES_DB"]
        assert "POSTGRES_PASSWORD" in replica["environment"]["SOCIALDESK_DATABASE_URL"]  # never written in the file
        assert replica["depends_on"][db_name]["condition"] == "service_healthy"
        assert replica.get("restart") in ("always", "unless-stopped")
        assert "SLACK_BOT_TOKEN" not in json.dumps(replica)  # secrets come from .env
        [port] = replica["ports"]
        host, _, inside = port.rpartition(":")
        assert inside == "3000" and host.startswith("127.0.0.1:"), port  # behind the reverse proxy, not the internet
        ports.add(host)
    assert len(ports) == 2  # one port each: the proxy sends Slack's requests to either
    assert any(v.endswith(":/var/lib/postgresql/data") for v in db.get("volumes", []))  # the data outlives the container


def test_the_readme_runs_it_for_a_team_with_these_files():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("### Run it for a team", 1)[1].split("\n### ", 1)[0]
    assert "docker compose up" in section and "POSTGRES_PASSWORD=" in section
    assert "[`compose.yaml`](compose.yaml)" in section and "[`Dockerfile`](Dockerfile)" in section
    for service in ("socialdesk-1", "socialdesk-2"):
        assert service in yaml.safe_load(COMPOSE.read_text())["services"]
