"""Helpers for tests that compare backends.

Each backend runs in its own process, so backends are compared through golden values: every
backend checks its result against the same JSON file under ``tests/golden/``, written once by
``KERAS_CPC_UPDATE_GOLDEN=1`` (under any backend) and committed.
"""

import json
import os
from pathlib import Path

import keras
import numpy as np

GOLDEN_DIR = Path(__file__).parent / "golden"


def backend():
    return keras.backend.backend()


def set_deterministic_weights(model, seed=0, scale=0.1):
    """Fill every variable of ``model`` with values drawn from a seeded NumPy generator.

    Variables are visited in sorted ``path`` order, so the same seed gives the same weights on
    every backend. Returns the list of arrays assigned.
    """
    rng = np.random.default_rng(seed)
    assigned = []
    for variable in sorted(model.weights, key=lambda v: v.path):
        shape = tuple(variable.shape)
        name = variable.path.split("/")[-1]
        if name in ("moving_variance", "gamma", "scale"):
            value = 1.0 + scale * rng.uniform(-1, 1, size=shape)
        elif name == "moving_mean":
            value = scale * rng.normal(size=shape)
        else:
            value = scale * rng.normal(size=shape)
        value = value.astype(keras.backend.standardize_dtype(variable.dtype))
        variable.assign(value)
        assigned.append(value)
    return assigned


def assert_matches_golden(name, values, rtol=1e-4, atol=1e-6):
    """Compare a dict of arrays with ``tests/golden/<name>.json`` (see module docstring)."""
    values = {
        k: np.asarray(keras.ops.convert_to_numpy(v), dtype="float64") for k, v in values.items()
    }
    path = GOLDEN_DIR / f"{name}.json"
    if os.environ.get("KERAS_CPC_UPDATE_GOLDEN") == "1":
        GOLDEN_DIR.mkdir(exist_ok=True)
        payload = {k: v.tolist() for k, v in values.items()}
        path.write_text(json.dumps({"written_by": backend(), "values": payload}, indent=1))
        return
    if not path.exists():
        raise AssertionError(f"Missing golden file {path}; run with KERAS_CPC_UPDATE_GOLDEN=1.")
    golden = json.loads(path.read_text())
    for key, value in values.items():
        expected = np.asarray(golden["values"][key], dtype="float64")
        np.testing.assert_allclose(
            value,
            expected,
            rtol=rtol,
            atol=atol,
            err_msg=f"{name}[{key}] on {backend()} differs from {golden['written_by']}",
        )
