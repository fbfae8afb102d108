"""--dtype-policy: a SimCLR fit under mixed_bfloat16 on every backend, and what stays float32."""

import argparse

import keras
import numpy as np
import pytest

from keras_cpc import training
from keras_cpc.layers import ProjectionHead, SimCLRAugmentation
from keras_cpc.models import ResNetBackbone, SimCLRPretrainer
from keras_cpc.optimizers import make_optimizer

# Whole-image views: both views of an image are equal, so a few steps on one batch lower
# the loss steadily (the negatives spread) while every op of the step still runs.
SAME_VIEWS = dict(crop_area=(1, 1), aspect_ratio=(1, 1), flip=False, jitter_strength=0.0)


def build(policy, size=8):
    keras.utils.set_random_seed(0)
    with training.dtype_policy_scope(policy):
        backbone = ResNetBackbone(18, 0.0625, stem="cifar", image_shape=(size, size, 3))
        augmentation = SimCLRAugmentation(grayscale_probability=0.0, seed=0, **SAME_VIEWS)
        return SimCLRPretrainer(
            backbone, ProjectionHead(2, output_dim=8), augmentation=augmentation, num_classes=2
        )


def images(size=8):
    return np.random.default_rng(0).integers(0, 256, (16, size, size, 3)).astype("uint8")


def dtype(x):
    return keras.backend.standardize_dtype(x.dtype)


def test_bfloat16_fit_falls_and_its_first_loss_matches_float32():
    x, y = images(), np.arange(16) % 2
    reference = build("float32")
    # Before any update, fit's first loss is this forward pass's (training-mode batch norm).
    first_float32 = float(reference.compute_loss(x, y, reference(x, training=True)))
    pretrainer = build("mixed_bfloat16")
    assert pretrainer.backbone.compute_dtype == pretrainer.projection_head.compute_dtype
    assert pretrainer.backbone.compute_dtype == "bfloat16"
    assert dtype(pretrainer.augmentation(x)) == "float32"  # views stay float32
    assert all(dtype(v) == "float32" for v in pretrainer.trainable_variables)
    pretrainer.compile(
        optimizer=make_optimizer("adamw", 3e-3), run_eagerly=keras.backend.backend() != "jax"
    )
    losses = [float(pretrainer.train_on_batch(x, y, return_dict=True)["loss"]) for _ in range(6)]
    assert np.all(np.isfinite(losses)), losses
    assert abs(losses[0] - first_float32) <= 2e-2 * abs(first_float32), (losses, first_float32)
    assert losses[-1] < losses[0] - 0.1 and np.mean(losses[-3:]) < np.mean(losses[:3]), losses
    # float32 weights, so the backbone saves and reloads as a float32 preset.
    config = pretrainer.backbone.get_config()
    assert "dtype" not in config and dtype(ResNetBackbone.from_config(config)(x)) == "float32"


def test_scope_restores_the_policy_and_refuses_unknown_names():
    with training.dtype_policy_scope("mixed_float16"):
        assert keras.config.dtype_policy().name == "mixed_float16"
        layer = keras.layers.Dense(2)
    assert layer.dtype_policy.name == "mixed_float16"
    assert keras.config.dtype_policy().name == "float32"
    with pytest.raises(ValueError, match=r"dtype policy in \('float32'.*received 'bfloat16'"):
        with training.dtype_policy_scope("bfloat16"):
            pass
    parser = argparse.ArgumentParser()
    training.add_dtype_policy_flag(parser)
    assert parser.parse_args([]).dtype_policy == "float32"
    with pytest.raises(SystemExit):
        parser.parse_args(["--dtype-policy", "float16"])


def test_checkpoints_every_few_epochs_and_after_the_last(tmp_path):
    saved = []

    class Store:
        def save(self, model, epoch, logs):
            saved.append(epoch)

    callback = training.SaveCheckpoint(Store(), every=3, last_epoch=7)
    for epoch in range(7):
        callback.on_epoch_end(epoch)
    assert saved == [3, 6, 7]
    with pytest.raises(ValueError, match="every >= 1 epochs; received every=0"):
        training.SaveCheckpoint(Store(), every=0)
