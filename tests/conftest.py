"""Session services for the tests: a PostgreSQL server and the Slack emulator.

Both start lazily, the first time a test asks for them, and stop at session end.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

from socialdesk.store.db import make_engine, upgrade
from tests.support import postgres
from tests.support import slack_emulator as emulator
from tests.support.cli import cli  # noqa: F401  (fixture: `socialdesk …` in-process)
from tests.support.slack_emulator import SlackEmulator

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_REFS = REPO_ROOT.parent / "shared" / "refs"


@pytest.fixture(scope="session")
def slack_refs() -> Path:
    """../shared/refs/slack: recorded Slack payloads and schemas (beside the repo, also in CI)."""
    path = SHARED_REFS / "slack"
    if not path.is_dir():
        message = f"{path} is missing: the reference material lives beside the repository"
        if os.environ.get("CI"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """SQLAlchemy URL of the session's `socialdesk_test` database."""
    try:
        with postgres.postgres_server() as url:
            yield url
    except postgres.PostgresUnavailable as exc:
        if os.environ.get("CI"):
            pytest.fail(str(exc), pytrace=False)
        pytest.skip(str(exc))


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    ]
)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database for this test alone, on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/socialdesk.db"
        return
    server_url: str = request.getfixturevalue("postgres_url")
    name = f"t_{uuid.uuid4().hex[:16]}"
    admin = postgres.admin_conninfo(server_url)
    # A test with a migrated `engine` (tests/support/db.py) starts from the migrated template at
    # once, rather than from an empty database dropped and created again.
    migrated = "migrated_database" in request.fixturenames
    template = request.getfixturevalue("postgres_template") if migrated else "template0"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        # FORCE: a test that leaked a connection must not break the next one.
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def migrated_database() -> None:
    """Asked for (by `engine`): `db_url` is a copy of the migrated template, not an empty database."""


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to head once per session: `engine` copies it (faster than migrating)."""
    path = tmp_path_factory.mktemp("template") / "migrated.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()  # the last connection checkpoints the WAL into the file
    return path


@pytest.fixture(scope="session")
def postgres_template(postgres_url: str) -> str:
    """A database migrated to head once per session: `engine` creates each test's database from it."""
    name = f"migrated_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(postgres.admin_conninfo(postgres_url), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
    engine = make_engine(make_url(postgres_url).set(database=name).render_as_string(hide_password=False))
    upgrade(engine)
    engine.dispose()  # CREATE DATABASE … TEMPLATE needs the template without connections
    return name


@pytest.fixture(scope="session")
def slack_emulator() -> Iterator[SlackEmulator]:
    """The Slack Web API emulator, seeded with the Acme Phones workspace."""
    with tempfile.TemporaryDirectory(prefix="socialdesk-emulate-") as workdir:
        try:
            emu, proc = emulator.start(REPO_ROOT, Path(workdir))
        except RuntimeError as exc:
            pytest.fail(str(exc), pytrace=False)
        try:
            yield emu
        finally:
            emulator.stop(proc)
