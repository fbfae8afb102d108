"""Helpers for tests that compare backends.

Each backend runs in its own process, so backends are compared through golden values: every
backend checks its result against the same JSON file under ``tests/golden/``, written once by
``KERAS_CPC_UPDATE_GOLDEN=1`` (under any backend) and committed.
"""

import importlib.util
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


def _to_numpy(outputs):
    return keras.tree.map_structure(lambda x: np.asarray(keras.ops.convert_to_numpy(x)), outputs)


def run_backbone_test(
    cls,
    init_kwargs,
    input_data,
    expected_output_shape,
    variable_length_data=None,
    tmp_path=None,
):
    """The checks every backbone must pass; returns the built backbone.

    Builds ``cls(**init_kwargs)`` with deterministic weights, then checks: ``predict`` and
    ``__call__`` give ``expected_output_shape`` and agree; ``get_config`` round-trips through
    ``from_config`` (same config, same parameter count) and through JSON; saved and reloaded
    weights give equal outputs (a ``.weights.h5`` under ``tmp_path``, when given); a ``.keras``
    save/load gives equal outputs; and each input of ``variable_length_data`` (e.g. another
    clip length or image size) runs and keeps the output's trailing size.

    Args:
        cls: the backbone class.
        init_kwargs: constructor arguments.
        input_data: a batch the backbone takes.
        expected_output_shape: shape of ``predict(input_data)``.
        variable_length_data: optional list of inputs of other sizes.
        tmp_path: a directory for the saved files (pytest's ``tmp_path``); None skips saving.
    """
    import json

    backbone = cls(**init_kwargs)
    set_deterministic_weights(backbone, seed=0)
    predicted = np.asarray(backbone.predict(input_data, verbose=0))
    assert predicted.shape == tuple(expected_output_shape), predicted.shape
    assert np.isfinite(predicted).all()
    called = _to_numpy(backbone(input_data))
    np.testing.assert_allclose(called, predicted, rtol=1e-5, atol=1e-5)

    config = backbone.get_config()
    rebuilt = cls.from_config(json.loads(json.dumps(config)))
    assert rebuilt.get_config() == config
    assert rebuilt.count_params() == backbone.count_params()

    if tmp_path is not None:
        weights_path = str(Path(tmp_path) / f"{cls.__name__}.weights.h5")
        backbone.save_weights(weights_path)
        rebuilt.load_weights(weights_path)
        np.testing.assert_allclose(
            rebuilt.predict(input_data, verbose=0), predicted, rtol=1e-5, atol=1e-6
        )
        model_path = str(Path(tmp_path) / f"{cls.__name__}.keras")
        backbone.save(model_path)
        loaded = keras.saving.load_model(model_path)
        assert isinstance(loaded, cls) and loaded.get_config() == config
        np.testing.assert_allclose(_to_numpy(loaded(input_data)), predicted, rtol=1e-5, atol=1e-6)

    for other in variable_length_data or []:
        output = _to_numpy(backbone(other))
        assert output.shape[-1] == predicted.shape[-1] and np.isfinite(output).all()
    return backbone


def run_preset_test(cls, preset, input_data, expected_output_shape, expected_partial_output):
    """The check every shipped preset must pass (keras-hub's ``run_preset_test``).

    Loads ``cls.from_preset(preset)`` and compares the output on a fixed input with a slice
    recorded when the preset was made: ``output[:, :k]`` must equal
    ``expected_partial_output`` (shape ``(batch, k)``) to 1e-4. A preset with other weights
    (random init, a retrained or damaged file) fails, which a shape check would not see.

    Args:
        cls: the backbone class to load with (e.g. ``ResNetBackbone``).
        preset: preset name or directory.
        input_data: the fixed batch.
        expected_output_shape: shape of ``predict(input_data)``.
        expected_partial_output: the leading features of each row.

    Returns:
        The loaded backbone.
    """
    backbone = cls.from_preset(preset)
    output = np.asarray(backbone.predict(input_data, verbose=0))
    assert output.shape == tuple(expected_output_shape), output.shape
    expected = np.asarray(expected_partial_output, dtype="float32")
    np.testing.assert_allclose(
        output[:, : expected.shape[1]], expected, rtol=1e-4, atol=1e-4,
        err_msg=f"{preset} on {backend()}: leading features differ from the recorded ones",
    )  # fmt: skip
    return backbone


def load_module(path, name):
    """Import the file ``path`` as module ``name``: scripts/, examples/ and benchmarks/ are no
    packages, and the tests edit no sys.path."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
