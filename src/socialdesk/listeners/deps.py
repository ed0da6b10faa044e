"""What listeners need, handed to them by `app.build` (never imported as globals)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine


@dataclass(frozen=True)
class Deps:
    engine: Engine
    clock: Callable[[], datetime]
