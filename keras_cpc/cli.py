"""The ``keras-cpc`` command: list and inspect presets, extract features, run a linear probe.

Thin: parses arguments and calls the library. Usage::

    keras-cpc presets
    keras-cpc info PRESET
    keras-cpc extract PRESET FILES_OR_DIRS... --output features.npy [--batch-size 32]
    keras-cpc probe PRESET [DATA] [--output-dir DIR] [--limit N]
    keras-cpc probe PRESET TRAIN_DIR --test-dir DIR [--output results.json]

PRESET is a preset name or a preset directory. Images go in as files (png, jpg, bmp, gif);
audio as wav/flac/ogg files at any rate (resampled to the preset's rate); an unreadable file is
skipped with a warning naming it. ``probe`` runs `keras_cpc.evaluation.probe_preset` (preset,
random-init and raw-input columns on a held-out split of DATA), or, given ``--test-dir``, a
probe of the preset's features trained on one folder of class sub-folders and scored on another.
"""

import argparse
import json
import sys
from pathlib import Path

from keras_cpc.data.folders import collect_files, list_class_folder

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

    from keras_cpc.evaluation import file_features, input_suffixes
    from keras_cpc.models import Backbone

    backbone = Backbone.from_preset(args.preset)
    files = collect_files(args.inputs, input_suffixes(backbone))
    features, kept = file_features(backbone, files, args.batch_size, progress=not args.quiet)
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    np.save(output, features)
    listing = output.with_suffix(".files.txt")
    listing.write_text("".join(f"{f}\n" for f in kept))
    skipped = f"; skipped {len(files) - len(kept)} unreadable" if len(kept) < len(files) else ""
    print(f"Wrote features {features.shape} to {output} (file order in {listing}{skipped}).")
    return 0


def _folder_features(backbone, folder, args):
    """Features and labels of a class-folder tree (unreadable files skipped, with a warning)."""
    import numpy as np

    from keras_cpc.evaluation import file_features, input_suffixes

    files, labels, classes = list_class_folder(folder, input_suffixes(backbone))
    features, kept = file_features(backbone, files, args.batch_size, progress=not args.quiet)
    label_of = dict(zip(files, labels))
    return features, np.asarray([label_of[f] for f in kept]), classes


def _cmd_probe(args):
    if args.test_dir is None:
        return _probe_protocols(args)
    from keras_cpc.evaluation import linear_probe
    from keras_cpc.models import Backbone

    if args.data is None:
        raise ValueError("Expected a training folder (DATA) with --test-dir; received none.")
    backbone = Backbone.from_preset(args.preset)
    features, labels, classes = _folder_features(backbone, args.data, args)
    test_features, test_labels, test_classes = _folder_features(backbone, args.test_dir, args)
    if test_classes != classes:
        raise ValueError(
            f"Test classes must match training classes {classes}; received {test_classes}."
        )
    result = linear_probe(
        features,
        labels,
        test_features,
        test_labels,
        val_fraction=args.val_fraction,
        seed=args.seed,
    )
    summary = {"preset": args.preset, "classes": classes, **result.to_dict()}
    text = json.dumps(summary, indent=2)
    if args.output:
        Path(args.output).write_text(text)
    print(text)
    return 0


def _probe_protocols(args):
    from keras_cpc.evaluation import format_table, probe_options, probe_preset

    # The flags share linear_probe.py's names; --test-dir and --output are this command's own.
    results = probe_preset(args.preset, args.data, **probe_options(args))
    if args.output:
        Path(args.output).write_text(json.dumps(results, indent=2))
    summary = results["summary"]
    print(f"Linear probe of {summary['preset']} on {summary['data']} ({summary['split']})")
    print(format_table(summary))
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

    probe = commands.add_parser(
        "probe",
        help="linear probe on frozen features",
        description="Without --test-dir: the preset, random-init and raw-input columns on a "
        "held-out split of DATA (keras_cpc.evaluation.probe_preset; DATA: class folders, "
        "an FSDD folder, tfds:NAME, or none for scikit-learn's digits / ~/data/fsdd). With "
        "--test-dir: the preset's features only, trained on DATA and scored on the test folder.",
    )
    probe.add_argument("preset", help="preset name or directory")
    probe.add_argument("data", nargs="?", help="class folders, FSDD folder or tfds:NAME")
    probe.add_argument("--test-dir", help="test folder with the same class sub-folders")
    probe.add_argument("--holdout-fraction", type=float, default=0.1)
    probe.add_argument("--val-fraction", type=float, default=0.2, help="with --test-dir")
    probe.add_argument("--limit", type=int, help="use at most this many examples")
    probe.add_argument("--batch-size", type=int, default=128)
    probe.add_argument("--seed", type=int, default=0)
    probe.add_argument("--output", help="also write the results as JSON here")
    probe.add_argument("--output-dir", help="write results.json and probe.png here")
    probe.add_argument("--quiet", action="store_true", help="no progress bar")
    probe.set_defaults(run=_cmd_probe)
    return parser


def main(argv=None):
    """Entry point of the ``keras-cpc`` console script; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (ValueError, OSError, ImportError) as error:
        print(f"keras-cpc {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
