"""Characterization pins shared by tests that freeze a function's outputs before a refactor.

``check_or_record(pins, name, got)`` compares ``got`` (made JSON-able by :func:`flatten`)
with the figures recorded in ``pins`` (a JSON file): floats to 1e-12, everything else
exactly. ``PIN_RECORD=1`` rewrites the recorded figures instead (only ever on the code
before the refactor).
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import fields, is_dataclass
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd


def flatten(x):
    """A JSON-able picture of a result: dataclasses, frames, arrays and mappings unpacked."""
    if is_dataclass(x) and not isinstance(x, type):
        return {f.name: flatten(getattr(x, f.name)) for f in fields(x)}
    if isinstance(x, pd.Series):
        return {"index": [str(i) for i in x.index], "values": flatten(x.to_numpy())}
    if isinstance(x, pd.DataFrame):
        return {"columns": [str(c) for c in x.columns], "values": flatten(x.to_numpy())}
    if isinstance(x, np.ndarray):
        return flatten(x.tolist())
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, Decimal):
        return str(x)
    if hasattr(x, "items"):
        return {str(k): flatten(v) for k, v in x.items()}
    if isinstance(x, (list, tuple, set, frozenset)):
        return [flatten(v) for v in (sorted(x) if isinstance(x, (set, frozenset)) else x)]
    return x


def outcome(call):
    try:
        return {"ok": flatten(call())}
    except Exception as exc:  # noqa: BLE001 -- an error is part of the pinned behaviour
        return {"error": type(exc).__name__, "message": str(exc), "field": getattr(exc, "field", None)}


def assert_same(got, want, path="$"):
    if isinstance(want, float) or isinstance(got, float):
        assert isinstance(got, (int, float)) and isinstance(want, (int, float)), path
        if math.isnan(want):
            assert math.isnan(got), path
        else:
            assert math.isclose(got, want, rel_tol=1e-12, abs_tol=1e-12), (path, got, want)
    elif isinstance(want, dict):
        assert isinstance(got, dict) and sorted(got) == sorted(want), path
        for k in want:
            assert_same(got[k], want[k], f"{path}.{k}")
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), path
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            assert_same(g, w, f"{path}[{i}]")
    else:
        assert got == want, (path, got, want)


def check_or_record(pins: Path, name: str, got, *, exact: bool = False) -> None:
    """Compare ``got`` with the figures recorded under ``name`` (``exact``: floats too)."""
    recorded = json.loads(pins.read_text()) if pins.exists() else {}
    if os.environ.get("PIN_RECORD"):
        recorded[name] = got
        pins.write_text(json.dumps(recorded, indent=1, sort_keys=True))
        return
    if exact:
        assert got == recorded[name]
    else:
        assert_same(got, recorded[name])
