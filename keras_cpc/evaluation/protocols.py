"""Linear-probe protocols of a preset, with the two baselines every result is read against.

`probe_preset` is the whole job: it extracts frozen pooled features with the preset, with the
same architecture at random initialisation, and takes the raw input (pixels for images; MFCC
mean+std for audio); fits `linear_probe` on each (``C`` chosen on a validation split of the
probe's training part, never on the test part) and reports test accuracy side by side.

Protocols:
    images      one task: the classes of ``data``, on a seeded stratified held-out split
                (scikit-learn's load_digits when ``data`` is None: 30% test)
    FSDD audio  digit ID and speaker ID (index 0-4 as test when present, the official split;
                else ``heldout_indices`` held out), and speaker-disjoint digit ID (leave one
                speaker out, mean over folds)
"""

import sys
import time

import keras
import numpy as np
from tqdm import tqdm

from keras_cpc.data.images import ImageFolder, load_digits_images
from keras_cpc.data.sources import load_audio_clips
from keras_cpc.data.splits import parse_range, stratified_holdout, subset
from keras_cpc.evaluation.features import (
    audio_features,
    audio_normalization,
    image_features,
    is_audio_backbone,
    mfcc_features,
    resolve_batch_size,
)
from keras_cpc.evaluation.linear_probe import DEFAULT_C_VALUES, linear_probe
from keras_cpc.evaluation.report import describe_source, image_task_name, write_results
from keras_cpc.training.runs import dtype_policy_scope

# Preferred defaults when no preset is named: the strongest shipped image preset first.
DEFAULT_IMAGE_PRESETS = ("simclr_resnet18_cifar10", "simclr_resnet18_cifar10_cpu")
DEFAULT_AUDIO_DATA = "~/data/fsdd/recordings"


def default_preset():
    """The name of the first shipped image preset (the GPU-trained one when present).

    Example:
        >>> default_preset()
        'simclr_resnet18_cifar10'
    """
    from keras_cpc.presets import list_presets

    listing = list_presets()
    for name in DEFAULT_IMAGE_PRESETS:
        if listing.get(name, {}).get("directory"):
            return name
    for name, info in listing.items():
        if info.get("directory") and "ResNet" in str(info.get("class_name")):
            return name
    raise ValueError(
        "Expected a preset name or directory, or a shipped image preset to default to; "
        f"received none, and the presets found are {sorted(listing) or 'none'}. Pass a "
        "preset, e.g. one written by examples/pretrain_simclr.py --save-preset DIR."
    )


def limit_split(train, test, limit, seed):
    """Keep at most ``limit`` examples, shared between train and test in proportion.

    Args:
        train, test: index arrays.
        limit: the most examples kept in all (None or 0: all), at least 10 of them test.
        seed: seed of the choice (`keras_cpc.data.splits.subset`).

    Returns:
        ``(train, test)`` index arrays, each sorted.

    Example:
        >>> train, test = limit_split(train, test, 600, seed=0)
    """
    if not limit or limit >= len(train) + len(test):
        return train, test
    share = len(test) / (len(train) + len(test))
    n_test = max(int(round(limit * share)), 10)
    return subset(train, limit - n_test, seed), subset(test, n_test, seed)


def audio_protocols(info, heldout_indices="5-9", leave_one_speaker_out=True):
    """The FSDD protocols: task name -> list of ``(labels, train_rows, test_rows)`` folds.

    Args:
        info: per-clip arrays ``digit``, ``speaker``, ``index`` (`load_audio_clips`'s info).
        heldout_indices: clip indices held out as test when index 0-4 (the official test
            part) is absent, e.g. ``"5-9"``.
        leave_one_speaker_out: also add speaker-disjoint digit ID, one fold per speaker.

    Returns:
        ``(protocols, split)``: the dict of folds and a sentence describing the split.

    Example:
        >>> protocols, split = audio_protocols(info)
        >>> sorted(protocols)
        ['digit ID', 'digit ID, leave one speaker out', 'speaker ID']
    """
    index = np.asarray(info["index"])
    if (index < 5).any():
        test_mask = index < 5
        split = "official FSDD split: index 0-4 test, 5-49 train"
    else:
        test_mask = np.isin(index, sorted(parse_range(heldout_indices)))
        split = (
            f"validation split carved from FSDD train: index {heldout_indices} held out, "
            "the rest of train (index >= 5) for the probe (mirrors the official 0-4 protocol)"
        )
    train_rows, test_rows = np.flatnonzero(~test_mask), np.flatnonzero(test_mask)
    protocols = {
        "digit ID": [(info["digit"], train_rows, test_rows)],
        "speaker ID": [(info["speaker"], train_rows, test_rows)],
    }
    if leave_one_speaker_out:
        folds = []
        for speaker in sorted(set(info["speaker"].tolist())):
            held_out = info["speaker"] == speaker
            folds.append((info["digit"], np.flatnonzero(~held_out), np.flatnonzero(held_out)))
        if len(folds) > 1:
            protocols["digit ID, leave one speaker out"] = folds
            split += f"; speaker-disjoint: {len(folds)} folds over all clips, mean reported"
    return protocols, split


def run_protocols(
    feature_sets,
    protocols,
    c_values=DEFAULT_C_VALUES,
    seed=0,
    train_limit=None,
    progress=None,
    patience=2,
):
    """Probe every feature set on every fold of every protocol.

    Args:
        feature_sets: column name -> ``(n, dim)`` features, rows aligned with the labels.
        protocols: task name -> list of ``(labels, train_rows, test_rows)`` folds.
        c_values: the ``C`` grid of `linear_probe`.
        seed: seed of the probes (and of the ``train_limit`` subset).
        train_limit: fit each probe on at most this many training rows (None: all).
        progress: a tqdm bar on stderr ticking once per probe (one task x column x fold),
            its postfix following each ``C`` fit; None shows it on a terminal only.
        patience: `linear_probe`'s early stop over the ``C`` grid (None: fit the whole grid).

    Returns:
        ``(accuracy, details)``: ``accuracy[task][column]`` (mean over folds) and
        ``details[task][column] = {"fold_accuracies", "probes"}``.

    Example:
        >>> accuracy, details = run_protocols({"raw": x}, {"digits": [(y, train, test)]})
    """
    total = len(feature_sets) * sum(len(folds) for folds in protocols.values())
    # One tick per probe; the postfix follows each C fit, since one fit on raw pixels can
    # take minutes.
    bar = tqdm(
        total=total, desc="linear probes", unit="probe", disable=_disabled(progress),
        file=sys.stderr,
    )  # fmt: skip
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
                train = subset(train, train_limit, seed)
                result = linear_probe(
                    features[train],
                    labels[train],
                    features[test],
                    labels[test],
                    c_values=c_values,
                    seed=seed,
                    patience=patience,
                    callback=show,
                )
                scores.append(result.test_accuracy)
                fold_details.append(result.to_dict())
                bar.update()
            accuracy[task][column] = float(np.mean(scores))
            details[task][column] = {"fold_accuracies": scores, "probes": fold_details}
    bar.close()
    return accuracy, details


def _disabled(progress):
    # tqdm's disable=None means "only on a terminal".
    return None if progress is None else not progress


def _audio_job(backbone, random_backbone, data, options):
    source = data or DEFAULT_AUDIO_DATA
    # Clips prepared as the preset's were in training (its recorded normalisation): peak 1.0
    # for the FSDD preset, samples as read for converted CPC_audio weights.
    clips, info = load_audio_clips(
        source,
        sample_rate=backbone.sample_rate,
        limit=options["limit"],
        seed=options["seed"],
        normalization=audio_normalization(backbone),
    )
    show, batch_size = options["progress"], options["batch_size"]
    feature_sets = {
        "preset": audio_features(
            backbone, clips, batch_size, progress=show, desc="preset features"
        ),
        "random init": audio_features(
            random_backbone, clips, batch_size, progress=show, desc="random-init features"
        ),
        "MFCC mean+std": mfcc_features(clips, backbone.sample_rate),
    }
    protocols, split = audio_protocols(
        info, options["heldout_indices"], options["leave_one_speaker_out"]
    )
    # The figure shows the digit-ID test clips, coloured by digit (the labels name themselves).
    plot = (info["digit"], protocols["digit ID"][0][2], None)
    return source, feature_sets, protocols, split, plot


def _image_data(backbone, data, options):
    """images, labels, classes, train, test, raw input, split sentence and task name."""
    seed, limit = options["seed"], options["limit"]
    config_size = backbone.get_config().get("image_shape", (None,))[0]
    size = options["image_size"] or config_size or 32
    if data is None or data == "digits":
        fraction = options["digits_test_fraction"]
        images, labels, classes = load_digits_images(size)
        raw = load_digits_images(8)[0][..., 0]  # the original 8x8 grey pixels
        train, test = stratified_holdout(labels, fraction, seed)
        split = (
            f"scikit-learn load_digits, stratified {fraction:g} test split (seed {seed}), "
            f"images upsampled 8x8 -> {size}x{size} RGB"
        )
        train, test = limit_split(train, test, limit, seed)
        # Only the rows probed go through the backbones.
        keep = np.concatenate([train, test])
        images, labels, raw = images[keep], labels[keep], raw[keep]
        train, test = np.arange(len(train)), np.arange(len(train), len(keep))
        return images, labels, classes, train, test, raw, split, "digit (load_digits)"
    fraction = options["holdout_fraction"]
    folder = ImageFolder(data, image_size=(size, size))
    labels, classes = np.asarray(folder.labels), list(folder.classes)
    train, test = stratified_holdout(labels, fraction, seed)
    split = (
        f"{describe_source(data)}: stratified {fraction:g} per class held out (seed {seed}), "
        "the split pretrain_simclr.py leaves out; accuracy on that held-out split"
    )
    train, test = limit_split(train, test, limit, seed)
    # Only the rows probed are decoded: a subset of a large folder stays cheap.
    keep = np.concatenate([train, test])
    images, labels = folder.take(keep), labels[keep]
    train, test = np.arange(len(train)), np.arange(len(train), len(keep))
    return images, labels, classes, train, test, images, split, image_task_name(data)


def _image_job(backbone, random_backbone, data, options):
    images, labels, classes, train, test, raw, split, task = _image_data(backbone, data, options)
    show, batch_size = options["progress"], options["batch_size"]
    preset_features = image_features(backbone, images, batch_size, show, desc="preset features")
    # Same architecture, random weights: assigned into the same model so its compiled
    # predict function is reused (one compilation instead of two).
    if [v.shape for v in backbone.weights] != [v.shape for v in random_backbone.weights]:
        raise ValueError(
            "Expected the random-init backbone to have the preset's architecture; received "
            "different weight shapes."
        )
    for variable, value in zip(backbone.weights, random_backbone.weights):
        variable.assign(value)
    feature_sets = {
        "preset": preset_features,
        "random init": image_features(
            backbone, images, batch_size, show, desc="random-init features"
        ),
        "raw pixels": raw.reshape(len(raw), -1).astype("float32"),
    }
    protocols = {task: [(labels, train, test)]}
    return data or "digits", feature_sets, protocols, split, (labels, test, classes)


def probe_preset(
    preset=None,
    data=None,
    *,
    image_size=None,
    holdout_fraction=0.1,
    digits_test_fraction=0.3,
    heldout_indices="5-9",
    leave_one_speaker_out=True,
    limit=None,
    train_limit=None,
    c_values=DEFAULT_C_VALUES,
    batch_size=None,
    dtype_policy="float32",
    seed=0,
    output_dir=None,
    projection="pca",
    command=None,
    progress=None,
    patience=2,
):
    """Linear probe of a preset next to its random-init and raw-input baselines.

    Args:
        preset: preset name or directory (None: `default_preset`).
        data: image presets: None or ``"digits"`` (scikit-learn's load_digits), a class-folder
            path or ``"tfds:NAME"``; audio presets: an FSDD-layout folder or
            ``"tfds:spoken_digit"`` (None: ``~/data/fsdd/recordings``).
        image_size: resize images to this square size (None: the preset's, else 32).
        holdout_fraction: image folders: the stratified test share per class (the share
            `examples/pretrain_simclr.py` leaves out).
        digits_test_fraction: load_digits: the stratified test share.
        heldout_indices: FSDD: clip indices used as test when index 0-4 is absent.
        leave_one_speaker_out: FSDD: add speaker-disjoint digit ID.
        limit: use at most this many examples (smoke runs), shared by train and test.
        train_limit: fit each probe on at most this many training examples.
        c_values: the ``C`` grid of `linear_probe`.
        batch_size: inputs per forward pass of the backbones (None: the backend's,
            `keras_cpc.evaluation.features.default_batch_size`).
        dtype_policy: the Keras dtype policy both backbones are loaded under
            (`keras_cpc.training.DTYPE_POLICIES`): ``"mixed_bfloat16"`` computes the features
            in bfloat16 (float32 weights); features are float32 either way.
        seed: seed of the splits, subsets, random-init weights and probes.
        output_dir: when given, write ``results.json`` and ``probe.png`` there.
        projection: ``"pca"`` or ``"tsne"``, the figure's 2-D view of the preset features.
        command: the command line to record in the summary (None: not recorded).
        progress: tqdm bars on stderr (features, then one tick per probe); None: only on
            a terminal; False: silent.
        patience: stop climbing the ``C`` grid after this many successive drops in
            validation accuracy (None: the whole grid, the protocol of presets probed before
            early stopping existed).

    Returns:
        ``{"summary", "details", "wall_time_s"}``: the summary holds ``columns``,
        ``accuracy[task][column]``, ``split``, ``feature_dims``, the ``batch_size`` and
        ``dtype_policy`` of the features; details every probe.

    Example:
        >>> results = probe_preset("simclr_resnet18_cifar10_cpu", limit=300)
        >>> print(format_table(results["summary"]))
    """
    from keras_cpc.models import Backbone

    started = time.perf_counter()
    preset = preset or default_preset()
    c_values = tuple(float(c) for c in c_values)
    # Layers take the policy when built: both backbones compute in it, weights stay float32.
    with dtype_policy_scope(dtype_policy):
        keras.utils.set_random_seed(seed)
        backbone = Backbone.from_preset(preset)
        keras.utils.set_random_seed(seed)
        random_backbone = Backbone.from_preset(preset, load_weights=False)
    batch_size = resolve_batch_size(batch_size, "audio" if is_audio_backbone(backbone) else "image")
    options = {
        "image_size": image_size,
        "holdout_fraction": holdout_fraction,
        "digits_test_fraction": digits_test_fraction,
        "heldout_indices": heldout_indices,
        "leave_one_speaker_out": leave_one_speaker_out,
        "limit": limit,
        "batch_size": batch_size,
        "seed": seed,
        "progress": progress,
    }
    job = _audio_job if is_audio_backbone(backbone) else _image_job
    source, feature_sets, protocols, split, plot = job(backbone, random_backbone, data, options)
    accuracy, details = run_protocols(
        feature_sets, protocols, c_values, seed, train_limit, progress, patience
    )
    summary = {
        "preset": describe_source(preset),
        "data": describe_source(source),
        "split": split,
        "columns": list(feature_sets),
        "accuracy": accuracy,
        "feature_dims": {k: int(v.shape[1]) for k, v in feature_sets.items()},
        "backend": keras.backend.backend(),
        "batch_size": batch_size,
        "dtype_policy": dtype_policy,
        "seed": seed,
        "patience": patience,
    }
    if command is not None:
        summary["command"] = command
    results = {
        "summary": summary,
        "details": details,
        "wall_time_s": round(time.perf_counter() - started, 1),
    }
    if output_dir is not None:
        labels, rows, class_names = plot
        features, labels = feature_sets["preset"][rows], np.asarray(labels)[rows]
        write_results(output_dir, results, features, labels, class_names, projection, seed)
    return results
