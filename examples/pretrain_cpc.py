"""Pretrain a CPC audio encoder on an FSDD-layout folder or a local TFDS audio dataset.

Defaults are the FSDD preset's: 8 kHz audio, one frame per 10 ms (80 samples, as the paper's
160 at 16 kHz), K = 12. FSDD clips are short (median 0.42 s): windows are 0.5 s random crops,
shorter clips padded and masked (padded frames are never anchors, positives or negatives).
Clips with index 5-9 are held out (the probe's test split). With ``--checkpoint-dir`` a killed
run, rerun with the same command, ends as an uninterrupted one would. Smoke run:

    python examples/pretrain_cpc.py --data ~/data/fsdd/recordings --limit 128 --epochs 1 \\
        --steps-per-epoch 2 --checkpoint-dir /tmp/cpc_smoke

Data parallel: add ``--distribute`` (README, "Scaling out"), e.g. on two torch ranks
``torchrun --nproc_per_node=2 examples/pretrain_cpc.py --distribute ...``.
"""

import keras
import numpy as np

from keras_cpc import data, distribute, evaluation, training
from keras_cpc.models import CPCBackbone, CPCPretrainer

# Flags passed on unchanged as CPCBackbone's and CPCPretrainer's arguments of the same name.
BACKBONE_FLAGS = ("kernel_sizes", "strides", "encoder_dim", "normalization", "context_network",
                  "context_dim", "sample_rate")  # fmt: skip
PRETRAINER_FLAGS = ("prediction_steps", "num_negatives", "negative_sampling", "seed")


def int_list(text):
    return tuple(int(v) for v in text.split(","))


def build_parser():
    parser = training.run_parser(
        __doc__.split("\n\n")[0], epochs=60, batch_size=32, optimizer="adam",
        learning_rate=2e-4, unit="clips", mixed_precision=True,
    )  # fmt: skip
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
    add("--probe", action="store_true", help="digit, speaker, speaker-disjoint probes, in card")
    return parser


def main(argv=None):
    args = training.parse_run_flags(build_parser(), argv)
    keras.utils.set_random_seed(args.seed)
    clips, info = data.load_audio_clips(args.data, args.sample_rate)
    held_indices = data.parse_range(args.heldout_indices) if args.heldout_indices else []
    held = np.isin(info["index"], held_indices)
    train = data.subset(np.flatnonzero(~held), args.limit, args.seed)
    train_clips = [clips[i] for i in train]
    median = float(np.median([len(c) for c in train_clips]) / args.sample_rate)
    print(f"{len(train_clips)} training clips, {held.sum()} held out, median {median:.2f} s")

    # --dtype-policy: layers take it when built; weights, InfoNCE scores and loss stay float32.
    # The backbone's own policy (the one its saved config records) stays float32, so that the
    # preset loads as a float32 model; its layers compute in the policy.
    with training.dtype_policy_scope(args.dtype_policy):
        backbone = CPCBackbone(**{k: getattr(args, k) for k in BACKBONE_FLAGS}, dtype="float32")
        pretrainer = CPCPretrainer(backbone, **{k: getattr(args, k) for k in PRETRAINER_FLAGS})
    frames = backbone.num_frames(args.window)
    if frames <= args.prediction_steps:
        raise SystemExit(f"Expected more than K = {args.prediction_steps} frames per window; "
                         f"received {frames} for --window {args.window}.")  # fmt: skip
    windows = data.RandomWindows(
        train_clips, args.window, args.batch_size, args.steps_per_epoch, args.seed
    )
    summary = training.fit_pretrainer(pretrainer, windows, args)
    if not args.save_preset or not distribute.is_chief():  # one process writes the preset
        return summary

    # Published with the preset: paths as $DATA/... or relative, never this machine's.
    record = training.run_record(__file__, argv, args, summary)
    rate = backbone.frames_per_second
    metadata = {
        "description": f"CPC ({args.context_network.upper()} context, {args.encoder_dim}-channel "
        f"encoder, {1000 / rate:g} ms frames) pretrained on {len(train_clips)} clips of "
        f"{record['hyperparameters']['data']} at {args.sample_rate} Hz",
        "training_data": {
            "source": record["hyperparameters"]["data"],
            "examples": len(train_clips),
            "held_out": int(held.sum()),
            "split": f"clips with index {args.heldout_indices or 'none'} held out",
            "median_clip_seconds": median,
        },
        "preprocessing": data.audio_preprocessing(args.sample_rate),
        "frame_rate_hz": rate,
        **record,
    }
    sections = {"objective": [
        f"- Objective: CPC InfoNCE, K = {args.prediction_steps} steps, {args.num_negatives} "
        f"negatives ({args.negative_sampling}), {args.window}-sample windows at "
        f"{args.sample_rate} Hz",
        f"- Encoder: kernels {list(args.kernel_sizes)}, strides {list(args.strides)} "
        f"({rate:g} frames/s), {args.encoder_dim} channels, {args.normalization} norm; "
        f"context {args.context_network} {args.context_dim}",
        training.optimizer_card_line(args, summary),
    ]}  # fmt: skip
    save = dict(metadata=metadata, card_sections=sections, name=args.preset_name)
    backbone.save_to_preset(args.save_preset, overwrite=args.overwrite, **save)
    if args.probe:  # digit, speaker and speaker-disjoint digit ID on the held-out clips
        probe = {"seed": args.seed, "heldout_indices": args.heldout_indices or "5-9"}
        metadata.update(evaluation.probe_metadata(
            args.save_preset, args.data, **probe, limit=args.limit
        ))  # fmt: skip
        backbone.save_to_preset(args.save_preset, overwrite=True, **save)
    print(f"Wrote preset {args.save_preset}")
    return summary


if __name__ == "__main__":
    training.enable_determinism()  # GPU kernels that repeat, for exact resumes (CPU already is)
    main()
