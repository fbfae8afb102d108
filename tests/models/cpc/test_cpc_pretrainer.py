import keras
import numpy as np
import pytest

from keras_cpc.data import tone_clips
from keras_cpc.losses import cpc as cpc_losses
from keras_cpc.models import CPCBackbone, CPCPretrainer
from tests.fixtures.backbones import tiny_cpc_backbone as tiny_backbone
from tests.helpers import assert_matches_golden, set_deterministic_weights


def np_(x):
    return keras.ops.convert_to_numpy(x)


def test_short_fit_learns_far_above_chance():
    keras.utils.set_random_seed(0)
    pretrainer = CPCPretrainer(tiny_backbone(), prediction_steps=2, num_negatives=15, seed=0)
    pretrainer.compile(optimizer=keras.optimizers.Adam(1e-2))
    history = pretrainer.fit(tone_clips(64, 800), batch_size=16, epochs=8, verbose=0).history
    assert set(history) >= {"loss", "mi_lower_bound", "accuracy_k1", "accuracy_k2"}
    chance = 1 / 16
    assert history["accuracy_k1"][0] < 3 * chance
    assert history["accuracy_k1"][-1] > 6 * chance, history["accuracy_k1"]
    assert history["mi_lower_bound"][-1] > history["mi_lower_bound"][0] + 0.8
    assert history["mi_lower_bound"][-1] < np.log(16)
    assert history["loss"][-1] < history["loss"][0] - 1.0


def _golden_inputs(batch=2, samples=800, frames=20, negatives=5):
    rng = np.random.default_rng(7)
    x = tone_clips(batch, samples, seed=3)
    mask = np.ones((batch, samples), bool)
    mask[1, 500:] = False  # clip 1 has 12 real frames
    x[1, 500:] = 0.0
    indices = rng.integers(0, batch * frames, size=(batch, frames, negatives)).astype("int32")
    return {"waveform": x, "padding_mask": mask, "negative_indices": indices}


def test_loss_and_scores_match_golden_with_explicit_negatives(monkeypatch):
    pretrainer = CPCPretrainer(tiny_backbone(), prediction_steps=3, num_negatives=5)
    set_deterministic_weights(pretrainer, seed=11)
    inputs = _golden_inputs()
    out = pretrainer(inputs)
    loss = pretrainer.compute_loss(y_pred=out)
    pair_mask = np_(out["pair_mask"])
    # Clip 1 has 12 frames: pairs (t, k) with t + k >= 12 are excluded.
    assert pair_mask[0, :17].all() and not pair_mask[0, 19].any()
    assert not pair_mask[1, 11:].any() and pair_mask[1, :9].all()
    # Negatives that hit clip 1's padded frames are masked out.
    flat_valid = np.ones(40, bool)
    flat_valid[20 + 12 :] = False
    hits = flat_valid[inputs["negative_indices"]]
    np.testing.assert_array_equal(np_(out["candidate_mask"])[:, :, 0, 1:][~hits], False)
    scores = np.where(pair_mask[..., None], np_(out["scores"]), 0.0)
    # The gathered-negatives path (used for very large batches) gives the same scores.
    monkeypatch.setattr(cpc_losses, "_MAX_FULL_SCORES", 0)
    gathered = np.where(pair_mask[..., None], np_(pretrainer(inputs)["scores"]), 0.0)
    np.testing.assert_allclose(gathered, scores, rtol=1e-5, atol=1e-5)
    # Negatives shared over a clip, (B, 1, N), score like the same indices given per anchor.
    shared = {**inputs, "negative_indices": inputs["negative_indices"][:, :1]}
    per_anchor = {**inputs, "negative_indices": np.repeat(shared["negative_indices"], 20, 1)}
    np.testing.assert_allclose(
        np_(pretrainer(shared)["scores"]),
        np_(pretrainer(per_anchor)["scores"]),
        rtol=1e-5,
        atol=1e-6,
    )
    assert_matches_golden(
        "cpc_pretrainer_loss",
        {"loss": loss, "scores": scores, "mi": pretrainer.mi_tracker.result()},
        rtol=1e-4,
        atol=1e-5,
    )


@pytest.mark.parametrize("sampling", ["batch", "same_sequence"])
def test_sampled_negatives_are_real_frames(sampling):
    pretrainer = CPCPretrainer(
        tiny_backbone(), prediction_steps=2, num_negatives=64, negative_sampling=sampling
    )
    shared = CPCPretrainer(
        tiny_backbone(), num_negatives=64, negative_sampling=sampling, share_negatives=True
    )
    lengths = np.array([20, 3, 9], "int32")
    assert np_(shared._sample_negatives(keras.ops.convert_to_tensor(lengths), 20)).shape == (
        3,
        1,
        64,
    )
    lengths = np.array([20, 3, 9], "int32")
    indices = np_(pretrainer._sample_negatives(keras.ops.convert_to_tensor(lengths), 20))
    assert indices.shape == (3, 20, 64)
    owner, offset = indices // 20, indices % 20
    assert (offset < lengths[owner]).all()
    if sampling == "same_sequence":
        assert (owner == np.arange(3)[:, None, None]).all()
    else:
        # Uniform over the 32 real frames: every clip is drawn, roughly by its share.
        share = np.bincount(owner.ravel(), minlength=3) / owner.size
        np.testing.assert_allclose(share, lengths / lengths.sum(), atol=0.03)


def test_short_clips_use_valid_pairs_and_empty_batches_raise():
    pretrainer = CPCPretrainer(tiny_backbone(), prediction_steps=4, num_negatives=4)
    x = tone_clips(2, 800)
    mask = np.zeros((2, 800), bool)
    mask[0, :130] = True  # 3 frames: only (0,1), (0,2), (1,1)
    mask[1, :200] = True  # 5 frames
    out = pretrainer({"waveform": x, "padding_mask": mask})
    pair_mask = np_(out["pair_mask"])
    assert pair_mask[0].sum() == 3 and pair_mask[1].sum() == 4 + 3 + 2 + 1
    loss = float(np_(pretrainer.compute_loss(y_pred=out)))
    assert np.isfinite(loss) and loss > 0
    # One real frame per clip: nothing to predict.
    out = {**out, "pair_mask": np.zeros_like(pair_mask)}
    with pytest.raises(ValueError, match="no valid \\(t, k\\) pair"):
        pretrainer.compute_loss(y_pred=out)
    with pytest.raises(ValueError, match="at least 2 frames"):
        pretrainer(np.zeros((2, 60), "float32"))


def test_serialization_roundtrip(tmp_path):
    pretrainer = CPCPretrainer(
        tiny_backbone(), prediction_steps=3, num_negatives=5, negative_sampling="same_sequence"
    )
    inputs = _golden_inputs()
    expected = np_(pretrainer(inputs)["scores"])
    clone = CPCPretrainer.from_config(pretrainer.get_config())
    assert clone.get_config() == pretrainer.get_config()
    path = tmp_path / "cpc_pretrainer.keras"
    pretrainer.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded.backbone, CPCBackbone)
    np.testing.assert_allclose(np_(loaded(inputs)["scores"]), expected, rtol=1e-5, atol=1e-5)


def test_transformer_predictor_with_entropy_term():
    pretrainer = CPCPretrainer(
        tiny_backbone(),
        prediction_steps=2,
        num_negatives=5,
        predictor="transformer",
        predictor_heads=2,
        entropy_weight=0.01,
        score="mean",
        seed=1,
    )
    inputs = _golden_inputs()
    out = pretrainer(inputs, training=True)
    assert tuple(out["scores"].shape) == (2, 20, 2, 6)
    entropy = float(np_(out["code_entropy"]))
    loss = float(np_(pretrainer.compute_loss(y_pred=out)))
    plain = float(np_(pretrainer.compute_loss(y_pred={**out, "code_entropy": 0.0})))
    np.testing.assert_allclose(loss - plain, 0.01 * entropy, rtol=1e-4, atol=1e-5)
    assert pretrainer.code_entropy_tracker in pretrainer.metrics
    clone = CPCPretrainer.from_config(pretrainer.get_config())
    assert clone.get_config() == pretrainer.get_config()
    assert len(clone.trainable_weights) == len(pretrainer.trainable_weights)


def test_bad_arguments():
    with pytest.raises(ValueError, match="negative_sampling"):
        CPCPretrainer(tiny_backbone(), negative_sampling="speaker")
    with pytest.raises(ValueError, match="predictor"):
        CPCPretrainer(tiny_backbone(), predictor="lstm")
    with pytest.raises(ValueError, match="accuracy_steps"):
        CPCPretrainer(tiny_backbone(), prediction_steps=2, accuracy_steps=[3])
    with pytest.raises(ValueError, match="negative_bank_size.*>= num_negatives=8.*received 4"):
        CPCPretrainer(tiny_backbone(), num_negatives=8, negative_bank_size=4)


def test_negative_bank_fit_and_config():
    pretrainer = CPCPretrainer(
        tiny_backbone(), prediction_steps=2, num_negatives=6, negative_bank_size=12, seed=0
    )
    assert CPCPretrainer.from_config(pretrainer.get_config()).negative_bank_size == 12
    pretrainer.compile(optimizer=keras.optimizers.Adam(1e-3))
    logs = pretrainer.train_on_batch(tone_clips(4, 800), return_dict=True)
    assert np.isfinite(logs["loss"]) and logs["mi_lower_bound"] < np.log(7)
