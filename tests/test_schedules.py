"""Digest schedule specs are parsed in one pure module that the store and the digest job both import.

Each import runs first in a fresh interpreter: with a cycle between `store.digests`
and `jobs.digest`, whichever is imported first would see the other half-initialised.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from socialdesk.schedules import canonical_spec
from socialdesk.store import digests


def fresh_import(module: str, check: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", f"import sys, {module}\n{check}"], check=False,
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("module", ["socialdesk.store.digests", "socialdesk.jobs.digest"])
def test_each_side_imports_first_on_its_own(module):
    done = fresh_import(module, "assert hasattr(sys.modules['socialdesk.store.digests'], 'add_schedule')")
    assert done.returncode == 0, done.stderr


def test_the_store_does_not_import_the_job():
    """Not even inside a function (the way the cycle used to be hidden)."""
    tree = ast.parse(Path(digests.__file__).read_text())
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)} | {
        a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert not [m for m in imported if m and m.startswith("socialdesk.jobs")]
    done = fresh_import("socialdesk.store.digests", "assert 'socialdesk.jobs.digest' not in sys.modules")
    assert done.returncode == 0, done.stderr


def test_schedules_is_pure():
    leaked = ("sqlalchemy", "sqlmodel", "slack_sdk", "slack_bolt", "socialdesk.store", "socialdesk.jobs")
    done = fresh_import("socialdesk.schedules",
                        f"bad = [m for m in sys.modules if m.split('.')[0] in {leaked!r} or m.startswith({leaked!r})]\n"
                        "assert not bad, bad")
    assert done.returncode == 0, done.stderr


def test_canonical_specs():
    assert canonical_spec(" Daily 9:00 ") == "daily 09:00"
    assert canonical_spec("weekly Monday 9:30") == "weekly mon 09:30"
    with pytest.raises(ValueError, match="not a time of day: 24:00"):
        canonical_spec("daily 24:00")
