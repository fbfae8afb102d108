"""Reproduce the InfoNCE curve of Poole et al. 2019, Fig. 2, on correlated Gaussians.

x, y in R^20 with componentwise correlation rho; the true mutual information steps through
2, 4, 6, 8, 10 nats (equal numbers of iterations each), one fresh batch of 64 pairs per
iteration, a separable critic (two 256-unit ReLU layers, 32-d embeddings) trained with
Adam(5e-4), as in the authors' colab (google-research vbmi_demo.ipynb). The plot shows the
InfoNCE estimate per iteration (light) and its EMA (span 200), the true MI, the same bound with
the optimal critic ln p(y|x), and the ceiling ln 64: InfoNCE can never report more than ln N.

    python examples/mi_gaussian_benchmark.py                 # short run: 2000 iterations
    python examples/mi_gaussian_benchmark.py --full          # the paper's 20000 iterations
    KERAS_BACKEND=torch python examples/mi_gaussian_benchmark.py --output fig2_torch.png
"""

import argparse
import math

import keras
import numpy as np

from keras_cpc.layers import ConcatCritic, SeparableCritic
from keras_cpc.losses import mi_lower_bound
from keras_cpc.mi import InfoNCEEstimator

DIM = 20
MI_LEVELS = (2.0, 4.0, 6.0, 8.0, 10.0)


def rho_for(mi, dim=DIM):
    """Correlation giving I(x; y) = -dim/2 ln(1 - rho^2) = mi nats."""
    return math.sqrt(1.0 - math.exp(-2.0 * mi / dim))


def true_mi_schedule(iterations):
    """The true MI at each iteration: equal blocks of 2, 4, 6, 8, 10 nats."""
    block = np.arange(iterations) * len(MI_LEVELS) // iterations
    return np.asarray(MI_LEVELS)[block]


def sample_pairs(rng, mi, batch_size, dim=DIM):
    rho = rho_for(mi, dim)
    x = rng.normal(size=(batch_size, dim))
    y = rho * x + math.sqrt(1.0 - rho**2) * rng.normal(size=x.shape)
    return x.astype("float32"), y.astype("float32")


class ScheduledGaussianPairs(keras.utils.PyDataset):
    """One fresh batch per iteration, with the true MI of the schedule at that iteration."""

    def __init__(self, schedule, batch_size, seed):
        super().__init__()
        self.schedule, self.batch_size, self.seed = schedule, batch_size, seed

    def __len__(self):
        return len(self.schedule)

    def __getitem__(self, index):
        rng = np.random.default_rng([self.seed, index])
        x, y = sample_pairs(rng, self.schedule[index], self.batch_size)
        return ({"x": x, "y": y},)


class RecordBatchBound(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.values = []

    def on_train_batch_end(self, batch, logs=None):
        self.values.append(float(logs["batch_mi_lower_bound"]))


def optimal_critic_bound(mi, batch_size, batches, seed):
    """Mean InfoNCE bound with the optimal critic ln p(y_i | x_j) (the 'TNCE' curve)."""
    rng = np.random.default_rng(seed)
    rho = rho_for(mi)
    scores = []
    for _ in range(batches):
        x, y = sample_pairs(rng, mi, batch_size)
        diff = y[:, None, :] - rho * x[None, :, :]  # [i, j] = y_i - rho x_j
        scores.append(-0.5 * (diff**2).sum(-1) / (1.0 - rho**2))
    return float(mi_lower_bound(np.stack(scores).astype("float32")))


def ema(values, span):
    alpha, out, current = 2.0 / (span + 1.0), [], values[0]
    for v in values:
        current = alpha * v + (1.0 - alpha) * current
        out.append(current)
    return np.asarray(out)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--iterations", type=int, default=2000)
    parser.add_argument("--full", action="store_true", help="20000 iterations, as the paper")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--learning-rate", type=float, default=5e-4)
    parser.add_argument("--critic", choices=("separable", "concat"), default="separable")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", default="mi_gaussian_benchmark.png")
    args = parser.parse_args()
    iterations = 20000 if args.full else args.iterations

    if args.critic == "separable":
        critic = SeparableCritic(embedding_dim=32, hidden_dim=256, num_layers=2, seed=args.seed)
    else:
        critic = ConcatCritic(hidden_dim=256, num_layers=2, seed=args.seed)
    model = InfoNCEEstimator(critic)
    model.compile(optimizer=keras.optimizers.Adam(args.learning_rate))
    schedule = true_mi_schedule(iterations)
    recorder = RecordBatchBound()
    print(f"backend {keras.backend.backend()}, {iterations} iterations, batch {args.batch_size}")
    pairs = ScheduledGaussianPairs(schedule, args.batch_size, args.seed)
    # shuffle=False keeps the schedule's order (fit shuffles a PyDataset's indices).
    model.fit(pairs, epochs=1, shuffle=False, callbacks=[recorder])
    estimates = np.asarray(recorder.values)
    optimal = {mi: optimal_critic_bound(mi, args.batch_size, 200, args.seed) for mi in MI_LEVELS}
    ceiling = math.log(args.batch_size)

    print(f"\n{'true MI':>8} {'InfoNCE (2nd half of block)':>28} {'optimal critic':>15}   ln N")
    for mi in MI_LEVELS:
        late = estimates[schedule == mi][(schedule == mi).sum() // 2 :].mean()
        print(f"{mi:8.1f} {late:28.3f} {optimal[mi]:15.3f} {ceiling:6.3f}")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = np.arange(iterations)
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(steps, estimates, color="tab:blue", alpha=0.25, linewidth=0.5)
    ax.plot(steps, ema(estimates, 200), color="tab:blue", label=f"InfoNCE ({args.critic} critic)")
    best = [optimal[mi] for mi in schedule]
    ax.plot(steps, best, "g:", label="InfoNCE, optimal critic ln p(y|x)")
    ax.plot(steps, schedule, color="black", label="true MI")
    ax.axhline(ceiling, color="gray", linestyle="--", label=f"ln {args.batch_size}")
    ax.set_xlabel("iteration")
    ax.set_ylabel("MI (nats)")
    ax.set_ylim(0, 11)
    ax.set_title(f"InfoNCE on correlated Gaussians (d={DIM}), {keras.backend.backend()} backend")
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(args.output, dpi=120)
    print(f"saved {args.output}")


if __name__ == "__main__":
    main()
