"""The ``keras-cpc`` command: list and inspect presets, extract features, run a linear probe.

Thin: parses arguments and calls the library. Usage::

    keras-cpc presets
    keras-cpc info PRESET
    keras-cpc extract PRESET FILES_OR_DIRS... --output features.npy [--batch-size 32]
    keras-cpc probe PRESET TRAIN_DIR [--test-dir DIR] [--output results.json]

PRESET is a preset name or a preset directory. Images go in as files (png, jpg, bmp, gif);
audio as wav/flac/ogg files at any rate (resampled to the preset's rate). ``probe`` expects one
sub-folder per class.
"""

import argparse
import json
import sys
from pathlib import Path

from keras_cpc.data.folders import (
    AUDIO_SUFFIXES,
    IMAGE_SUFFIXES,
    collect_files,
    list_class_folder,
)


def _is_audio(backbone):
    return hasattr(backbone, "sample_rate")


def _load_images(paths, backbone):
    import keras
    import numpy as np

    height, width = backbone.get_config().get("image_shape", (None, None, 3))[:2]
    target = (height, width) if height and width else None
    images = [
        np.asarray(keras.utils.load_img(p, color_mode="rgb", target_size=target), "uint8")
        for p in paths
    ]
    if target is None and len({im.shape for im in images}) > 1:
        raise ValueError(
            "This preset takes images of any size, but one batch must share a size; received "
            f"sizes {sorted({im.shape for im in images})}. Use --batch-size 1 or resize them."
        )
    return np.stack(images)


def _load_audio(paths, backbone):
    from keras_cpc.data import load_audio
    from keras_cpc.models.audio_classifier import batch_waveforms

    # Down-mixed to mono and resampled to the preset's rate file by file, then right-padded.
    clips = [load_audio(p, sample_rate=backbone.sample_rate)[0] for p in paths]
    return batch_waveforms(
        clips,
        backbone.sample_rate,
        backbone.sample_rate,
        min_samples=getattr(backbone, "min_samples", 1),
    )


def extract_features(backbone, files, batch_size=32, progress=True):
    """Pooled embeddings (n, dim) float32 of image or audio files, in the order given."""
    import keras
    import numpy as np
    from tqdm import tqdm

    if batch_size < 1:
        raise ValueError(f"--batch-size must be >= 1; received {batch_size}.")
    load = _load_audio if _is_audio(backbone) else _load_images
    outputs = []
    starts = range(0, len(files), batch_size)
    for start in tqdm(starts, desc="extract", unit="batch", disable=not progress, file=sys.stderr):
        inputs = load(files[start : start + batch_size], backbone)
        outputs.append(keras.ops.convert_to_numpy(backbone(inputs, training=False)))
    return np.concatenate(outputs).astype("float32")


def _suffixes(backbone):
    return AUDIO_SUFFIXES if _is_audio(backbone) else IMAGE_SUFFIXES


# ---- commands ------------------------------------------------------------------------------


def _cmd_presets(args):
    from keras_cpc.presets import list_presets

    listing = list_presets()
    if not listing:
        print("No presets found.")
        return 0
    rows = [("name", "class", "params", "description")]
    for name, info in listing.items():
        params = f"{info['params']:,}" if info.get("params") else "?"
        class_name = (info.get("class_name") or "?").split(">")[-1]
        rows.append((name, class_name, params, info.get("description") or ""))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row[:3], widths)) + "  " + row[3])
    return 0


def _cmd_info(args):
    from keras_cpc import presets as preset_utils

    directory = preset_utils.resolve_preset(args.preset)
    metadata = preset_utils.read_metadata(directory)
    print(json.dumps({"directory": str(directory), **metadata}, indent=2))
    return 0


def _cmd_extract(args):
    import numpy as np

    from keras_cpc.models import Backbone

    backbone = Backbone.from_preset(args.preset)
    files = collect_files(args.inputs, _suffixes(backbone))
    features = extract_features(backbone, files, args.batch_size, progress=not args.quiet)
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    np.save(output, features)
    listing = output.with_suffix(".files.txt")
    listing.write_text("".join(f"{f}\n" for f in files))
    print(f"Wrote features {features.shape} to {output} (file order in {listing}).")
    return 0


def _cmd_probe(args):
    import numpy as np

    from keras_cpc.models import Backbone
    from keras_cpc.probe import linear_probe

    backbone = Backbone.from_preset(args.preset)
    files, labels, classes = list_class_folder(args.train_dir, _suffixes(backbone))
    features = extract_features(backbone, files, args.batch_size, progress=not args.quiet)
    test_features = test_labels = None
    if args.test_dir:
        test_files, test_labels, test_classes = list_class_folder(
            args.test_dir, _suffixes(backbone)
        )
        if test_classes != classes:
            raise ValueError(
                f"Test classes must match training classes {classes}; received {test_classes}."
            )
        test_features = extract_features(
            backbone, test_files, args.batch_size, progress=not args.quiet
        )
    result = linear_probe(
        features,
        np.asarray(labels),
        test_features,
        None if test_labels is None else np.asarray(test_labels),
        val_fraction=args.val_fraction,
        seed=args.seed,
    )
    summary = {"preset": args.preset, "classes": classes, **result.to_dict()}
    text = json.dumps(summary, indent=2)
    if args.output:
        Path(args.output).write_text(text)
    print(text)
    return 0


def build_parser():
    parser = argparse.ArgumentParser(
        prog="keras-cpc", description="Contrastive self-supervised presets for Keras 3."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("presets", help="table of available presets").set_defaults(run=_cmd_presets)
    info = commands.add_parser("info", help="metadata of a preset")
    info.add_argument("preset", help="preset name or directory")
    info.set_defaults(run=_cmd_info)

    extract = commands.add_parser("extract", help="pooled features of image or audio files")
    extract.add_argument("preset", help="preset name or directory")
    extract.add_argument("inputs", nargs="+", help="files or folders (searched recursively)")
    extract.add_argument("--output", required=True, help="where to write the (n, dim) .npy")
    extract.add_argument("--batch-size", type=int, default=32)
    extract.add_argument("--quiet", action="store_true", help="no progress bar")
    extract.set_defaults(run=_cmd_extract)

    probe = commands.add_parser("probe", help="linear probe on frozen features")
    probe.add_argument("preset", help="preset name or directory")
    probe.add_argument("train_dir", help="folder with one sub-folder of files per class")
    probe.add_argument("--test-dir", help="test folder with the same class sub-folders")
    probe.add_argument("--val-fraction", type=float, default=0.2)
    probe.add_argument("--batch-size", type=int, default=32)
    probe.add_argument("--seed", type=int, default=0)
    probe.add_argument("--output", help="also write the results as JSON here")
    probe.add_argument("--quiet", action="store_true", help="no progress bar")
    probe.set_defaults(run=_cmd_probe)
    return parser


def main(argv=None):
    """Entry point of the ``keras-cpc`` console script; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (ValueError, FileNotFoundError, ImportError) as error:
        print(f"keras-cpc {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
