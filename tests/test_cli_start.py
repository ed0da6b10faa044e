"""`socialdesk --help` starts at once: building the parser imports none of the heavy parts.

Checked by what a fresh interpreter has imported, not by timing it (bench/cli_start.py
prints the time). Each command module imports the store, SQLModel, the Slack SDK, httpx
and the settings inside the command that needs them.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("sqlalchemy", "sqlmodel", "alembic", "httpx", "slack_bolt", "slack_sdk", "pydantic", "pydantic_settings",
         "oauthlib", "socialdesk.store", "socialdesk.app", "socialdesk.export", "socialdesk.config",
         "socialdesk.jobs", "socialdesk.server")

PROBE = """
import contextlib, io, json, sys
from socialdesk.cli import main
with contextlib.redirect_stdout(io.StringIO()) as shown:
    try:
        code = main(sys.argv[1:])
    except SystemExit as exc:
        code = exc.code
print(json.dumps({"code": code, "help": shown.getvalue(), "modules": sorted(sys.modules)}))
"""


def imported_by(*argv: str) -> dict:
    done = subprocess.run([sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, timeout=60, check=True)
    return json.loads(done.stdout)


@pytest.mark.parametrize("argv", [("--help",), ("rules", "--help"), ("rules", "add", "--help"), ("auth", "x", "--help"),
                                  ("export", "--help"), ("webhooks", "add", "--help"), ("forget", "--help")])
def test_help_imports_nothing_heavy(argv):
    seen = imported_by(*argv)
    assert seen["code"] == 0 and seen["help"].startswith("usage: socialdesk")
    heavy = [m for m in seen["modules"] if m.split(".")[0] in HEAVY or any(m == h or m.startswith(h + ".") for h in HEAVY)]
    assert heavy == []


def test_the_probe_sees_heavy_imports_when_a_command_runs(tmp_path):
    """The check above can fail: a command that ran has imported the store."""
    done = subprocess.run([sys.executable, "-c", PROBE, "db", "upgrade"], capture_output=True, text=True, timeout=60,
                          check=True, cwd=tmp_path, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": ":".join(sys.path),
                                                         "SOCIALDESK_DATABASE_URL": f"sqlite:///{tmp_path}/d.db"})
    seen = json.loads(done.stdout.splitlines()[-1])
    assert "sqlalchemy" in seen["modules"] and "socialdesk.store.db" in seen["modules"]


def test_the_help_names_the_export_formats_and_statuses_export_knows():
    from socialdesk import export
    from socialdesk.cli import export as export_command

    assert export_command.FORMATS == export.FORMATS
    assert export_command.STATUSES == export.STATUSES
