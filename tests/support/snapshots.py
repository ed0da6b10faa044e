"""JSON snapshots: compare with the stored file; UPDATE_SNAPSHOTS=1 rewrites it."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def assert_snapshot(actual: Any, path: Path) -> None:
    text = json.dumps(actual, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
    if os.environ.get("UPDATE_SNAPSHOTS") == "1" or not path.exists():
        if os.environ.get("CI") and not path.exists():
            raise AssertionError(f"snapshot {path.name} is missing; run the tests with UPDATE_SNAPSHOTS=1 and commit it")
        path.write_text(text)
        return
    assert text == path.read_text(), f"{path.name} differs; if the change is intended, rerun with UPDATE_SNAPSHOTS=1"
