"""Checkpoint files: atomic folders, pruning, verification, a clear refusal of another model."""

import keras
import numpy as np
import pytest

from keras_cpc.training import CheckpointStore, training_state_variables


def toy_model(units=4):
    model = keras.Sequential(
        [keras.Input((3,)), keras.layers.Dense(units), keras.layers.Dropout(0.5, seed=1)]
    )
    model.compile(optimizer="adam", loss="mse")
    return model


def test_saves_every_state_variable_keeps_the_newest_and_removes_leftovers(tmp_path):
    model = toy_model()
    paths = [v.path for v in training_state_variables(model)]
    assert any("seed_generator" in p for p in paths) and any("iteration" in p for p in paths)
    store = CheckpointStore(tmp_path)
    (tmp_path / ".partial-epoch-000009-123").mkdir()  # a kill during an earlier save
    for epoch in (1, 2, 3):
        store.save(model, epoch, {"loss": float(epoch)})
    assert [p.name for p in store.folders()] == ["epoch-000003", "epoch-000002"]
    latest = store.latest()
    assert latest.epoch == 3 and latest.logs == {"loss": 3.0}
    assert not list(tmp_path.glob(".partial-*"))

    fresh = toy_model()
    fresh.layers[0].kernel.assign(np.zeros((3, 4), "float32"))
    latest.assign_to(fresh)
    for a, b in zip(training_state_variables(model), training_state_variables(fresh)):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))


def test_all_damaged_warns_for_each_and_starts_over(tmp_path):
    store = CheckpointStore(tmp_path)
    model = toy_model()
    store.save(model, 1)
    store.save(model, 2)
    (tmp_path / "epoch-000002" / "manifest.json").write_text("{trunc")
    (tmp_path / "epoch-000001" / "variables.npz").write_bytes(b"")
    with pytest.warns(UserWarning) as caught:
        assert store.latest() is None
    messages = [str(w.message) for w in caught if "damaged" in str(w.message)]
    assert "epoch-000002" in messages[0] and "falling back to epoch-000001" in messages[0]
    assert "epoch-000001" in messages[1] and "starts from epoch 0" in messages[1]


def test_refuses_a_checkpoint_of_another_model(tmp_path):
    store = CheckpointStore(tmp_path)
    store.save(toy_model(units=4), 1)
    with pytest.raises(ValueError, match="has shape \\(3, 4\\).*expects \\(3, 5\\)"):
        store.latest().assign_to(toy_model(units=5))
    with pytest.raises(ValueError, match="`keep` must be >= 2"):
        CheckpointStore(tmp_path, keep=1)
