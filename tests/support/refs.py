"""Where the shared reference recordings live, and a loader for them.

The recordings live beside the repository, in ../shared/refs (see its README.md),
so from tests/support/refs.py that is parents[3] / "shared" / "refs".
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

REFS = Path(__file__).resolve().parents[3] / "shared" / "refs"


def ref_json(relpath: str) -> Any:
    """Parse refs/<relpath>, e.g. ref_json("x/derived/error_samples.json")."""
    return json.loads((REFS / relpath).read_text(encoding="utf-8"))
