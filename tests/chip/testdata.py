"""Locate the shared, read-only test data (never copied into the repo).

Defaults to ``<repo>/../shared/testdata``; set CCCD_TESTDATA to override.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


def data_root() -> Path:
    env = os.environ.get("CCCD_TESTDATA")
    return Path(env) if env else REPO.parent / "shared" / "testdata"


@lru_cache(maxsize=1)
def vectors() -> dict[str, Any]:
    with open(data_root() / "icao" / "vectors.json", encoding="utf-8") as f:
        return json.load(f)  # type: ignore[no-any-return]


def h(s: str) -> bytes:
    return bytes.fromhex(s)
