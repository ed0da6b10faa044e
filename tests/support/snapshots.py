"""JSON snapshots: compare with the stored file; UPDATE_SNAPSHOTS=1 writes or rewrites it.

A missing snapshot fails everywhere (not only in CI): a test that wrote its own
expectation would pass without checking anything.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def assert_snapshot(actual: Any, path: Path) -> None:
    text = json.dumps(actual, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return
    if not path.exists():
        raise AssertionError(f"snapshot {path.name} is missing; run the tests with UPDATE_SNAPSHOTS=1, "
                             "review the file it writes and commit it")
    assert text == path.read_text(), f"{path.name} differs; if the change is intended, rerun with UPDATE_SNAPSHOTS=1"
