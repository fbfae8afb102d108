"""`estimate_mutual_information`: the InfoNCE estimate of I(x; y) from paired samples."""

import keras
import numpy as np

from keras_cpc.layers.critics import ConcatCritic, SeparableCritic
from keras_cpc.mi.info_nce_estimator import InfoNCEEstimator


def _passes(num_samples, batch_size, steps, seed):
    """Row orders of successive passes over the data, `steps` batches in all.

    Each pass is a seeded random permutation cut to whole batches, so every pair is used at most
    once per pass: with ``num_samples >= steps * batch_size`` all batches are fresh pairs, as in
    Poole et al. Arrays (not a generator) feed `fit`, the cheapest input on every backend.
    """
    batches_per_pass = num_samples // batch_size
    remaining, data_pass = steps, 0
    while remaining > 0:
        batches = min(batches_per_pass, remaining)
        order = np.random.default_rng([seed, data_pass]).permutation(num_samples)
        yield order[: batches * batch_size]
        remaining -= batches
        data_pass += 1


class _PerStepHistory(keras.callbacks.Callback):
    def __init__(self, keys):
        super().__init__()
        self.values = {key: [] for key in keys}

    def on_train_batch_end(self, batch, logs=None):
        for key, series in self.values.items():
            series.append(float(logs[f"batch_{key}"] if key != "loss" else logs["loss"]))


def _as_matrix(name, a):
    a = np.asarray(a, dtype="float32")
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2:
        raise ValueError(
            f"Expected `{name}` of shape (num_samples, features) or (num_samples,). "
            f"Received shape {a.shape}."
        )
    return a


def _make_critic(critic, embedding_dim, hidden_dim, num_layers, seed):
    if isinstance(critic, keras.layers.Layer):
        return critic
    if critic == "separable":
        return SeparableCritic(embedding_dim, hidden_dim, num_layers, seed=seed)
    if critic == "concat":
        return ConcatCritic(hidden_dim, num_layers, seed=seed)
    raise ValueError(
        'Expected `critic` to be "separable", "concat" or a Keras layer mapping (x, y) to '
        f"(N, N) scores. Received {critic!r}."
    )


def estimate_mutual_information(
    x,
    y,
    critic="separable",
    batch_size=64,
    steps=1000,
    learning_rate=5e-4,
    embedding_dim=32,
    hidden_dim=256,
    num_layers=2,
    entropy_weight=0.0,
    code_kwargs=None,
    averaging_steps=None,
    seed=0,
    verbose="auto",
    return_model=False,
):
    """Estimate I(x; y) in nats by training a critic on paired samples with InfoNCE.

    Trains an `InfoNCEEstimator` with Adam on ``steps`` batches of ``batch_size`` pairs
    (x_i, y_i) taken in random order (fresh pairs while ``steps * batch_size <= num_samples``;
    fewer samples are reused, and a critic can then overfit them), via Keras `fit` (progress
    bar with ``verbose``, one bar per pass over the data), on any backend. The estimate is
    the InfoNCE bound ``ln N - L`` averaged over the last ``averaging_steps`` training steps
    (Poole et al. plot the same smoothed training bound). It is a lower bound
    in expectation and can never exceed ``ln(batch_size)``: estimates of large MI need large
    batches.

    Args:
        x: (num_samples, Dx) or (num_samples,) samples.
        y: (num_samples, Dy) or (num_samples,) samples, row i paired with x[i].
        critic: "separable" (`SeparableCritic`, default), "concat" (`ConcatCritic`), or a
            Keras layer mapping (x, y) to (N, N) scores. A layer instance keeps its weights
            and is trained further (e.g. to track a changing distribution).
        batch_size: N, the pairs per batch (the candidates of each anchor).
        steps: training steps.
        learning_rate: Adam learning rate, or a Keras `LearningRateSchedule`.
        embedding_dim, hidden_dim, num_layers: size of the MLP critic built from a string.
        entropy_weight: beta >= 0; > 0 trains stochastic codes of x and y with the penalty
            ``beta (H^(z_x) + H^(z_y))`` and then estimates I(z_x; z_y) <= I(x; y).
        code_kwargs: `StochasticCode` arguments when ``entropy_weight > 0``.
        averaging_steps: how many final steps to average; default max(1, steps // 10).
        seed: seed of the critic's initial weights, the codes and the batch order.
        verbose: Keras `fit` verbosity ("auto"/1 shows a progress bar, 0 is silent).
        return_model: also return the trained `InfoNCEEstimator`.

    Returns:
        ``(estimate, history)``, or ``(estimate, history, model)`` with ``return_model``.
        ``estimate`` is a float (nats); ``history`` a dict of per-step lists: ``"loss"``,
        ``"mi_lower_bound"`` and, with ``entropy_weight > 0``, ``"code_entropy"``.

    Example:
        >>> import numpy as np
        >>> x = np.random.normal(size=(4096, 2))
        >>> y = x + 0.5 * np.random.normal(size=x.shape)
        >>> nats, history = estimate_mutual_information(x, y, steps=300, verbose=0)
    """
    x, y = _as_matrix("x", x), _as_matrix("y", y)
    if len(x) != len(y):
        raise ValueError(
            f"Expected `x` and `y` with the same number of samples. Received {len(x)} and {len(y)}."
        )
    if not 2 <= batch_size <= len(x):
        raise ValueError(
            f"Expected 2 <= `batch_size` <= the number of samples ({len(x)}). Received "
            f"batch_size={batch_size}."
        )
    if int(steps) < 1:
        raise ValueError(f"Expected `steps` >= 1. Received steps={steps}.")
    steps = int(steps)
    model = InfoNCEEstimator(
        _make_critic(critic, embedding_dim, hidden_dim, num_layers, seed),
        entropy_weight=entropy_weight,
        code_kwargs=code_kwargs,
        seed=seed,
    )
    model.compile(optimizer=keras.optimizers.Adam(learning_rate))
    keys = ["loss", "mi_lower_bound"] + (["code_entropy"] if entropy_weight > 0 else [])
    recorder = _PerStepHistory(keys)
    for rows in _passes(len(x), int(batch_size), steps, seed):
        # Successive fits reuse the compiled train step and the optimizer state.
        model.fit(
            {"x": x[rows], "y": y[rows]},
            batch_size=int(batch_size),
            epochs=1,
            shuffle=False,
            verbose=verbose,
            callbacks=[recorder],
        )
    history = recorder.values
    window = averaging_steps or max(1, steps // 10)
    estimate = float(np.mean(history["mi_lower_bound"][-window:]))
    if return_model:
        return estimate, history, model
    return estimate, history
