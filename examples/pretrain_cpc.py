"""Pretrain a CPC audio encoder on an FSDD-layout folder or a local TFDS audio dataset.

Defaults are the FSDD preset's: 8 kHz audio, one frame per 10 ms (80 samples, as the paper's
160 at 16 kHz), K = 12. FSDD clips are short (median 0.42 s): windows are 0.5 s random crops,
shorter clips padded and masked (padded frames are never anchors, positives or negatives).
Clips with index 5-9 are held out (the probe's test split). With ``--checkpoint-dir`` a killed
run, rerun with the same command, ends as an uninterrupted one would. Smoke run:

    python examples/pretrain_cpc.py --data ~/data/fsdd/recordings --limit 128 --epochs 1 \\
        --steps-per-epoch 2 --checkpoint-dir /tmp/cpc_smoke
"""

import argparse

import keras
import numpy as np

from keras_cpc import data, evaluation, optimizers, presets, training
from keras_cpc.models import CPCBackbone, CPCPretrainer

PATH_FLAGS = ("data", "checkpoint_dir", "save_preset")
# Flags passed on unchanged as CPCBackbone's and CPCPretrainer's arguments of the same name.
BACKBONE_FLAGS = ("kernel_sizes", "strides", "encoder_dim", "normalization", "context_network",
                  "context_dim", "sample_rate")  # fmt: skip
PRETRAINER_FLAGS = ("prediction_steps", "num_negatives", "negative_sampling", "seed")
paths = training.relative_to_data_root


def int_list(text):
    return tuple(int(v) for v in text.split(","))


def build_parser():
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,  # --help shows the defaults
    )
    add = parser.add_argument
    add("--data", default="~/data/fsdd/recordings", help="{digit}_{speaker}_{index}.wav files")
    add("--sample-rate", type=int, default=8000)
    add("--window", type=int, default=4000, help="training window in samples")
    add("--heldout-indices", default="5-9", help="clip indices never trained ('' for none)")
    add("--limit", type=int, help="train on at most this many clips (smoke runs)")
    add("--kernel-sizes", type=int_list, default=(10, 8, 4, 4))
    add("--strides", type=int_list, default=(5, 4, 2, 2))
    add("--encoder-dim", type=int, default=256)
    add("--normalization", default="channel", choices=("none", "layer", "channel"))
    add("--context-network", default="gru", choices=("gru", "lstm", "transformer"))
    add("--context-dim", type=int, default=256)
    add("--prediction-steps", type=int, default=12)
    add("--num-negatives", type=int, default=128)
    add("--negative-sampling", default="batch", choices=("batch", "same_sequence"))
    add("--epochs", type=int, default=60)
    add("--steps-per-epoch", type=int, help="default: one pass over the training clips")
    add("--batch-size", type=int, default=32)
    add("--optimizer", default="adam", choices=optimizers.OPTIMIZERS, help="adam: no decay")
    add("--learning-rate", type=float, default=2e-4, help="peak of warmup + cosine")
    add("--weight-decay", type=float, help="default 0 for adam, else 1e-6")
    add("--warmup-epochs", type=float, default=1.0)
    add("--seed", type=int, default=0)
    add("--jit-compile", default="auto", choices=("auto", "true", "false"))
    add("--run-eagerly", action="store_true", help="no compiled step (debugging, tiny runs)")
    add("--checkpoint-dir", help="resumable checkpoints and loss logs")
    add("--save-preset", help="write the trained backbone as a preset here")
    add("--preset-name", help="name in the model card (default: folder name)")
    add("--overwrite", action="store_true", help="replace an existing preset")
    add("--probe", action="store_true", help="digit, speaker, speaker-disjoint probes, in card")
    add("--verbose", type=int, default=1, help="Keras fit verbosity (1 = bar)")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.probe and not args.save_preset:
        raise SystemExit("--probe needs --save-preset (the probe reads the saved preset).")
    if args.weight_decay is None:
        args.weight_decay = optimizers.default_weight_decay(args.optimizer)
    keras.utils.set_random_seed(args.seed)
    clips, info = data.load_audio_clips(args.data, args.sample_rate)
    held_indices = data.parse_range(args.heldout_indices) if args.heldout_indices else []
    held = np.isin(info["index"], held_indices)
    train = data.subset(np.flatnonzero(~held), args.limit, args.seed)
    train_clips = [clips[i] for i in train]
    median = float(np.median([len(c) for c in train_clips]) / args.sample_rate)
    print(f"{len(train_clips)} training clips, {held.sum()} held out, median {median:.2f} s")

    backbone = CPCBackbone(**{k: getattr(args, k) for k in BACKBONE_FLAGS})
    frames = backbone.num_frames(args.window)
    if frames <= args.prediction_steps:
        raise SystemExit(f"Expected more than K = {args.prediction_steps} frames per window; "
                         f"received {frames} for --window {args.window}.")  # fmt: skip
    pretrainer = CPCPretrainer(backbone, **{k: getattr(args, k) for k in PRETRAINER_FLAGS})
    windows = data.RandomWindows(
        train_clips, args.window, args.batch_size, args.steps_per_epoch, args.seed
    )
    steps = len(windows) * args.epochs
    warmup = min(int(args.warmup_epochs * len(windows)), steps)
    schedule = optimizers.WarmupCosineDecay(args.learning_rate, warmup, steps)
    optimizer = optimizers.make_optimizer(args.optimizer, schedule, args.weight_decay)
    jit = {"auto": "auto", "true": True, "false": False}[args.jit_compile]
    pretrainer.compile(optimizer=optimizer, jit_compile=jit, run_eagerly=args.run_eagerly)
    summary = training.fit_resumable(
        pretrainer, windows, args.epochs, args.checkpoint_dir, args.verbose
    )
    if not args.save_preset:
        return summary

    # Published with the preset: paths as $DATA/... or relative, never this machine's.
    hyper = {k: paths([v])[0] if k in PATH_FLAGS and v else v for k, v in vars(args).items()}
    hyper.pop("verbose")
    metadata = {
        "description": f"CPC ({args.context_network.upper()} context, {args.encoder_dim}-channel "
        f"encoder, {1000 / backbone.frames_per_second:g} ms frames) pretrained on "
        f"{len(train_clips)} clips of {hyper['data']} at {args.sample_rate} Hz",
        "training_data": {
            "source": hyper["data"],
            "examples": len(train_clips),
            "held_out": int(held.sum()),
            "split": f"clips with index {args.heldout_indices or 'none'} held out",
            "median_clip_seconds": median,
        },
        "preprocessing": data.audio_preprocessing(args.sample_rate),
        "training_command": training.exact_command(__file__, argv),
        "source_commit": training.source_version(),
        "seed": args.seed,
        "hyperparameters": hyper,
        "frame_rate_hz": backbone.frames_per_second,
        "training": summary,
        "hardware": training.hardware_info(),
    }
    save(backbone, args, metadata)
    if args.probe:  # digit, speaker and speaker-disjoint digit ID on the held-out clips
        options = {"seed": args.seed, "heldout_indices": args.heldout_indices or "5-9",
                   "limit": args.limit,
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
    """The preset, with a card naming the objective, encoder and optimiser."""
    a, run = args, metadata["training"]
    objective = [
        f"- Objective: CPC InfoNCE, K = {a.prediction_steps} steps, {a.num_negatives} negatives "
        f"({a.negative_sampling}), {a.window}-sample windows at {a.sample_rate} Hz",
        f"- Encoder: kernels {list(a.kernel_sizes)}, strides {list(a.strides)} "
        f"({metadata['frame_rate_hz']:g} frames/s), {a.encoder_dim} channels, "
        f"{a.normalization} norm; context {a.context_network} {a.context_dim}",
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
