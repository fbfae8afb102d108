"""Training throughput of CPCPretrainer vs the encoder+GRU floor, in windows per second.

The floor trains the same backbone on a trivial loss (mean of c_t squared), so the ratio
floor / CPC is the cost of the CPC objective itself (predictors, negative sampling, scores,
metrics). Target: ratio <= 1.2.

Run one backend per process:
    KERAS_BACKEND=jax python benchmarks/cpc_step.py --config small --steps 10
    KERAS_BACKEND=torch python benchmarks/cpc_step.py --config paper --window 20480 --steps 3
    KERAS_BACKEND=jax python benchmarks/cpc_step.py --config paper --steps 7 --bank-sizes 512

``--matmul-floor`` also times the floor plus the multiply-adds of the default per-anchor scoring
(every prediction against every frame through the predictor's factors, forward and backward, as
`keras_cpc.losses.LinearPredictions.frame_major_scores` computes them) without the pick, masks
or softmax: what the default scoring cannot go below. (Gathering each anchor's negatives instead
takes fewer multiply-adds but was slower on all three backends' CPU kernels; see
`keras_cpc.losses.cpc`.)

Both models run in one process with glibc keeping freed memory
(`keras_cpc.training.keep_freed_memory`; ``--malloc default`` for glibc's own settings).

Configs: ``paper`` = van den Oord et al. (kernels 10,8,4,4,4, strides 5,4,2,2,2, 512 channels,
GRU 256, K=12, 128 negatives, batch 8, 20480-sample windows); ``small`` = 64 channels,
GRU 64, K=6, 32 negatives, batch 16, 4096-sample windows.
"""

import argparse
import time

import keras
import numpy as np

from keras_cpc.losses import LinearPredictions
from keras_cpc.models import CPCBackbone, CPCPretrainer

CONFIGS = {
    "paper": dict(
        backbone=dict(encoder_dim=512, context_dim=256),
        pretrainer=dict(prediction_steps=12, num_negatives=128),
        batch_size=8,
        window=20480,
    ),
    "small": dict(
        backbone=dict(encoder_dim=64, context_dim=64),
        pretrainer=dict(prediction_steps=6, num_negatives=32),
        batch_size=16,
        window=4096,
    ),
}


class FloorModel(keras.Model):
    """The backbone on a trivial loss: what any objective on top of it costs at least."""

    def __init__(self, backbone, **kwargs):
        super().__init__(**kwargs)
        self.backbone = backbone

    def call(self, inputs, training=None):
        return self.backbone.encode(inputs, training=training)["c"]

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        return keras.ops.mean(keras.ops.square(y_pred))


class MatmulFloorModel(FloorModel):
    """The floor plus the dense per-anchor scoring's matmuls (forward and backward) alone."""

    def __init__(self, backbone, prediction_steps, **kwargs):
        super().__init__(backbone, **kwargs)
        self.steps = prediction_steps
        self.predictor = keras.layers.Dense(
            prediction_steps * backbone.encoder_dim, use_bias=False, name="predictor_linear"
        )
        self.predictor.build((None, None, backbone.context_dim))

    def call(self, inputs, training=None):
        outputs = self.backbone.encode(inputs, training=training)
        z, c = outputs["z"], outputs["c"]
        predictions = LinearPredictions(c, self.predictor.kernel, self.steps)
        scores = predictions.frame_major_scores(keras.ops.reshape(z, (-1, z.shape[-1])))
        return c, scores

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        c, scores = y_pred
        # A non-constant gradient for every score, so that both backward matmuls run in full.
        return keras.ops.mean(keras.ops.square(c)) + 1e-6 * keras.ops.mean(keras.ops.square(scores))


def _step_seconds(model, batch):
    start = time.perf_counter()
    logs = model.train_on_batch(batch, return_dict=True)
    float(logs["loss"])  # waits for the step on every backend
    return time.perf_counter() - start


def run(
    name, steps, warmup, window=None, batch_size=None, malloc="default", banks=(), matmuls=False
):
    config = CONFIGS[name]
    batch_size = batch_size or config["batch_size"]
    window = window or config["window"]
    rng = np.random.default_rng(0)
    batch = (0.1 * rng.normal(size=(batch_size, window))).astype("float32")
    models = {}
    variants = {"cpc": {}, "cpc_shared": dict(share_negatives=True)}
    variants.update({f"cpc_bank{size}": dict(negative_bank_size=size) for size in banks})
    kinds = ("floor", "matmul_floor") if matmuls else ("floor",)
    for kind in (*kinds, *variants):
        keras.utils.set_random_seed(0)
        backbone = CPCBackbone(**config["backbone"])
        if kind == "floor":
            model = FloorModel(backbone)
        elif kind == "matmul_floor":
            model = MatmulFloorModel(backbone, config["pretrainer"]["prediction_steps"])
        else:
            model = CPCPretrainer(backbone, seed=0, **variants[kind], **config["pretrainer"])
        model.compile(optimizer=keras.optimizers.Adam(2e-4))
        for _ in range(warmup):  # compile / warm caches
            _step_seconds(model, batch)
        models[kind] = model
    # Interleave the two models so that load changes on a shared machine hit both alike.
    times = {kind: [] for kind in models}
    for _ in range(steps):
        for kind, model in models.items():
            times[kind].append(_step_seconds(model, batch))
    rate = {kind: batch_size / float(np.median(t)) for kind, t in times.items()}
    floor, cpc, shared = rate["floor"], rate["cpc"], rate["cpc_shared"]
    extra = "".join(
        f" | CPC per-anchor negatives through a bank of {size} frames "
        f"{rate[f'cpc_bank{size}']:.2f} windows/s, ratio {floor / rate[f'cpc_bank{size}']:.3f}"
        for size in banks
    )
    if matmuls:
        extra += (
            f" | floor + the per-anchor scoring's matmuls alone {rate['matmul_floor']:.2f} "
            f"windows/s, ratio {floor / rate['matmul_floor']:.3f}"
        )
    print(
        f"backend={keras.backend.backend()} config={name} batch={batch_size} window={window} "
        f"malloc={malloc} "
        f"timed_steps={steps} (median, interleaved) | floor (encoder+GRU, trivial loss) "
        f"{floor:.2f} windows/s | CPC per-anchor negatives {cpc:.2f} windows/s, ratio "
        f"{floor / cpc:.3f} | CPC shared negatives {shared:.2f} windows/s, ratio "
        f"{floor / shared:.3f}{extra}",
        flush=True,
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", choices=["paper", "small", "both"], default="both")
    parser.add_argument("--steps", type=int, default=5, help="timed steps per model")
    parser.add_argument("--warmup", type=int, default=2, help="untimed first steps (compile)")
    parser.add_argument("--window", type=int, default=None, help="override window samples")
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--malloc", default="keep", choices=("keep", "default"))
    parser.add_argument(
        "--bank-sizes",
        default="",
        help="comma list: also time per-anchor negatives through a candidate bank of this many "
        "frames (CPCPretrainer negative_bank_size; the paper config has 8 x 128 frames)",
    )
    parser.add_argument(
        "--matmul-floor",
        action="store_true",
        help="also time the floor plus the dense per-anchor scoring's matmuls alone",
    )
    args = parser.parse_args()
    malloc = "default"
    if args.malloc == "keep":
        from keras_cpc.training import keep_freed_memory

        malloc = "keep" if keep_freed_memory() else "default"
    names = ["small", "paper"] if args.config == "both" else [args.config]
    banks = [int(size) for size in args.bank_sizes.split(",") if size]
    for name in names:
        run(
            name,
            args.steps,
            args.warmup,
            args.window,
            args.batch_size,
            malloc,
            banks,
            args.matmul_floor,
        )


if __name__ == "__main__":
    main()
