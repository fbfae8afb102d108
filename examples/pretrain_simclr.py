"""Pretrain a SimCLR ResNet on an image folder or a local TFDS dataset.

``--holdout-fraction`` of each class is never trained on (the probe's test split); labels only
feed the online probe. With ``--checkpoint-dir`` a killed run, rerun with the same command, ends
as an uninterrupted one would. Each shipped preset's card gives its exact command. On a GPU,
``--dtype-policy mixed_bfloat16 --data-on-device`` trains in bfloat16 with the images held on
the device. The SGD recipe (dkobak/simclr-cifar10's, with warmup): ``--optimizer sgd`` (lr
0.06 x batch / 256, L2 5e-4) ``--head-hidden 1024 --no-head-batch-norm --crop-scale 0.2 1``.
Smoke run:

    python examples/pretrain_simclr.py --data ~/data/cifar10/train --limit 512 --epochs 1 \\
        --steps-per-epoch 2 --batch-size 64 --checkpoint-dir /tmp/simclr_smoke
"""

import argparse

import keras

from keras_cpc import data, distribute, evaluation, training
from keras_cpc.layers import ProjectionHead, SimCLRAugmentation
from keras_cpc.layers.random_crops import CROP_SAMPLINGS
from keras_cpc.models import ResNetBackbone, SimCLRPretrainer

STEMS = {"cifar": "CIFAR stem", "imagenet": "ImageNet stem"}


def build_parser():
    # Default peak learning rate per optimiser, scaled by batch / 256 (e.g. Adam(W) 1e-3).
    parser = training.run_parser(
        __doc__.split("\n\n")[0],
        epochs=30,
        batch_size=256,
        optimizer="adamw",
        unit="images",
        mixed_precision=True,
    )
    add = parser.add_argument
    add("--data", default="~/data/cifar10/train", help="class folders, or tfds:NAME (local)")
    add("--image-size", type=int, default=32, help="images are resized to this")
    add("--holdout-fraction", type=float, default=0.1, help="share of each class never trained")
    add("--limit", type=int, help="train on at most this many images (smoke runs)")
    add("--data-on-device", action="store_true", help="hold the images on the accelerator")
    add("--depth", type=int, default=18, choices=(18, 34, 50))
    add("--width", type=float, default=0.25, help="ResNet width multiplier")
    add("--stem", default="cifar", choices=tuple(STEMS))
    add("--projection-layers", "--head-layers", type=int, default=2, help="head Dense layers")
    add("--projection-dim", type=int, default=128, help="head output width")
    add("--head-hidden", type=int, help="hidden width of the head (default: feature width)")
    add("--head-batch-norm", action=argparse.BooleanOptionalAction, default=True)
    add("--temperature", type=float, default=0.5)
    add("--crop-scale", type=float, nargs=2, default=(0.08, 1.0), metavar=("MIN", "MAX"))
    add("--crop-sampling", default="ours", choices=CROP_SAMPLINGS, help="official: TF's sampler")
    add("--grayscale-probability", type=float, default=0.2)
    add("--jitter-strength", type=float, default=0.5)
    add("--blur", action="store_true", help="Gaussian blur (ImageNet setting)")
    add("--no-online-probe", action="store_true", help="no online probe even with labels")
    add("--probe", action="store_true", help="linear probe on the held-out split, into the card")
    add("--probe-train-limit", type=int, help="fit the probe on at most this many images")
    return parser


def make_batches(args, x_train, y_train):
    """The training batches: on the device with ``--data-on-device``, else from the host."""
    batches = data.ResidentImageBatches if args.data_on_device else data.ImageBatches
    return batches(x_train, y_train, args.batch_size, args.steps_per_epoch, args.seed)


def build_pretrainer(args, num_classes=None):
    """The `SimCLRPretrainer` the flags describe, built under ``--dtype-policy``."""
    size = (args.image_size, args.image_size, 3)
    with training.dtype_policy_scope(args.dtype_policy):
        backbone = ResNetBackbone(args.depth, args.width, stem=args.stem, image_shape=size)
        augmentation = SimCLRAugmentation(
            crop_area=args.crop_scale,
            crop_sampling=args.crop_sampling,
            jitter_strength=args.jitter_strength,
            grayscale_probability=args.grayscale_probability,
            blur=args.blur,
            seed=args.seed,
        )
        head = ProjectionHead(
            args.projection_layers,
            hidden_dim=args.head_hidden,
            output_dim=args.projection_dim,
            use_batch_norm=args.head_batch_norm,
        )
        return SimCLRPretrainer(
            backbone,
            projection_head=head,
            temperature=args.temperature,
            augmentation=augmentation,
            num_classes=num_classes,
        )


def main(argv=None, extra_metadata=None):
    """Train; with ``--save-preset`` write the preset, ``extra_metadata`` merged into its record.

    Returns the summary of `keras_cpc.training.fit_resumable`.
    """
    args = training.parse_run_flags(build_parser(), argv)
    keras.utils.set_random_seed(args.seed)
    source = data.ImageFolder(args.data, image_size=args.image_size)
    train, holdout = data.stratified_holdout(source.labels, args.holdout_fraction, args.seed)
    train = data.subset(train, args.limit, args.seed)
    x_train = source.take(train)
    y_train = None if args.no_online_probe else source.labels[train].astype("int32")
    print(f"{len(x_train)} training images, {len(holdout)} held out", flush=True)

    batches = make_batches(args, x_train, y_train)
    pretrainer = build_pretrainer(args, None if y_train is None else len(source.classes))
    backbone = pretrainer.backbone
    summary = training.fit_pretrainer(pretrainer, batches, args)
    if not args.save_preset or not distribute.is_chief():  # one process writes the preset
        return summary

    # Published with the preset: paths as $DATA/... or relative, never this machine's.
    record = training.run_record(__file__, argv, args, summary)
    source_name = record["hyperparameters"]["data"]
    metadata = {
        "description": f"SimCLR ResNet-{args.depth} ({STEMS[args.stem]}, width {args.width:g}) "
        f"pretrained on {len(x_train)} unlabelled images of {source_name}",
        "training_data": {
            "source": source_name,
            "examples": len(x_train),
            "held_out": len(holdout),
            "split": f"stratified {args.holdout_fraction:g} per class held out, "
            f"seed {args.seed} (keras_cpc.data.stratified_holdout)",
            "classes": source.classes,
        },
        "preprocessing": data.image_preprocessing(args.image_size),
        **record,
        **(extra_metadata or {}),
    }
    objective = [
        training.simclr_objective_line(args, backbone.output_dim),
        training.optimizer_card_line(args, summary),
    ]
    card = {"card_sections": {"objective": objective}, "name": args.preset_name}
    backbone.save_to_preset(args.save_preset, args.overwrite, metadata, **card)
    if args.probe:  # same split and seed; --limit (smoke runs) probes a subset of that size
        metadata |= evaluation.probe_metadata(
            args.save_preset, args.data, holdout_fraction=args.holdout_fraction,
            seed=args.seed, image_size=args.image_size, limit=args.limit,
            train_limit=args.probe_train_limit,
        )  # fmt: skip
        backbone.save_to_preset(args.save_preset, True, metadata, **card)
    print(f"Wrote preset {args.save_preset}")
    return summary


if __name__ == "__main__":
    training.enable_determinism()  # GPU kernels that repeat, for exact resumes (CPU already is)
    main()
