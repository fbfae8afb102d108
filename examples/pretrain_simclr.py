"""Pretrain a SimCLR ResNet on an image folder or a local TFDS dataset.

``--holdout-fraction`` of each class is never trained on (the probe's test split); labels only
feed the online probe. With ``--checkpoint-dir`` a killed run, rerun with the same command, ends
as an uninterrupted one would. Each shipped preset's card gives its exact command. Smoke run:

    python examples/pretrain_simclr.py --data ~/data/cifar10/train --limit 512 --epochs 1 \\
        --steps-per-epoch 2 --batch-size 64 --checkpoint-dir /tmp/simclr_smoke
"""

import argparse

import keras

from keras_cpc import data, evaluation, optimizers, presets, training
from keras_cpc.layers import ProjectionHead, SimCLRAugmentation
from keras_cpc.models import ResNetBackbone, SimCLRPretrainer

STEMS = {"cifar": "CIFAR stem", "imagenet": "ImageNet stem"}
PATH_FLAGS = ("data", "checkpoint_dir", "save_preset")
paths = training.relative_to_data_root


def build_parser():
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,  # --help shows the defaults
    )
    add = parser.add_argument
    add("--data", default="~/data/cifar10/train", help="class folders, or tfds:NAME (local)")
    add("--image-size", type=int, default=32, help="images are resized to this")
    add("--holdout-fraction", type=float, default=0.1, help="share of each class never trained")
    add("--limit", type=int, help="train on at most this many images (smoke runs)")
    add("--depth", type=int, default=18, choices=(18, 34, 50))
    add("--width", type=float, default=0.25, help="ResNet width multiplier")
    add("--stem", default="cifar", choices=tuple(STEMS))
    add("--projection-layers", type=int, default=2)
    add("--projection-dim", type=int, default=128)
    add("--temperature", type=float, default=0.5)
    add("--jitter-strength", type=float, default=0.5)
    add("--blur", action="store_true", help="Gaussian blur (ImageNet setting)")
    add("--no-online-probe", action="store_true", help="no online probe even with labels")
    add("--epochs", type=int, default=30)
    add("--steps-per-epoch", type=int, help="default: one pass over the training images")
    add("--batch-size", type=int, default=256)
    add("--optimizer", default="adamw", choices=optimizers.OPTIMIZERS, help="adam: no decay")
    add("--learning-rate", type=float, help="peak (default: Adam(W) 1e-3*batch/256, ...)")
    add("--weight-decay", type=float, help="default 1e-6 (0 for plain Adam)")
    add("--warmup-epochs", type=float, default=1.0)
    add("--seed", type=int, default=0)
    add("--jit-compile", default="auto", choices=("auto", "true", "false"))
    add("--run-eagerly", action="store_true", help="no compiled step (debugging, tiny runs)")
    add("--checkpoint-dir", help="resumable checkpoints and loss logs")
    add("--save-preset", help="write the trained backbone as a preset here")
    add("--preset-name", help="name in the model card (default: folder name)")
    add("--overwrite", action="store_true", help="replace an existing preset")
    add("--probe", action="store_true", help="linear probe on the held-out split, into the card")
    add("--probe-train-limit", type=int, help="fit the probe on at most this many images")
    add("--verbose", type=int, default=1, help="Keras fit verbosity (1 = bar)")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.probe and not args.save_preset:
        raise SystemExit("--probe needs --save-preset (the probe reads the saved preset).")
    # Resolved here so that the preset records the values used, not None.
    args.learning_rate = args.learning_rate or optimizers.default_learning_rate(
        args.optimizer, args.batch_size
    )
    if args.weight_decay is None:
        args.weight_decay = optimizers.default_weight_decay(args.optimizer)
    keras.utils.set_random_seed(args.seed)
    source = data.ImageFolder(args.data, image_size=args.image_size)
    train, holdout = data.stratified_holdout(source.labels, args.holdout_fraction, args.seed)
    train = data.subset(train, args.limit, args.seed)
    x_train = source.take(train)
    y_train = None if args.no_online_probe else source.labels[train].astype("int32")
    print(f"{len(x_train)} training images, {len(holdout)} held out", flush=True)

    batches = data.ImageBatches(x_train, y_train, args.batch_size, args.steps_per_epoch, args.seed)
    steps = len(batches) * args.epochs
    warmup = min(int(args.warmup_epochs * len(batches)), steps)
    schedule = optimizers.WarmupCosineDecay(args.learning_rate, warmup, steps)
    size = (args.image_size, args.image_size, 3)
    backbone = ResNetBackbone(args.depth, args.width, stem=args.stem, image_shape=size)
    augmentation = SimCLRAugmentation(
        jitter_strength=args.jitter_strength, blur=args.blur, seed=args.seed
    )
    pretrainer = SimCLRPretrainer(
        backbone,
        projection_head=ProjectionHead(args.projection_layers, output_dim=args.projection_dim),
        temperature=args.temperature,
        augmentation=augmentation,
        num_classes=None if y_train is None else len(source.classes),
    )
    jit = {"auto": "auto", "true": True, "false": False}[args.jit_compile]
    optimizer = optimizers.make_optimizer(args.optimizer, schedule, args.weight_decay)
    pretrainer.compile(optimizer=optimizer, jit_compile=jit, run_eagerly=args.run_eagerly)
    summary = training.fit_resumable(
        pretrainer, batches, args.epochs, args.checkpoint_dir, args.verbose
    )
    if not args.save_preset:
        return summary

    # Published with the preset: paths as $DATA/... or relative, never this machine's.
    hyper = {k: paths([v])[0] if k in PATH_FLAGS and v else v for k, v in vars(args).items()}
    hyper.pop("verbose")
    metadata = {
        "description": f"SimCLR ResNet-{args.depth} ({STEMS[args.stem]}, width {args.width:g}) "
        f"pretrained on {len(x_train)} unlabelled images of {hyper['data']}",
        "training_data": {
            "source": hyper["data"],
            "examples": len(x_train),
            "held_out": len(holdout),
            "split": f"stratified {args.holdout_fraction:g} per class held out, "
            f"seed {args.seed} (keras_cpc.data.stratified_holdout)",
            "classes": source.classes,
        },
        "preprocessing": data.image_preprocessing(args.image_size),
        "training_command": training.exact_command(__file__, argv),
        "source_commit": training.source_version(),
        "seed": args.seed,
        "hyperparameters": hyper,
        "training": summary,
        "hardware": training.hardware_info(),
    }
    save(backbone, args, metadata)
    if args.probe:  # same split and seed; --limit (smoke runs) probes a subset of that size
        options = {"holdout_fraction": args.holdout_fraction, "seed": args.seed,
                   "image_size": args.image_size, "limit": args.limit,
                   "train_limit": args.probe_train_limit,
                   "output_dir": args.save_preset.rstrip("/") + "_probe"}  # fmt: skip
        given = {"--" + k.replace("_", "-"): v for k, v in options.items() if v is not None}
        flags = [token for pair in given.items() for token in pair]
        command = training.exact_command(
            "examples/linear_probe.py", [args.save_preset, "--data", args.data, *flags]
        )
        results = evaluation.probe_preset(args.save_preset, args.data, **options, command=command)
        metadata["probe_results"], metadata["probe_command"] = results["summary"], command
        args.overwrite = True
        save(backbone, args, metadata)
    return summary


def save(backbone, args, metadata):
    """The preset, with a card naming the real objective, head, stem and optimiser."""
    a, run = args, metadata["training"]
    objective = [
        f"- Objective: SimCLR NT-Xent, temperature {a.temperature}, colour strength "
        f"{a.jitter_strength}, blur {'on' if a.blur else 'off'}, projection head "
        f"{a.projection_layers} layers -> {a.projection_dim}",
        f"- Optimiser: {a.optimizer}, peak {a.learning_rate:g}, weight decay {a.weight_decay:g}, "
        f"batch {a.batch_size}, {run['epochs']} epochs x {run['steps_per_epoch']} steps = "
        f"{run['steps']} steps, warmup {a.warmup_epochs} epoch(s) then cosine",
    ]
    sections, readme = {"objective": objective}, None
    if args.preset_name:  # the library names the card after the folder
        name = keras.saving.get_registered_name(type(backbone))
        info = {"class_name": name, "input_spec": presets.input_spec_of(backbone), **metadata}
        readme = presets.model_card(args.preset_name, info, sections)
    backbone.save_to_preset(
        args.save_preset, args.overwrite, metadata, readme=readme, card_sections=sections
    )
    print(f"Wrote preset {args.save_preset}")


if __name__ == "__main__":
    training.enable_determinism()  # GPU kernels that repeat, for exact resumes (CPU already is)
    main()
