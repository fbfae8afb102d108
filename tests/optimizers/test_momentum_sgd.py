"""MomentumSGD: torch.optim.SGD's update (L2 in the gradient, lr on the velocity), any backend."""

import keras
import numpy as np
import pytest

from keras_cpc.optimizers import MomentumSGD, WarmupCosineDecay


def torch_sgd_reference(weights, gradients, rates, momentum, decay, nesterov, decayed):
    """torch.optim.SGD's documented update, in NumPy, for a sequence of steps."""
    weights = [w.astype("float64") for w in weights]
    velocity = [np.zeros_like(w) for w in weights]
    for step_gradients, rate in zip(gradients, rates):
        for i, g in enumerate(step_gradients):
            g = g + decay * weights[i] if decayed[i] else g
            velocity[i] = momentum * velocity[i] + g
            step = g + momentum * velocity[i] if nesterov else velocity[i]
            weights[i] = weights[i] - rate * step
    return weights


@pytest.mark.parametrize("nesterov", [False, True])
def test_matches_torch_sgd_with_l2_decay_and_a_schedule(nesterov):
    rng = np.random.default_rng(0)
    initial = [rng.normal(size=(3, 4)).astype("float32"), rng.normal(size=(4,)).astype("float32")]
    variables = [
        keras.Variable(initial[0], name="kernel"),
        keras.Variable(initial[1], name="batch_norm_gamma"),
    ]
    gradients = [[rng.normal(size=w.shape).astype("float32") for w in initial] for _ in range(4)]
    schedule = WarmupCosineDecay(0.5, warmup_steps=2, total_steps=4)
    optimizer = MomentumSGD(
        schedule, momentum=0.9, weight_decay=0.05, nesterov=nesterov,
        exclude_from_weight_decay=("batch_norm",),
    )  # fmt: skip
    for step_gradients in gradients:
        optimizer.apply_gradients(zip(step_gradients, variables))
    rates = [float(schedule(step)) for step in range(4)]
    expected = torch_sgd_reference(initial, gradients, rates, 0.9, 0.05, nesterov, [True, False])
    for variable, value in zip(variables, expected):
        np.testing.assert_allclose(keras.ops.convert_to_numpy(variable), value, rtol=1e-5)


def test_decays_every_variable_by_default_and_round_trips_its_config():
    variable = keras.Variable(np.ones(3, "float32"), name="bias")
    optimizer = MomentumSGD(0.1, momentum=0.0, weight_decay=0.5)
    optimizer.apply_gradients([(np.zeros(3, "float32"), variable)])
    np.testing.assert_allclose(keras.ops.convert_to_numpy(variable), 0.95)  # 1 - 0.1 * 0.5
    config = optimizer.get_config()
    assert config["weight_decay"] == 0.5 and config["momentum"] == 0.0
    assert MomentumSGD.from_config(config).l2_weight_decay == 0.5


def test_bad_values_are_refused_clearly():
    with pytest.raises(ValueError, match=r"momentum.*\[0, 1\); received momentum=1.0"):
        MomentumSGD(0.1, momentum=1.0)
    with pytest.raises(ValueError, match="weight_decay.*>= 0; received -0.1"):
        MomentumSGD(0.1, weight_decay=-0.1)
