"""keras_cpc.evaluation.linear_probe: C chosen on validation, early stop, bad input."""

import numpy as np
import pytest

from keras_cpc.evaluation import linear_probe


def test_linear_probe_chooses_c_on_validation():
    rng = np.random.default_rng(0)
    centers = rng.normal(size=(3, 16)) * 3
    labels = np.repeat(np.arange(3), 40)
    features = centers[labels] + rng.normal(size=(120, 16))
    test_labels = np.repeat(np.arange(3), 10)
    test_features = centers[test_labels] + rng.normal(size=(30, 16))
    calls = []
    result = linear_probe(
        features,
        labels,
        test_features,
        test_labels,
        c_values=(0.01, 1.0),
        callback=lambda *call: calls.append(call),
    )
    assert [c for c, _, _ in calls] == [0.01, 1.0]  # one progress call per validation fit
    assert {c: acc for c, acc, _ in calls} == result.val_accuracy_by_c
    assert result.best_c in (0.01, 1.0)
    assert set(result.val_accuracy_by_c) == {0.01, 1.0}
    assert result.val_accuracy == max(result.val_accuracy_by_c.values())
    assert result.test_accuracy > 0.9
    assert (result.num_train, result.num_val, result.num_classes) == (96, 24, 3)
    # Where the time went: one timing per C tried, and the final refit.
    assert set(result.fit_seconds_by_c) == set(result.val_accuracy_by_c)
    assert all(t >= 0 for t in result.fit_seconds_by_c.values()) and result.refit_seconds >= 0


def test_linear_probe_bad_input():
    with pytest.raises(ValueError, match=r"2-D array \(samples, dim\); received shape \(10,\)"):
        linear_probe(np.zeros(10), np.zeros(10))
    with pytest.raises(ValueError, match="one label per feature row"):
        linear_probe(np.zeros((10, 2)), np.zeros(9))
    with pytest.raises(ValueError, match="at least 2 classes"):
        linear_probe(np.zeros((10, 2)), np.zeros(10))


def test_linear_probe_stops_climbing_the_c_grid_once_validation_falls():
    # 100 examples, one informative dimension among 300: weak regularisation overfits, so
    # validation accuracy falls as C grows and the climb stops early.
    rng = np.random.default_rng(1)
    labels = np.repeat(np.arange(2), 50)
    features = rng.normal(size=(100, 300))
    features[:, 0] += 1.5 * labels
    grid = (1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0, 1000.0)
    early = linear_probe(features, labels, c_values=grid, patience=2)
    full = linear_probe(features, labels, c_values=grid, patience=None)
    assert set(full.val_accuracy_by_c) == set(grid)
    assert len(early.val_accuracy_by_c) < len(grid)
    assert early.best_c == full.best_c
    assert early.val_accuracy == pytest.approx(full.val_accuracy)
