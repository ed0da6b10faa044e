"""A throwaway PostgreSQL server for one test session.

initdb refuses to run as root, so as root the cluster belongs to the `postgres`
system user (Debian's package creates it) or to `socialdesk-pg`, created here.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

from tests.support.ports import free_port

ENV_URL = "SOCIALDESK_TEST_POSTGRES_URL"
DB_NAME = "socialdesk_test"
FALLBACK_USER = "socialdesk-pg"
INSTALL_HINT = (
    "PostgreSQL server binaries (initdb, pg_ctl) not found. Install them with "
    "`apt-get install postgresql` (Debian puts them in /usr/lib/postgresql/15/bin), "
    f"or point {ENV_URL} at a server you run yourself."
)
SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    # Durability is pointless for a throwaway cluster; these make DDL-heavy tests fast.
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",
    # Not UTC, as many servers are: a time written or read as the server's wall clock fails a test.
    "timezone": "'America/New_York'",
}


class PostgresUnavailable(RuntimeError):
    """The server binaries are not installed."""


def bin_dir() -> Path | None:
    on_path = shutil.which("initdb")
    if on_path and shutil.which("pg_ctl"):
        return Path(on_path).resolve().parent
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    return versions[-1].parent if versions else None


def admin_conninfo(sqlalchemy_url: str, dbname: str | None = None) -> str:
    """A psycopg connection string for the same server (optionally another database)."""
    url = make_url(sqlalchemy_url).set(drivername="postgresql")
    if dbname is not None:
        url = url.set(database=dbname)
    return url.render_as_string(hide_password=False)


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """Yield a SQLAlchemy URL to an empty database `socialdesk_test`."""
    if os.environ.get(ENV_URL):
        yield os.environ[ENV_URL]
        return
    bins = bin_dir()
    if bins is None:
        raise PostgresUnavailable(INSTALL_HINT)
    user = _server_user()
    root = Path(tempfile.mkdtemp(prefix="socialdesk-pg-", dir="/tmp" if user else None))
    data = root / "data"
    try:
        if user:
            shutil.chown(root, user=user)
        port = free_port()
        owner = user or pwd.getpwuid(os.getuid()).pw_name
        _run(user, root, bins / "initdb", "-D", data, "-U", owner, "--auth=trust",
             "--encoding=UTF8", "--locale=C", "--no-sync")
        conf = dict(SETTINGS, port=str(port), unix_socket_directories=f"'{root}'")
        with (data / "postgresql.conf").open("a") as f:
            f.writelines(f"{k} = {v}\n" for k, v in conf.items())
        try:
            _run(user, root, bins / "pg_ctl", "-D", data, "-l", root / "server.log", "-w", "-t", "60", "start")
        except RuntimeError as exc:
            log = root / "server.log"
            raise RuntimeError(f"{exc}\n{log.read_text()[-2000:] if log.exists() else ''}") from None
        url = f"postgresql+psycopg://{owner}@127.0.0.1:{port}/{DB_NAME}"
        try:
            with psycopg.connect(admin_conninfo(url, "postgres"), autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{DB_NAME}"')
            yield url
        finally:
            _run(user, root, bins / "pg_ctl", "-D", data, "-m", "immediate", "stop", check=False)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _server_user() -> str | None:
    """The OS user to run the server as, or None to run as ourselves."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", FALLBACK_USER):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    subprocess.run(
        ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", FALLBACK_USER],
        check=True,
    )
    return FALLBACK_USER


def _run(user: str | None, cwd: Path, *cmd: object, check: bool = True) -> None:
    argv = [str(c) for c in cmd]
    if user:
        argv = ["runuser", "-u", user, "--", *argv]
    # cwd: the server user cannot read root's working directory.
    proc = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}")
