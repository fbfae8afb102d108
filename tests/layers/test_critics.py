"""SeparableCritic and ConcatCritic: score layout, options, serialization, backends agree."""

import keras
import numpy as np
import pytest
from keras import ops

from keras_cpc.layers import ConcatCritic, SeparableCritic
from tests.helpers import assert_matches_golden, set_deterministic_weights


def to_np(x):
    return np.asarray(ops.convert_to_numpy(x), "float64")


def pair(n=5, dx=3, dy=4, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, dx)).astype("float32"), rng.normal(size=(n, dy)).astype("float32")


def test_separable_scores_layout_and_temperature():
    x, y = pair()
    critic = SeparableCritic(embedding_dim=6, hidden_dim=8, num_layers=1, temperature=0.5)
    scores = critic((x, y))
    assert tuple(scores.shape) == (5, 5)
    assert keras.backend.standardize_dtype(scores.dtype) == "float32"
    g, h = (to_np(e) for e in critic.embed(x, y))
    np.testing.assert_allclose(to_np(scores), h @ g.T / 0.5, rtol=1e-5, atol=1e-5)
    # scores[i, j] = s(x_j, y_i): moving x_2 changes column 2 only.
    x_moved = x.copy()
    x_moved[2] += 1.0
    changed = np.abs(to_np(critic((x_moved, y))) - to_np(scores)) > 1e-6
    assert changed[:, 2].all() and not changed[:, [0, 1, 3, 4]].any()
    # Leading batch axes give one score matrix per problem.
    batched = critic((np.stack([x, x]), np.stack([y, y])))
    assert tuple(batched.shape) == (2, 5, 5)
    np.testing.assert_allclose(to_np(batched[1]), to_np(scores), atol=1e-5)


def test_separable_cosine_scores_are_bounded():
    x, y = pair(seed=1)
    critic = SeparableCritic(embedding_dim=4, hidden_dim=8, normalize=True, temperature=0.1)
    assert np.abs(to_np(critic((100.0 * x, y)))).max() <= 10.0 + 1e-4


def test_concat_scores_layout():
    x, y = pair()
    critic = ConcatCritic(hidden_dim=8, num_layers=2)
    scores = to_np(critic((x, y)))
    assert scores.shape == (5, 5)
    one = np.concatenate([x[3], y[1]])[None]  # scores[1, 3] = f([x_3, y_1])
    value = one
    for layer in critic.pair_layers:
        value = layer(value)
    np.testing.assert_allclose(scores[1, 3], to_np(value)[0, 0], rtol=1e-5)


def test_backends_agree_through_golden_values():
    x, y = pair(seed=2)
    separable = SeparableCritic(embedding_dim=4, hidden_dim=8, num_layers=1, normalize=True)
    concat = ConcatCritic(hidden_dim=8, num_layers=1)
    separable((x, y))
    concat((x, y))
    set_deterministic_weights(separable, seed=1, scale=0.5)
    set_deterministic_weights(concat, seed=2, scale=0.5)
    assert_matches_golden(
        "critics", {"separable": separable((x, y)), "concat": concat((x, y))}, rtol=1e-5
    )


def test_config_round_trip():
    for critic in (
        SeparableCritic(embedding_dim=4, hidden_dim=8, num_layers=3, normalize=True, seed=3),
        ConcatCritic(hidden_dim=16, num_layers=1, activation="tanh", seed=4),
    ):
        restored = keras.layers.deserialize(keras.layers.serialize(critic))
        assert type(restored) is type(critic)
        assert restored.get_config() == critic.get_config()


def test_seeded_critics_are_reproducible():
    x, y = pair()
    first = SeparableCritic(embedding_dim=4, hidden_dim=8, seed=5)((x, y))
    second = SeparableCritic(embedding_dim=4, hidden_dim=8, seed=5)((x, y))
    np.testing.assert_allclose(to_np(first), to_np(second))


def test_bad_input_raises():
    x, y = pair()
    critic = SeparableCritic(embedding_dim=4, hidden_dim=8)
    with pytest.raises(ValueError, match=r"Expected the critic's input to be a pair.*Received"):
        critic(x)
    with pytest.raises(ValueError, match=r"Expected x and y of equal rank.*Received shapes"):
        ConcatCritic(hidden_dim=4)((x, y[0]))
    with pytest.raises(ValueError, match=r"Expected `temperature` > 0. Received"):
        SeparableCritic(temperature=0.0)
