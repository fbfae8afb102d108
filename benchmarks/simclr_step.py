"""Training-step throughput of SimCLR (image pairs/s) against a backbone+head floor.

The full step is `SimCLRPretrainer` as users train it: on-device `SimCLRAugmentation` (two
views), one ResNet pass over the 2N views, the projection head, NT-Xent and its metrics, LARS.
The floor trains the same backbone + head on the same 2N images with a trivial loss
(mean of z^2), no augmentation and no contrastive metrics. The ratio floor / full shows what
our loss, augmentation and step machinery cost (target <= 1.15).

The backend is the one in KERAS_BACKEND; ``--backends jax,tensorflow,torch`` runs each in its
own process. Examples::

    KERAS_BACKEND=jax python benchmarks/simclr_step.py            # ResNet-18, CIFAR, batch 256
    python benchmarks/simclr_step.py --backends jax,tensorflow,torch --width 0.25 --batch 64
"""

import argparse
import os
import subprocess
import sys
import time

import keras
import numpy as np
from keras import ops

from keras_cpc.layers import ProjectionHead, SimCLRAugmentation
from keras_cpc.models import ResNetBackbone, SimCLRPretrainer
from keras_cpc.optimizers import LARS


class Floor(keras.Model):
    """Backbone + head with a trivial loss: the cost of the network alone."""

    def __init__(self, backbone, head):
        super().__init__()
        self.backbone, self.head = backbone, head
        self.head.build((None, backbone.output_dim))

    def call(self, x, training=None):
        return self.head(self.backbone(x, training=training), training=training)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        return ops.mean(ops.square(ops.cast(y_pred, "float32")))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--depth", type=int, default=18, choices=(18, 34, 50))
    parser.add_argument("--width", type=float, default=1.0, help="ResNet width multiplier")
    parser.add_argument("--batch", type=int, default=256, help="images per step (N pairs)")
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=20, help="timed steps")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps (compilation)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved timing rounds")
    parser.add_argument(
        "--jit-compile",
        default="auto",
        choices=("auto", "true", "false"),
        help='Keras jit_compile ("auto": XLA on JAX, eager-graph on TF CPU, eager on torch)',
    )
    parser.add_argument("--backends", default=None, help="comma list; one process each")
    return parser.parse_args(argv)


def run_all(args, argv):
    forwarded = []
    skip = False
    for item in argv:
        if skip:
            skip = False
            continue
        if item == "--backends":
            skip = True
            continue
        if item.startswith("--backends="):
            continue
        forwarded.append(item)
    for backend in args.backends.split(","):
        env = dict(os.environ, KERAS_BACKEND=backend.strip())
        subprocess.run([sys.executable, __file__, *forwarded], env=env, check=True)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    if args.backends:
        return run_all(args, argv)

    jit_compile = {"auto": "auto", "true": True, "false": False}[args.jit_compile]
    size = args.image_size
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (args.batch, size, size, 3)).astype("uint8")

    def make_backbone_and_head():
        backbone = ResNetBackbone(
            depth=args.depth,
            width_multiplier=args.width,
            stem="cifar" if size <= 32 else "imagenet",
            image_shape=(size, size, 3),
        )
        return backbone, ProjectionHead(num_layers=3, output_dim=128)

    def compile_and_warm_up(model, batch):
        model.compile(optimizer=LARS(0.1, weight_decay=1e-6), jit_compile=jit_compile)
        for _ in range(args.warmup):
            model.train_on_batch(batch)

    def pairs_per_second(model, batch):
        start = time.perf_counter()
        for _ in range(args.steps):
            logs = model.train_on_batch(batch, return_dict=True)  # returns floats: synced
        elapsed = time.perf_counter() - start
        assert np.isfinite(logs["loss"]), logs
        return args.batch * args.steps / elapsed

    backbone, head = make_backbone_and_head()
    augmentation = SimCLRAugmentation(image_size=(size, size), jitter_strength=0.5, seed=0)
    full = SimCLRPretrainer(backbone, head, temperature=0.5, augmentation=augmentation)
    backbone, head = make_backbone_and_head()
    floor = Floor(backbone, head)
    floor_batch = np.concatenate([images, images])  # the same 2N images per step
    compile_and_warm_up(full, images)
    compile_and_warm_up(floor, floor_batch)
    # Interleaved rounds, best of each: on a shared machine the slowest rounds measure the
    # neighbours, not the step.
    full_rate = floor_rate = 0.0
    for _ in range(args.rounds):
        full_rate = max(full_rate, pairs_per_second(full, images))
        floor_rate = max(floor_rate, pairs_per_second(floor, floor_batch))

    print(
        f"backend={keras.backend.backend()} resnet{args.depth} width={args.width} "
        f"batch={args.batch} image={size} steps={args.steps}x{args.rounds} "
        f"jit_compile={args.jit_compile}: "
        f"full {full_rate:.1f} pairs/s, floor {floor_rate:.1f} pairs/s, "
        f"ratio floor/full {floor_rate / full_rate:.3f}",
        flush=True,
    )


if __name__ == "__main__":
    main()
