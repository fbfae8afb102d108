"""Linear probe of a preset next to two baselines computed in the same run.

Extracts frozen pooled features with the preset, with the same architecture at random
initialisation, and takes the raw input (pixels for images; MFCC mean+std for audio), then fits
`keras_cpc.probe.linear_probe` (logistic regression; C chosen on a validation split of the
probe's training part, never on the test part) on each and reports test accuracy side by side.
Prints a table, writes ``results.json`` (every number) and ``probe.png`` (accuracy bars and a
2-D PCA projection of the preset's test features coloured by class) into ``--output-dir``.

With no arguments it is the project's main job: the first shipped image preset on
scikit-learn's handwritten digits (1797 real 8x8 images that ship with scikit-learn, upsampled
to 32x32 RGB), a seeded stratified 30% test split. No network, no files needed.

Datasets (``--data``):
    digits                  scikit-learn's load_digits (default for image presets)
    PATH (class folders)    image tree ``PATH/<class>/*.jpg``; the test part is the same
                            stratified hold-out that pretrain_simclr.py leaves out
    PATH (FSDD layout)      ``{digit}_{speaker}_{index}.wav`` clips (default for audio presets:
                            ~/data/fsdd/recordings). Protocols: digit and speaker ID with
                            index 0-4 as test when present (official split), else index 5-9
                            held out (a validation split carved from train that mirrors it);
                            and speaker-disjoint digit ID (leave one speaker out, mean of folds)
    tfds:NAME               a TFDS dataset already prepared locally (never downloads)

Examples:
    python examples/linear_probe.py
    python examples/linear_probe.py simclr_resnet18_cifar10_cpu --data ~/data/cifar10/train
    python examples/linear_probe.py cpc_gru_fsdd_8khz --data ~/data/fsdd/recordings
"""

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402

# Preferred defaults when no preset is named: the strongest shipped image preset first.
DEFAULT_IMAGE_PRESETS = ("simclr_resnet18_cifar10_gpu", "simclr_resnet18_cifar10_cpu")
DEFAULT_AUDIO_DATA = "~/data/fsdd/recordings"


def build_parser():
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("preset", nargs="?", help="preset name or directory (default: shipped)")
    parser.add_argument("--data", help="digits | image folder | FSDD folder | tfds:NAME")
    parser.add_argument("--image-size", type=int, help="resize images (default: preset's size)")
    parser.add_argument(
        "--holdout-fraction",
        type=float,
        default=0.1,
        help="image folders: stratified test share (as in pretraining)",
    )
    parser.add_argument("--digits-test-fraction", type=float, default=0.3)
    parser.add_argument(
        "--heldout-indices",
        default="5-9",
        help="FSDD: clip indices used as test when index 0-4 is absent",
    )
    parser.add_argument("--no-loso", action="store_true", help="FSDD: skip leave-one-speaker-out")
    parser.add_argument("--limit", type=int, help="use at most this many examples (smoke runs)")
    parser.add_argument(
        "--train-limit", type=int, help="fit the probes on at most this many training examples"
    )
    parser.add_argument("--c-values", default="0.001,0.01,0.1,1,10,100")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--projection", default="pca", choices=("pca", "tsne"))
    parser.add_argument("--output-dir", default="probe_results")
    parser.add_argument("--quiet", action="store_true")
    return parser


def default_preset():
    import keras_cpc

    listing = keras_cpc.list_presets()
    for name in DEFAULT_IMAGE_PRESETS:
        if listing.get(name, {}).get("directory"):
            return name
    for name, info in listing.items():
        if info.get("directory") and "ResNet" in str(info.get("class_name")):
            return name
    raise ValueError(
        "No preset named and no shipped image preset found (available: "
        f"{sorted(listing) or 'none'}). Pass a preset name or directory, e.g. one written by "
        "examples/pretrain_simclr.py --save-preset DIR."
    )


# ---- features ---------------------------------------------------------------------------------


def image_features(backbone, images, batch_size, verbose):
    """Pooled embeddings (n, dim) float32 of uint8 images (pixel scaling is in the preset)."""
    import numpy as np

    features = backbone.predict(images, batch_size=batch_size, verbose=verbose)
    return np.asarray(features, dtype="float32")


def audio_features(backbone, clips, batch_size, verbose):
    """Pooled embeddings of variable-length clips, batched by length to limit padding."""
    import keras
    import numpy as np
    from tqdm import tqdm

    from keras_cpc.models.audio_classifier import batch_waveforms

    order = np.argsort([len(c) for c in clips])
    features = [None] * len(clips)
    starts = range(0, len(order), batch_size)
    for start in tqdm(starts, desc="features", disable=not verbose, file=sys.stderr):
        rows = order[start : start + batch_size]
        inputs = batch_waveforms(
            [clips[i] for i in rows],
            backbone.sample_rate,
            backbone.sample_rate,
            min_samples=getattr(backbone, "min_samples", 1),
        )
        output = keras.ops.convert_to_numpy(backbone(inputs, training=False))
        for row, value in zip(rows, output):
            features[row] = value
    return np.stack(features).astype("float32")


def mfcc_features(clips, sample_rate):
    """MFCC-13 mean+std per clip: 25 ms Hamming window, 10 ms hop, 40 mel bands (librosa)."""
    import librosa
    import numpy as np

    window = int(round(0.025 * sample_rate))
    hop = int(round(0.010 * sample_rate))
    n_fft = 1 << (window - 1).bit_length()
    rows = []
    for clip in clips:
        mfcc = librosa.feature.mfcc(
            y=np.asarray(clip, "float32"),
            sr=sample_rate,
            n_mfcc=13,
            n_fft=n_fft,
            win_length=window,
            hop_length=hop,
            window="hamming",
            n_mels=40,
            center=True,
        )
        rows.append(np.concatenate([mfcc.mean(axis=1), mfcc.std(axis=1)]))
    return np.asarray(rows, dtype="float32")


# ---- protocols --------------------------------------------------------------------------------


def probe_accuracy(features, labels, train, test, c_values, seed, callback=None):
    from keras_cpc.probe import linear_probe

    result = linear_probe(
        features[train],
        labels[train],
        features[test],
        labels[test],
        c_values=c_values,
        seed=seed,
        callback=callback,
    )
    return result.test_accuracy, result.to_dict()


def parse_range(text):
    low, _, high = text.partition("-")
    return set(range(int(low), int(high or low) + 1))


def audio_protocols(info, args):
    """name -> list of (labels, train_rows, test_rows) folds; and the split description."""
    import numpy as np

    index = info["index"]
    if (index < 5).any():
        test_mask = index < 5
        split = "official FSDD split: index 0-4 test, 5-49 train"
    else:
        held = parse_range(args.heldout_indices)
        test_mask = np.isin(index, sorted(held))
        split = (
            f"validation split carved from FSDD train: index {args.heldout_indices} held out, "
            "the rest of train (index >= 5) for the probe (mirrors the official 0-4 protocol)"
        )
    train_rows, test_rows = np.flatnonzero(~test_mask), np.flatnonzero(test_mask)
    protocols = {
        "digit ID": [(info["digit"], train_rows, test_rows)],
        "speaker ID": [(info["speaker"], train_rows, test_rows)],
    }
    if not args.no_loso:
        folds = []
        for speaker in sorted(set(info["speaker"].tolist())):
            held_out = info["speaker"] == speaker
            folds.append((info["digit"], np.flatnonzero(~held_out), np.flatnonzero(held_out)))
        if len(folds) > 1:
            protocols["digit ID, leave one speaker out"] = folds
            split += f"; speaker-disjoint: {len(folds)} folds over all clips, mean reported"
    return protocols, split


def run_protocols(feature_sets, protocols, args, c_values):
    """accuracy[task][column] (mean over folds) and per-fold details."""
    import numpy as np
    from tqdm import tqdm

    total = len(feature_sets) * sum(len(folds) for folds in protocols.values())
    # One tick per probe; the postfix follows each C fit, since one fit on raw pixels can
    # take minutes.
    bar = tqdm(total=total, desc="probes", unit="probe", disable=args.quiet, file=sys.stderr)
    where = ""

    def show(c, val_accuracy, seconds):
        bar.set_postfix_str(f"{where}: C={c:g} val {100 * val_accuracy:.1f}% {seconds:.0f}s")

    accuracy, details = {}, {}
    for task, folds in protocols.items():
        accuracy[task], details[task] = {}, {}
        for column, features in feature_sets.items():
            where = f"{task} / {column}"
            scores, fold_details = [], []
            for labels, train, test in folds:
                bar.set_postfix_str(where)
                train = common.subset(train, args.train_limit, args.seed)
                score, detail = probe_accuracy(
                    features, labels, train, test, c_values, args.seed, callback=show
                )
                scores.append(score)
                fold_details.append(detail)
                bar.update()
            accuracy[task][column] = float(np.mean(scores))
            details[task][column] = {"fold_accuracies": scores, "probes": fold_details}
    bar.close()
    return accuracy, details


def limit_split(train, test, limit, seed):
    """Keep at most ``limit`` examples, shared between train and test in proportion."""
    if not limit or limit >= len(train) + len(test):
        return train, test
    share = len(test) / (len(train) + len(test))
    n_test = max(int(round(limit * share)), 10)
    return common.subset(train, limit - n_test, seed), common.subset(test, n_test, seed)


# ---- report -----------------------------------------------------------------------------------


def format_table(summary):
    columns = summary["columns"]
    width = max(len(t) for t in summary["accuracy"]) + 2
    header = "task".ljust(width) + "".join(c.rjust(16) for c in columns)
    lines = [header, "-" * len(header)]
    for task, row in summary["accuracy"].items():
        lines.append(task.ljust(width) + "".join(f"{100 * row[c]:15.1f}%" for c in columns))
    return "\n".join(lines)


def save_plot(path, summary, features, labels, projection, seed, class_names=None):
    """Accuracy bars per task and column, and a 2-D projection of ``features`` by class.

    ``class_names[label]`` names each integer label in the legend (the label itself when None).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    figure, (bars, scatter) = plt.subplots(1, 2, figsize=(13, 5))
    tasks = list(summary["accuracy"])
    columns = summary["columns"]
    width = 0.8 / len(columns)
    for i, column in enumerate(columns):
        values = [100 * summary["accuracy"][t][column] for t in tasks]
        positions = np.arange(len(tasks)) + (i - (len(columns) - 1) / 2) * width
        drawn = bars.bar(positions, values, width, label=column)
        bars.bar_label(drawn, fmt="%.1f", fontsize=8)
    bars.set_xticks(np.arange(len(tasks)), tasks, fontsize=8)
    bars.set_ylabel("held-out accuracy (%)")
    bars.set_ylim(0, 105)
    bars.legend(fontsize=8)
    bars.set_title(f"Linear probe: {summary['preset']}", fontsize=9)

    if projection == "tsne":
        from sklearn.manifold import TSNE

        points = TSNE(2, random_state=seed, init="pca").fit_transform(features)
    else:
        from sklearn.decomposition import PCA
        from sklearn.preprocessing import StandardScaler

        points = PCA(2, random_state=seed).fit_transform(StandardScaler().fit_transform(features))
    classes = sorted(set(labels.tolist()))
    colours = plt.get_cmap("tab10" if len(classes) <= 10 else "tab20")
    for k, label in enumerate(classes):
        chosen = labels == label
        name = class_names[label] if class_names is not None else label
        scatter.scatter(*points[chosen].T, s=6, color=colours(k % colours.N), label=str(name))
    scatter.legend(fontsize=7, markerscale=2, ncol=2)
    scatter.set_title(f"{projection.upper()} of the preset's held-out features", fontsize=9)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


# ---- main -------------------------------------------------------------------------------------


def main(argv=None):
    args = build_parser().parse_args(argv)
    import keras
    import numpy as np

    from keras_cpc.models import Backbone

    started = time.perf_counter()
    preset = args.preset or default_preset()
    verbose = 0 if args.quiet else 1
    c_values = tuple(float(c) for c in args.c_values.split(","))
    keras.utils.set_random_seed(args.seed)
    backbone = Backbone.from_preset(preset)
    keras.utils.set_random_seed(args.seed)
    random_backbone = Backbone.from_preset(preset, load_weights=False)
    is_audio = hasattr(backbone, "sample_rate")

    if is_audio:
        source = args.data or DEFAULT_AUDIO_DATA
        clips, info = common.load_audio(source, backbone.sample_rate, args.limit, args.seed)
        print(f"{len(clips)} clips from {source} at {backbone.sample_rate} Hz", flush=True)
        feature_sets = {
            "preset": audio_features(backbone, clips, args.batch_size, verbose),
            "random init": audio_features(random_backbone, clips, args.batch_size, verbose),
            "MFCC mean+std": mfcc_features(clips, backbone.sample_rate),
        }
        protocols, split = audio_protocols(info, args)
        plot_labels = info["digit"]
        plot_rows = protocols["digit ID"][0][2]
        class_names = None  # the labels are the digits themselves
    else:
        source = args.data or "digits"
        config_size = backbone.get_config().get("image_shape", (None,))[0]
        size = args.image_size or config_size or 32
        if source == "digits":
            images, labels, classes, _ = common.load_digits_images(size)
            raw = common.load_digits_images(8)[0][..., 0]  # the original 8x8 grey pixels
            train, test = common.stratified_holdout(labels, args.digits_test_fraction, args.seed)
            split = (
                f"scikit-learn load_digits, stratified {args.digits_test_fraction:g} test "
                f"split (seed {args.seed}), images upsampled 8x8 -> {size}x{size} RGB"
            )
            train, test = limit_split(train, test, args.limit, args.seed)
        else:
            lazy = common.LazyImages(source, image_size=(size, size))
            labels, classes = lazy.labels, lazy.classes
            train, test = common.stratified_holdout(labels, args.holdout_fraction, args.seed)
            split = (
                f"{source}: stratified {args.holdout_fraction:g} per class held out "
                f"(seed {args.seed}), the split pretrain_simclr.py leaves out; "
                "accuracy on that held-out split"
            )
            train, test = limit_split(train, test, args.limit, args.seed)
            keep = np.concatenate([train, test])
            images, labels = lazy.take(keep), labels[keep]
            train, test = np.arange(len(train)), np.arange(len(train), len(keep))
            raw = images
        print(f"{len(train)} train / {len(test)} test images from {source}", flush=True)
        preset_features = image_features(backbone, images, args.batch_size, verbose)
        # Same architecture, random weights: assigned into the same model so its compiled
        # predict function is reused (one compilation instead of two).
        if [v.shape for v in backbone.weights] != [v.shape for v in random_backbone.weights]:
            raise ValueError("The random-init backbone must have the preset's architecture.")
        for variable, value in zip(backbone.weights, random_backbone.weights):
            variable.assign(value)
        feature_sets = {
            "preset": preset_features,
            "random init": image_features(backbone, images, args.batch_size, verbose),
            "raw pixels": raw.reshape(len(raw), -1).astype("float32"),
        }
        task = f"{source} classes" if source != "digits" else "digit (load_digits)"
        protocols = {task: [(labels, train, test)]}
        plot_labels, plot_rows, class_names = labels, test, classes

    accuracy, details = run_protocols(feature_sets, protocols, args, c_values)
    summary = {
        "preset": str(preset),
        "data": str(source),
        "split": split,
        "columns": list(feature_sets),
        "accuracy": accuracy,
        "feature_dims": {k: int(v.shape[1]) for k, v in feature_sets.items()},
        "backend": keras.backend.backend(),
        "seed": args.seed,
        "command": common.exact_command(__file__, argv),
    }
    output = Path(args.output_dir)
    output.mkdir(parents=True, exist_ok=True)
    results = {
        "summary": summary,
        "details": details,
        "wall_time_s": round(time.perf_counter() - started, 1),
    }
    common.write_json(output / "results.json", results)
    save_plot(
        output / "probe.png",
        summary,
        feature_sets["preset"][plot_rows],
        np.asarray(plot_labels)[plot_rows],
        args.projection,
        args.seed,
        class_names,
    )
    print(f"\nLinear probe of {preset} on {source} ({split})")
    print(format_table(summary))
    print(f"\nWrote {output / 'results.json'} and {output / 'probe.png'}")
    return results


if __name__ == "__main__":
    main()
