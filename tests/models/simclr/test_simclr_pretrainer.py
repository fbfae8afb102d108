import math
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from keras_cpc.layers import ProjectionHead, SimCLRAugmentation
from keras_cpc.models import ResNetBackbone, SimCLRPretrainer
from tests.helpers import assert_matches_golden, set_deterministic_weights

BATCH = 8
SIZE = 16


def _images(batch=BATCH, size=SIZE, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(batch, size, size, 3)).astype("uint8")


def _small_backbone():
    # A two-conv stand-in for the ResNet where the backbone does not matter: compiling the
    # train step of even a tiny ResNet-18 costs tens of seconds on JAX on a shared CPU.
    images = keras.Input((None, None, 3))
    x = keras.layers.Rescaling(1.0 / 255.0)(images)
    for i, filters in enumerate((8, 16)):
        x = keras.layers.Conv2D(
            filters, 3, strides=2, padding="same", use_bias=False, name=f"conv{i}"
        )(x)
        x = keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-5, name=f"bn{i}")(x)
        x = keras.layers.ReLU()(x)
    backbone = keras.Model(images, keras.layers.GlobalAveragePooling2D()(x), name="small")
    backbone.output_dim = 16
    return backbone


def _pretrainer(resnet=False, **kwargs):
    if resnet:
        backbone = ResNetBackbone(depth=18, width_multiplier=0.125, stem="cifar")
    else:
        backbone = _small_backbone()
    kwargs.setdefault("projection_head", ProjectionHead(num_layers=2, output_dim=16))
    return SimCLRPretrainer(backbone, **kwargs)


def _np(x):
    return keras.ops.convert_to_numpy(x)


def _coloured_images(batch=BATCH, size=SIZE, seed=0):
    # Random images, each with its own random base colour: a signal a tiny net finds in a
    # dozen steps once colour jitter is off.
    rng = np.random.default_rng(seed)
    base = rng.uniform(0, 255, (batch, 1, 1, 3))
    return np.clip(base + rng.normal(0, 20, (batch, size, size, 3)), 0, 255).astype("uint8")


def test_fit_lowers_loss_and_bound_holds():
    augmentation = SimCLRAugmentation(
        crop_area=(0.5, 1.0), jitter_strength=0.0, grayscale_probability=0.0, seed=0
    )
    pretrainer = _pretrainer(augmentation=augmentation, temperature=0.5, num_classes=3)
    pretrainer.compile(optimizer=keras.optimizers.Adam(3e-3))
    labels = np.arange(BATCH) % 3
    history = pretrainer.fit(
        _coloured_images(), labels, batch_size=BATCH, epochs=12, verbose=0
    ).history
    assert set(history) == {"loss", "contrastive_accuracy", "mi_lower_bound", "probe_accuracy"}
    losses = history["loss"]
    assert np.mean(losses[-4:]) < np.mean(losses[:2]) - 0.15, losses
    assert max(history["mi_lower_bound"]) <= math.log(2 * BATCH - 1) + 1e-6
    assert np.mean(history["mi_lower_bound"][-4:]) > np.mean(history["mi_lower_bound"][:2])

    # The same compiled step takes tf.data and (on torch) DataLoader batches.
    import tensorflow as tf

    dataset = tf.data.Dataset.from_tensor_slices((_coloured_images(), labels)).batch(BATCH)
    logs = pretrainer.fit(dataset, epochs=1, verbose=0).history
    assert np.isfinite(logs["loss"][0]) and "probe_accuracy" in logs
    if keras.backend.backend() == "torch":
        import torch

        loader = torch.utils.data.DataLoader(
            torch.utils.data.TensorDataset(
                torch.from_numpy(_coloured_images()), torch.from_numpy(labels)
            ),
            batch_size=BATCH,
        )
        assert np.isfinite(pretrainer.fit(loader, epochs=1, verbose=0).history["loss"][0])


def test_entropy_regularised_objective():
    from keras_cpc.losses import nt_xent

    pretrainer = _pretrainer(augmentation=None, entropy_weight=0.05)
    assert pretrainer.stochastic_code is not None
    views = {"view_a": _images(seed=1), "view_b": _images(seed=2)}
    y_pred = pretrainer(views, training=False)
    loss = float(_np(pretrainer.compute_loss(views, None, y_pred, training=False)))
    # Not training: the codes are the means mu(z), so the loss is reproducible here.
    z_a, z_b = np.split(_np(y_pred["projections"]), 2)
    code_a, entropy_a = pretrainer.stochastic_code(z_a, training=False)
    code_b, entropy_b = pretrainer.stochastic_code(z_b, training=False)
    expected = _np(nt_xent(code_a, code_b, 0.5)) + 0.05 * _np(entropy_a + entropy_b)
    np.testing.assert_allclose(loss, expected, rtol=1e-5)
    metrics = {m.name: float(_np(m.result())) for m in pretrainer.metrics if m.name != "loss"}
    assert metrics["code_entropy"] == pytest.approx(float(_np(entropy_a + entropy_b)) / 2, 1e-5)


def test_plain_objective_matches_nt_xent_and_golden_gradients():
    """Acceptance 2: fixed views and identical weights give the same loss and gradient norms."""
    from keras_cpc.losses import nt_xent

    # The small backbone keeps JAX's compile time down; the ResNet's forward pass has its own
    # golden test in tests/models/resnet.
    pretrainer = _pretrainer(augmentation=None, temperature=0.5, name="simclr")
    assert pretrainer.stochastic_code is None  # beta = 0: plain NT-Xent, no extra layer
    set_deterministic_weights(pretrainer, seed=7)
    views = {"view_a": _images(seed=1), "view_b": _images(seed=2)}

    outputs = pretrainer(views, training=True)
    z_a, z_b = np.split(_np(outputs["projections"]), 2)
    reference = float(_np(nt_xent(z_a, z_b, 0.5)))

    before = {v.path: _np(v).copy() for v in pretrainer.trainable_variables}
    # SGD with lr 1 and no momentum: the weight delta is minus the gradient, on any backend.
    pretrainer.compile(optimizer=keras.optimizers.SGD(1.0))
    logs = pretrainer.train_on_batch(views, return_dict=True)
    np.testing.assert_allclose(logs["loss"], reference, rtol=1e-4)
    assert logs["mi_lower_bound"] == pytest.approx(math.log(2 * BATCH - 1) - logs["loss"], 1e-4)
    grad_norms = np.array(
        [np.linalg.norm(before[v.path] - _np(v)) for v in pretrainer.trainable_variables]
    )
    paths = [v.path for v in pretrainer.trainable_variables]
    order = np.argsort(paths)
    assert grad_norms.max() > 0
    assert_matches_golden(
        "simclr_pretrainer_fixed_views",
        {
            "loss": np.array([logs["loss"]]),
            "contrastive_accuracy": np.array([logs["contrastive_accuracy"]]),
            "grad_norms": grad_norms[order],
        },
        rtol=1e-4,
        atol=1e-7,
    )


def test_save_load_and_config(tmp_path):
    pretrainer = _pretrainer(resnet=True, num_classes=2)
    config = pretrainer.get_config()
    rebuilt = SimCLRPretrainer.from_config(config)
    assert rebuilt.get_config()["augmentation"] == config["augmentation"]
    assert isinstance(rebuilt.augmentation, SimCLRAugmentation)
    assert rebuilt.augmentation.jitter_strength == 0.5  # "cifar" stem: CIFAR setting
    views = {"view_a": _images(seed=1), "view_b": _images(seed=2)}
    expected = _np(pretrainer(views, training=False)["projections"])
    path = str(tmp_path / "simclr.keras")
    pretrainer.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, SimCLRPretrainer) and isinstance(loaded.backbone, ResNetBackbone)
    np.testing.assert_allclose(
        _np(loaded(views, training=False)["projections"]), expected, rtol=1e-4, atol=1e-6
    )


def test_bad_inputs_raise_clear_errors():
    pretrainer = _pretrainer(augmentation=SimCLRAugmentation(image_size=(SIZE, SIZE)))
    with pytest.raises(ValueError, match="rank 4"):
        pretrainer(np.zeros((SIZE, SIZE, 3), "float32"))
    with pytest.raises(ValueError, match="3 \\(RGB\\) channels"):
        pretrainer(np.zeros((2, SIZE, SIZE, 1), "float32"))
    with pytest.raises(ValueError, match="empty batch"):
        pretrainer(np.zeros((0, SIZE, SIZE, 3), "float32"))
    with pytest.raises(ValueError, match="smaller than the output crop"):
        pretrainer(np.zeros((2, 8, 8, 3), "float32"), training=True)
    with pytest.raises(ValueError, match="missing"):
        pretrainer({"view_a": np.zeros((2, SIZE, SIZE, 3), "float32")})
    with pytest.raises(ValueError, match="temperature"):
        _pretrainer(temperature=0.0)


DATA_PARALLEL_SCRIPT = r"""
import keras, numpy as np
from keras_cpc.layers import ProjectionHead
from keras_cpc.models import SimCLRPretrainer
from tests.helpers import set_deterministic_weights
import jax
assert jax.device_count() == 8, jax.devices()

def loss_of_one_step(distribution):
    keras.distribution.set_distribution(distribution)
    images = keras.Input((None, None, 3))
    x = keras.layers.Conv2D(8, 3, strides=2, use_bias=False)(images)
    x = keras.layers.BatchNormalization()(x)  # batch statistics: global under GSPMD too
    backbone = keras.Model(images, keras.layers.GlobalAveragePooling2D()(keras.layers.ReLU()(x)))
    backbone.output_dim = 8
    model = SimCLRPretrainer(
        backbone, ProjectionHead(num_layers=2, output_dim=16), augmentation=None
    )
    set_deterministic_weights(model, seed=7)
    model.compile(optimizer=keras.optimizers.SGD(0.0))
    rng = np.random.default_rng(0)
    views = {k: rng.integers(0, 256, (16, 8, 8, 3)).astype("float32") for k in ("view_a", "view_b")}
    return model.train_on_batch(views, return_dict=True)["loss"]

single = loss_of_one_step(None)
sharded = loss_of_one_step(keras.distribution.DataParallel(devices=jax.devices()))
print("LOSSES", single, sharded)
np.testing.assert_allclose(sharded, single, rtol=1e-4)
# Per-shard negatives would give a different (smaller) loss: 2 images per device.
"""


@pytest.mark.skipif(
    keras.backend.backend() != "jax",
    reason="keras.distribution.DataParallel with virtual CPU devices is a JAX feature; "
    "the TF path (tf.distribute) is documented in SimCLRPretrainer.",
)
def test_jax_data_parallel_uses_global_negatives():
    root = Path(__file__).resolve().parents[3]
    env = dict(os.environ)
    env.update(
        KERAS_BACKEND="jax",
        XLA_FLAGS="--xla_force_host_platform_device_count=8",
        PYTHONPATH=os.pathsep.join([str(root), env.get("PYTHONPATH", "")]),
    )
    result = subprocess.run(
        [sys.executable, "-c", DATA_PARALLEL_SCRIPT],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    assert "LOSSES" in result.stdout


def test_compiled_step_in_path_order_trains_as_keras_own():
    # On JAX the step is compiled with the variables sorted by path (train_function_jax);
    # it must update every variable, moving statistics included, as Keras' own step does.
    views = {"view_a": _images(seed=1), "view_b": _images(seed=2)}
    results = []
    for own in (False, True):
        keras.utils.set_random_seed(0)
        pretrainer = _pretrainer(augmentation=None, temperature=0.5)
        set_deterministic_weights(pretrainer, seed=3)
        pretrainer.compile(optimizer=keras.optimizers.SGD(0.5, momentum=0.9))
        if own:  # Keras' step, built first, so the model keeps it
            keras.Model.make_train_function(pretrainer)
        pretrainer.train_on_batch(views)
        logs = pretrainer.train_on_batch(views, return_dict=True)
        results.append((logs, [_np(v) for v in pretrainer.weights]))
    (got_logs, got), (want_logs, want) = results
    assert got_logs == pytest.approx(want_logs, rel=1e-5)
    assert len(got) == len(want)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
