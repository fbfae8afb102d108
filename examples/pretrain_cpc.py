"""Pretrain a CPC audio encoder on an FSDD-layout folder or a local TFDS audio dataset.

Defaults are the FSDD preset: 8 kHz audio; strided encoder with kernels 10,8,4,4 and strides
5,4,2,2 (one frame per 80 samples = 10 ms, as the paper's 160 samples at 16 kHz) and 256
channels with channel norm (CPC_audio); a 256-unit GRU context; K = 12 prediction steps
(120 ms, as in the paper); 128 negatives from the whole batch. FSDD clips are short (median
0.42 s = 42 frames), so windows are 0.5 s (4000 samples, 50 frames): a random crop of longer
clips, shorter clips are right-padded with a padding mask (padded frames are never anchors,
positives or negatives; a clip of p5 length, 0.25 s, still has 12+ valid context positions).
Clips with index 5-9 are held out by default (the probe's validation split, mirroring the
official 0-4 test split that is not in the training archive).

Interrupt it at any time: with ``--checkpoint-dir`` the run resumes from the last finished
epoch (`keras.callbacks.BackupAndRestore`) and ends with the same number of steps.

Examples:
    python examples/pretrain_cpc.py --data ~/data/fsdd/recordings --limit 128 --epochs 1 \\
        --steps-per-epoch 2 --checkpoint-dir /tmp/cpc_smoke
    python examples/pretrain_cpc.py --epochs 60 --checkpoint-dir runs/cpc_fsdd \\
        --save-preset presets/cpc_gru_fsdd_8khz --probe
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402


def int_list(text):
    return tuple(int(v) for v in text.split(","))


def build_parser():
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    data = parser.add_argument_group("data")
    data.add_argument(
        "--data",
        default="~/data/fsdd/recordings",
        help="folder of {digit}_{speaker}_{index}.wav files, or tfds:NAME",
    )
    data.add_argument("--sample-rate", type=int, default=8000)
    data.add_argument("--window", type=int, default=4000, help="training window in samples")
    data.add_argument(
        "--heldout-indices",
        default="5-9",
        help="clip indices never trained on ('' to train on all)",
    )
    data.add_argument("--limit", type=int, help="train on at most this many clips (smoke runs)")
    model = parser.add_argument_group("model")
    model.add_argument("--kernel-sizes", type=int_list, default=(10, 8, 4, 4))
    model.add_argument("--strides", type=int_list, default=(5, 4, 2, 2))
    model.add_argument("--encoder-dim", type=int, default=256)
    model.add_argument("--normalization", default="channel", choices=("none", "layer", "channel"))
    model.add_argument("--context-network", default="gru", choices=("gru", "lstm", "transformer"))
    model.add_argument("--context-dim", type=int, default=256)
    model.add_argument("--prediction-steps", type=int, default=12)
    model.add_argument("--num-negatives", type=int, default=128)
    model.add_argument("--negative-sampling", default="batch", choices=("batch", "same_sequence"))
    train = parser.add_argument_group("training")
    train.add_argument("--epochs", type=int, default=60)
    train.add_argument(
        "--steps-per-epoch",
        type=int,
        help="steps per epoch (default: one pass over the training clips)",
    )
    train.add_argument("--batch-size", type=int, default=32)
    train.add_argument("--learning-rate", type=float, default=2e-4)
    train.add_argument("--warmup-epochs", type=float, default=1.0)
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--jit-compile", default="auto", choices=("auto", "true", "false"))
    train.add_argument(
        "--run-eagerly", action="store_true", help="no compiled step (debugging, tiny test runs)"
    )
    out = parser.add_argument_group("output")
    out.add_argument("--checkpoint-dir", help="folder for the resumable checkpoint and the logs")
    out.add_argument("--save-preset", help="write the trained backbone as a preset here")
    out.add_argument("--preset-name", help="name in the model card (default: folder name)")
    out.add_argument("--overwrite", action="store_true", help="replace an existing preset")
    out.add_argument(
        "--probe",
        action="store_true",
        help="after training, run linear_probe.py (digit, speaker, speaker-disjoint "
        "digit) and record it in the preset's metadata and card",
    )
    out.add_argument("--verbose", type=int, default=1, help="Keras fit verbosity (1 = bar)")
    return parser


def RandomWindows(clips, window, batch_size, steps_per_epoch=None, seed=0):  # noqa: N802
    """Keras PyDataset of ``{"waveform", "padding_mask"}`` batches of random windows.

    Each step takes ``batch_size`` clips (a fresh permutation per epoch) and a random
    ``window``-sample crop of each; shorter clips are right-padded and masked.
    """
    import keras
    import numpy as np

    class _RandomWindows(keras.utils.PyDataset):
        def __init__(self):
            super().__init__()
            self.rng = np.random.default_rng(seed)
            self.steps = common.full_batch_steps(
                len(clips), batch_size, steps_per_epoch, "training clips"
            )
            self._order()

        def _order(self):
            self.order = common.epoch_order(self.rng, len(clips), self.steps, batch_size)

        def __len__(self):
            return self.steps

        def __getitem__(self, index):
            from keras_cpc.data.windows import random_window

            rows = self.order[index * batch_size : (index + 1) * batch_size]
            # One generator per (epoch order, step): the same batch if a step is redone.
            rng = np.random.default_rng([seed, int(self.order[0]), index])
            pairs = [random_window(clips[row], window, rng) for row in rows]
            return (
                {
                    "waveform": np.stack([w for w, _ in pairs]),
                    "padding_mask": np.stack([m for _, m in pairs]),
                },
            )

        def on_epoch_end(self):
            self._order()

    return _RandomWindows()


def main(argv=None):
    args = build_parser().parse_args(argv)
    import keras
    import numpy as np

    from keras_cpc.models import CPCBackbone
    from keras_cpc.models.cpc.cpc_pretrainer import CPCPretrainer
    from keras_cpc.optimizers.warmup_cosine import WarmupCosineDecay

    keras.utils.set_random_seed(args.seed)
    print(f"Loading {args.data} ...", flush=True)
    clips, info = common.load_audio(args.data, args.sample_rate)
    held = np.zeros(len(clips), bool)
    if args.heldout_indices:
        from linear_probe import parse_range  # the probe reads "5-9" the same way

        held = np.isin(info["index"], list(parse_range(args.heldout_indices)))
    train_rows = common.subset(np.flatnonzero(~held), args.limit, args.seed)
    train_clips = [clips[i] for i in train_rows]
    lengths = np.array([len(c) for c in train_clips])
    print(
        f"{len(train_clips)} training clips ({int(held.sum())} held out: index "
        f"{args.heldout_indices or 'none'}), median {np.median(lengths) / args.sample_rate:.2f} s,"
        f" backend {keras.backend.backend()}",
        flush=True,
    )

    backbone = CPCBackbone(
        kernel_sizes=args.kernel_sizes,
        strides=args.strides,
        encoder_dim=args.encoder_dim,
        normalization=args.normalization,
        context_network=args.context_network,
        context_dim=args.context_dim,
        sample_rate=args.sample_rate,
    )
    frames = backbone.num_frames(args.window)
    print(
        f"{1000 / backbone.frames_per_second:.1f} ms frames, {frames} frames per window, "
        f"K = {args.prediction_steps}",
        flush=True,
    )
    if frames <= args.prediction_steps:
        raise ValueError(
            f"A {args.window}-sample window gives {frames} frames; need more than K = "
            f"{args.prediction_steps}. Use a longer --window or fewer --prediction-steps."
        )
    pretrainer = CPCPretrainer(
        backbone,
        prediction_steps=args.prediction_steps,
        num_negatives=args.num_negatives,
        negative_sampling=args.negative_sampling,
        seed=args.seed,
    )
    dataset = RandomWindows(
        train_clips, args.window, args.batch_size, args.steps_per_epoch, args.seed
    )
    steps_per_epoch = len(dataset)
    total_steps = steps_per_epoch * args.epochs
    warmup_steps = min(int(args.warmup_epochs * steps_per_epoch), total_steps)
    schedule = WarmupCosineDecay(args.learning_rate, warmup_steps, total_steps)
    jit = {"auto": "auto", "true": True, "false": False}[args.jit_compile]
    pretrainer.compile(
        optimizer=keras.optimizers.Adam(schedule), jit_compile=jit, run_eagerly=args.run_eagerly
    )

    summary = common.fit_resumable(pretrainer, dataset, args, steps_per_epoch)
    if args.save_preset:
        hyper = {k: v for k, v in vars(args).items() if k != "verbose"}
        metadata = {
            "description": (
                f"CPC ({args.context_network.upper()} context, {args.encoder_dim}-channel "
                f"encoder, {1000 / backbone.frames_per_second:g} ms frames) pretrained on "
                f"{len(train_clips)} clips of {args.data} at {args.sample_rate} Hz"
            ),
            "training_data": {
                "source": str(args.data),
                "examples": int(len(train_clips)),
                "held_out": int(held.sum()),
                "split": f"clips with index {args.heldout_indices or 'none'} held out",
                "median_clip_seconds": float(np.median(lengths) / args.sample_rate),
            },
            "training_command": common.exact_command(__file__, argv),
            "source_commit": common.source_version(),
            "seed": args.seed,
            "hyperparameters": hyper,
            "frame_rate_hz": backbone.frames_per_second,
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
                "--seed",
                str(args.seed),
                "--heldout-indices",
                args.heldout_indices or "5-9",
                "--output-dir",
                str(Path(args.save_preset).with_name(Path(args.save_preset).name + "_probe")),
            ]
            if args.limit:
                probe_args += ["--limit", str(args.limit)]
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
        f"- Objective: CPC InfoNCE, K = {hyper['prediction_steps']} steps, "
        f"{hyper['num_negatives']} negatives ({hyper['negative_sampling']}), "
        f"{hyper['window']}-sample windows at {hyper['sample_rate']} Hz",
        f"- Encoder: kernels {list(hyper['kernel_sizes'])}, strides {list(hyper['strides'])} "
        f"({metadata['frame_rate_hz']:g} frames/s), {hyper['encoder_dim']} channels, "
        f"{hyper['normalization']} norm; context {hyper['context_network']} "
        f"{hyper['context_dim']}",
        f"- Optimiser: Adam, peak {hyper['learning_rate']}, batch {hyper['batch_size']}, "
        f"{training['epochs']} epochs x {training['steps_per_epoch']} steps = "
        f"{training['steps']} steps, warmup {hyper['warmup_epochs']} epoch(s) then cosine",
    ]
    usage = [
        "from keras_cpc.models import CPCBackbone",
        'backbone = CPCBackbone.from_preset("{name}")',
        "embedding = backbone.predict(waveforms_8khz)  # (n, dim); or encode() for frames",
    ]
    common.save_preset_with_card(backbone, args, metadata, objective, usage)


if __name__ == "__main__":
    main()
