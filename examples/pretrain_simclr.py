"""Pretrain a SimCLR ResNet (CIFAR stem) on an image folder or a local TFDS dataset.

Defaults: ResNet-18 with the CIFAR stem at width 0.25 (base 16 channels), batch 256,
temperature 0.5, colour strength 0.5, no blur, Adam with linear warmup + cosine decay. The
shipped presets changed some of these (the CPU one: batch 128, Adam peak 2e-3; the GPU one:
width 1, batch 512, LARS); each preset's model card gives its exact command.

A held-out split (``--holdout-fraction`` of each class, seeded) is never trained on, so
`linear_probe.py` can score on it. Labels, when the source has them, only feed SimCLR's
online probe on stop-gradient features (monitoring; the encoder never sees them).

Interrupt it at any time: with ``--checkpoint-dir`` the run resumes from the last finished
epoch (`keras.callbacks.BackupAndRestore`) and ends with the same number of steps; the loss
curve is logged per step (``steps.csv``) and per epoch (``epochs.csv``) in that folder.

Examples:
    # smoke run (seconds)
    python examples/pretrain_simclr.py --data ~/data/cifar10/train --limit 512 --epochs 1 \\
        --steps-per-epoch 2 --batch-size 64 --checkpoint-dir /tmp/simclr_smoke
    # the CPU preset (presets/simclr_resnet18_cifar10_cpu/README.md has the exact command)
    python examples/pretrain_simclr.py --data ~/data/cifar10/train --epochs 22 \\
        --batch-size 128 --learning-rate 2e-3 --checkpoint-dir runs/simclr_cpu \\
        --save-preset presets/simclr_resnet18_cifar10_cpu --probe
"""

import argparse
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402


def build_parser():
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    data = parser.add_argument_group("data")
    data.add_argument(
        "--data",
        default="~/data/cifar10/train",
        help="class-per-folder image tree, or tfds:NAME for a TFDS dataset present locally",
    )
    data.add_argument("--image-size", type=int, default=32, help="images are resized to this")
    data.add_argument(
        "--holdout-fraction",
        type=float,
        default=0.1,
        help="share of each class kept out of training (the probe's val split)",
    )
    data.add_argument("--limit", type=int, help="train on at most this many images (smoke runs)")
    model = parser.add_argument_group("model")
    model.add_argument("--depth", type=int, default=18, choices=(18, 34, 50))
    model.add_argument("--width", type=float, default=0.25, help="ResNet width multiplier")
    model.add_argument("--stem", default="cifar", choices=("cifar", "imagenet"))
    model.add_argument("--projection-layers", type=int, default=2)
    model.add_argument("--projection-dim", type=int, default=128)
    model.add_argument("--temperature", type=float, default=0.5)
    model.add_argument("--jitter-strength", type=float, default=0.5)
    model.add_argument("--blur", action="store_true", help="Gaussian blur (ImageNet setting)")
    model.add_argument(
        "--no-online-probe",
        action="store_true",
        help="do not train the online probe even when labels exist",
    )
    train = parser.add_argument_group("training")
    train.add_argument("--epochs", type=int, default=30)
    train.add_argument(
        "--steps-per-epoch",
        type=int,
        help="steps per epoch (default: one pass over the training images)",
    )
    train.add_argument("--batch-size", type=int, default=256)
    train.add_argument("--optimizer", default="adam", choices=("adam", "lars"))
    train.add_argument(
        "--learning-rate",
        type=float,
        help="peak rate (default: Adam 1e-3*batch/256, LARS 0.075*sqrt(batch))",
    )
    train.add_argument("--weight-decay", type=float, default=1e-6)
    train.add_argument("--warmup-epochs", type=float, default=1.0)
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--jit-compile", default="auto", choices=("auto", "true", "false"))
    train.add_argument(
        "--run-eagerly", action="store_true", help="no compiled step (debugging, tiny test runs)"
    )
    out = parser.add_argument_group("output")
    out.add_argument(
        "--checkpoint-dir", help="folder for the resumable checkpoint and the loss logs"
    )
    out.add_argument("--save-preset", help="write the trained backbone as a preset here")
    out.add_argument("--preset-name", help="name in the model card (default: folder name)")
    out.add_argument("--overwrite", action="store_true", help="replace an existing preset")
    out.add_argument(
        "--probe",
        action="store_true",
        help="after training, run linear_probe.py's comparison on the held-out "
        "split and record it in the preset's metadata and card",
    )
    out.add_argument(
        "--probe-train-limit",
        type=int,
        help="probe on at most this many training images (all three rows)",
    )
    out.add_argument("--verbose", type=int, default=1, help="Keras fit verbosity (1 = bar)")
    return parser


class ImageBatches:
    """Keras PyDataset of shuffled full batches (uint8 images [, labels]); reshuffled per epoch.

    Drops the last partial batch so every step sees ``batch_size`` images (NT-Xent's
    negatives and compiled shapes stay fixed).
    """

    def __new__(cls, images, labels, batch_size, steps_per_epoch=None, seed=0):
        import keras
        import numpy as np

        class _ImageBatches(keras.utils.PyDataset):
            def __init__(self):
                super().__init__()
                self.rng = np.random.default_rng(seed)
                self.steps = common.full_batch_steps(
                    len(images), batch_size, steps_per_epoch, "training images"
                )
                self._order()

            def _order(self):
                self.order = common.epoch_order(self.rng, len(images), self.steps, batch_size)

            def __len__(self):
                return self.steps

            def __getitem__(self, index):
                rows = self.order[index * batch_size : (index + 1) * batch_size]
                if labels is None:
                    return (images[rows],)
                return images[rows], labels[rows]

            def on_epoch_end(self):
                self._order()

        return _ImageBatches()


def main(argv=None):
    args = build_parser().parse_args(argv)
    import keras

    from keras_cpc.layers.projection_head import ProjectionHead
    from keras_cpc.layers.simclr_augmentation import SimCLRAugmentation
    from keras_cpc.models import ResNetBackbone
    from keras_cpc.models.simclr.simclr_pretrainer import SimCLRPretrainer
    from keras_cpc.optimizers.warmup_cosine import WarmupCosineDecay

    keras.utils.set_random_seed(args.seed)
    size = (args.image_size, args.image_size)
    print(f"Loading {args.data} ...", flush=True)
    source = common.LazyImages(args.data, image_size=size)
    labels, classes = source.labels, source.classes
    train_rows, holdout_rows = common.stratified_holdout(labels, args.holdout_fraction, args.seed)
    train_rows = common.subset(train_rows, args.limit, args.seed)
    x_train = source.take(train_rows)
    y_train = None if args.no_online_probe else labels[train_rows].astype("int32")
    print(
        f"{len(x_train)} training images ({len(holdout_rows)} held out for the probe), "
        f"{len(classes)} classes, backend {keras.backend.backend()}",
        flush=True,
    )

    dataset = ImageBatches(x_train, y_train, args.batch_size, args.steps_per_epoch, args.seed)
    steps_per_epoch = len(dataset)
    total_steps = steps_per_epoch * args.epochs
    warmup_steps = min(int(args.warmup_epochs * steps_per_epoch), total_steps)
    if args.optimizer == "adam":
        peak = args.learning_rate or 1e-3 * args.batch_size / 256
        schedule = WarmupCosineDecay(peak, warmup_steps, total_steps)
        optimizer = keras.optimizers.AdamW(schedule, weight_decay=args.weight_decay)
    else:
        from keras_cpc.optimizers.lars import LARS

        peak = args.learning_rate or 0.075 * math.sqrt(args.batch_size)
        schedule = WarmupCosineDecay(peak, warmup_steps, total_steps)
        optimizer = LARS(schedule, weight_decay=args.weight_decay)

    backbone = ResNetBackbone(
        depth=args.depth,
        width_multiplier=args.width,
        stem=args.stem,
        image_shape=(args.image_size, args.image_size, 3),
    )
    augmentation = SimCLRAugmentation(
        jitter_strength=args.jitter_strength, blur=args.blur, seed=args.seed
    )
    pretrainer = SimCLRPretrainer(
        backbone,
        projection_head=ProjectionHead(
            num_layers=args.projection_layers, output_dim=args.projection_dim
        ),
        temperature=args.temperature,
        augmentation=augmentation,
        num_classes=None if y_train is None else len(classes),
    )
    jit = {"auto": "auto", "true": True, "false": False}[args.jit_compile]
    pretrainer.compile(optimizer=optimizer, jit_compile=jit, run_eagerly=args.run_eagerly)

    summary = common.fit_resumable(pretrainer, dataset, args, steps_per_epoch)
    if args.save_preset:
        description = (
            f"SimCLR ResNet-{args.depth} (CIFAR stem, width {args.width:g}) pretrained on "
            f"{len(x_train)} unlabelled images of {args.data}"
        )
        hyper = {k: v for k, v in vars(args).items() if k not in ("verbose",)}
        metadata = {
            "description": description,
            "training_data": {
                "source": str(args.data),
                "examples": int(len(x_train)),
                "held_out": int(len(holdout_rows)),
                "split": f"stratified {args.holdout_fraction:g} per class held out, seed "
                f"{args.seed} (examples/common.py stratified_holdout)",
                "classes": classes,
            },
            "training_command": common.exact_command(__file__, argv),
            "source_commit": common.source_version(),
            "seed": args.seed,
            "hyperparameters": hyper,
            "training": summary,
            "hardware": common.hardware_info(),
        }
        save_with_card(backbone, args, metadata)
        if args.probe:
            import linear_probe

            probe_args = [
                args.save_preset,
                "--data",
                str(args.data),
                "--holdout-fraction",
                str(args.holdout_fraction),
                "--seed",
                str(args.seed),
                "--image-size",
                str(args.image_size),
                "--output-dir",
                str(Path(args.save_preset).with_name(Path(args.save_preset).name + "_probe")),
            ]
            if args.limit:  # smoke runs: probe on a subset of the same size
                probe_args += ["--limit", str(args.limit)]
            if args.probe_train_limit:
                probe_args += ["--train-limit", str(args.probe_train_limit)]
            results = linear_probe.main(probe_args)
            metadata["probe_results"] = results["summary"]
            metadata["probe_command"] = "python examples/linear_probe.py " + " ".join(probe_args)
            args.overwrite = True
            save_with_card(backbone, args, metadata)
    return summary


def save_with_card(backbone, args, metadata):
    hyper = metadata["hyperparameters"]
    training = metadata["training"]
    objective = [
        f"- Objective: SimCLR NT-Xent, temperature {hyper['temperature']}, colour strength "
        f"{hyper['jitter_strength']}, blur {'on' if hyper['blur'] else 'off'}, projection "
        f"head {hyper['projection_layers']} layers -> {hyper['projection_dim']}",
        f"- Optimiser: {hyper['optimizer']}, batch {hyper['batch_size']}, "
        f"{training['epochs']} epochs x {training['steps_per_epoch']} steps = "
        f"{training['steps']} steps, warmup {hyper['warmup_epochs']} epoch(s) then cosine",
    ]
    usage = [
        "from keras_cpc.models import ResNetBackbone",
        'backbone = ResNetBackbone.from_preset("{name}")',
        "features = backbone.predict(uint8_images)  # (n, dim), pixels in [0, 255]",
    ]
    common.save_preset_with_card(backbone, args, metadata, objective, usage)


if __name__ == "__main__":
    main()
