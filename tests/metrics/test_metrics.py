"""MILowerBound and ContrastiveAccuracy: values, weighting, and updates inside `fit`."""

import math

import keras
import numpy as np
import pytest
from keras import ops

from keras_cpc.losses import info_nce, mi_lower_bound, nt_xent_logits, nt_xent_per_anchor
from keras_cpc.metrics import ContrastiveAccuracy, MILowerBound


def test_mi_lower_bound_metric_is_running_mean_of_the_bound():
    rng = np.random.default_rng(0)
    first = rng.normal(size=(8, 8)).astype("float32")
    second = rng.normal(size=(3, 8, 8)).astype("float32")
    metric = MILowerBound()
    assert metric.name == "mi_lower_bound"
    metric.update_state(info_nce(first), 8)
    np.testing.assert_allclose(float(metric.result()), float(mi_lower_bound(first)), atol=1e-5)
    metric.update_state(info_nce(second), ops.convert_to_tensor(8))
    expected = (
        math.log(8)
        - np.concatenate(
            [ops.convert_to_numpy(info_nce(first)), ops.convert_to_numpy(info_nce(second)).ravel()]
        ).mean()
    )
    np.testing.assert_allclose(float(metric.result()), expected, atol=1e-5)
    metric.reset_state()
    assert float(metric.result()) == 0.0


def test_mi_lower_bound_metric_per_anchor_candidates_and_weights():
    loss = np.array([1.0, 2.0, 3.0, 4.0], "float32")
    metric = MILowerBound()
    metric.update_state(loss, np.array([2, 4, 8, 16]), sample_weight=np.array([1, 0, 1, 0]))
    expected = ((math.log(2) - 1.0) + (math.log(8) - 3.0)) / 2
    np.testing.assert_allclose(float(metric.result()), expected, atol=1e-6)


def test_contrastive_accuracy_default_diagonal_and_labels():
    metric = ContrastiveAccuracy()
    assert metric.name == "contrastive_accuracy"
    logits = np.array([[3, 1, 0], [0, 1, 2], [0, 0, 5]], "float32")  # rows 0, 2 right
    metric.update_state(logits)
    np.testing.assert_allclose(float(metric.result()), 2 / 3, atol=1e-6)
    metric.reset_state()
    metric.update_state(logits, labels=np.array([0, 2, 1]), sample_weight=np.array([1, 1, 0]))
    np.testing.assert_allclose(float(metric.result()), 1.0, atol=1e-6)
    metric.reset_state()
    metric.update_state(np.stack([logits, np.eye(3, dtype="float32")]))  # (B, N, N)
    np.testing.assert_allclose(float(metric.result()), 5 / 6, atol=1e-6)
    with pytest.raises(ValueError, match=r"Expected `logits` of rank 2.*Received shape"):
        metric.update_state(np.zeros((3,), "float32"))


def test_contrastive_accuracy_on_nt_xent_logits():
    z = np.random.default_rng(1).normal(size=(6, 16)).astype("float32")
    logits, labels = nt_xent_logits(z, z + 0.01, 0.5)
    metric = ContrastiveAccuracy()
    metric.update_state(logits, labels)
    assert float(metric.result()) == 1.0


def test_metrics_serialize():
    for metric in (MILowerBound(), ContrastiveAccuracy(name="acc")):
        restored = keras.metrics.deserialize(keras.metrics.serialize(metric))
        assert type(restored) is type(metric) and restored.name == metric.name


class PairModel(keras.Model):
    """The pretrainer pattern: one set of logits feeds the loss and both metrics."""

    def __init__(self):
        super().__init__()
        self.projection = keras.layers.Dense(8)
        self.bound = MILowerBound()
        self.accuracy = ContrastiveAccuracy()

    def call(self, x):
        return self.projection(x)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        n = ops.shape(y_pred)[0] // 2
        logits, labels = nt_xent_logits(y_pred[:n], y_pred[n:], 0.5)
        per_anchor = nt_xent_per_anchor(y_pred[:n], y_pred[n:], 0.5)
        self.bound.update_state(per_anchor, ops.shape(logits)[-1] - 1)
        self.accuracy.update_state(logits, labels)
        return ops.mean(per_anchor)


def test_metrics_update_inside_fit_on_every_backend():
    rng = np.random.default_rng(0)
    base = rng.normal(size=(16, 4)).astype("float32")
    x = np.concatenate([base, base + 0.05 * rng.normal(size=base.shape).astype("float32")])
    model = PairModel()
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    history = model.fit(x, batch_size=32, epochs=3, shuffle=False, verbose=0).history
    assert set(history) >= {"loss", "mi_lower_bound", "contrastive_accuracy"}
    for loss, bound in zip(history["loss"], history["mi_lower_bound"]):
        np.testing.assert_allclose(bound, math.log(31) - loss, atol=1e-4)
    assert 0.0 <= history["contrastive_accuracy"][-1] <= 1.0
    assert history["contrastive_accuracy"][-1] > 0.5  # near-duplicate views are easy
