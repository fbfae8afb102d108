"""The ``keras-cpc`` command: list and inspect presets, extract features, run a linear probe.

Thin: parses arguments and calls the library. Usage::

    keras-cpc presets
    keras-cpc info PRESET
    keras-cpc extract PRESET FILES_OR_DIRS... --output features.npy [--batch-size N]
                      [--dtype-policy mixed_bfloat16] [--threads N]
    keras-cpc probe PRESET [DATA] [--output-dir DIR] [--limit N]
    keras-cpc probe PRESET TRAIN_DIR --test-dir DIR [--output results.json]
    keras-cpc convert SOURCE OUTPUT_DIR [--format auto|simclr_tf1|cpc_audio]
                      [--reference reference_outputs.npz] [--name NAME]

PRESET is a preset name or a preset directory. Images go in as files (png, jpg, bmp, gif);
audio as wav/flac/ogg files at any rate (resampled to the preset's rate); an unreadable file is
skipped with a warning naming it. ``probe`` runs `keras_cpc.evaluation.probe_preset` (preset,
random-init and raw-input columns on a held-out split of DATA), or, given ``--test-dir``, a
probe of the preset's features trained on one folder of class sub-folders and scored on another.
``extract`` and ``probe`` take ``--batch-size`` (default: the backend's,
`keras_cpc.evaluation.features.default_batch_size`), ``--dtype-policy`` (features are float32
whatever the policy) and ``--threads`` (`keras_cpc.training.threads.set_threads`, applied
before any model is built; default ``$KERAS_CPC_THREADS``). ``convert`` turns an official
SimCLR TF1 or CPC_audio checkpoint into a preset (`keras_cpc.models.convert_checkpoint`).
Remote presets (official weights) are listed with their cache state; ``info`` on one that is
not downloaded yet prints its registry entry.

``presets``, ``info`` and every ``--help`` import no backend (nor keras): they read the preset
registry and JSON files only, and answer in a fraction of a second. The other commands import
keras inside the command, after `main` has quietened the backends' start-up logs.
"""

import argparse
import ast
import contextlib
import functools
import json
import os
import re
import sys
import tempfile
from pathlib import Path

# Log settings the backends read when first imported, applied only where the user set none:
# TensorFlow's and XLA's C++ logs (oneDNN and CPU-feature notices, absl's "before
# InitializeLog" line) at warnings and below, and gRPC's, which TensorFlow loads.
QUIET_BACKEND_ENV = {
    "TF_CPP_MIN_LOG_LEVEL": "2",
    "GRPC_VERBOSITY": "ERROR",
    "GLOG_minloglevel": "2",
}


def quiet_backend_logs(environ=None):
    """Set the `QUIET_BACKEND_ENV` defaults, keeping any value already set.

    Only effective before a backend is imported, which is why `main` calls it first.

    Args:
        environ: the environment mapping to update; None means ``os.environ``.

    Example:
        >>> quiet_backend_logs()
        >>> os.environ["TF_CPP_MIN_LOG_LEVEL"]
        '2'
    """
    environ = os.environ if environ is None else environ
    for name, value in QUIET_BACKEND_ENV.items():
        environ.setdefault(name, value)


# One abseil C++ log record: severity, date, time (seconds since the epoch before abseil is
# initialised: ``00:00:1796004725.76``), thread, source location.
_ABSL_RECORD = re.compile(r"^([IWEF])\d{4} [\d:.]+\s+\d+ \S+:\d+\] ")
_ABSL_PREAMBLE = "WARNING: All log messages before absl::InitializeLog() is called"


def filter_backend_log(text, min_level):
    """The lines of ``text`` that a ``TF_CPP_MIN_LOG_LEVEL`` of ``min_level`` lets through.

    Abseil records (``I0000 00:00:... port.cc:153] ...``) below ``min_level`` (0 info,
    1 warning, 2 error, 3 fatal) are dropped with their continuation lines (every line up to
    the next record), and so is abseil's "before InitializeLog" notice; every other line is
    kept.

    Args:
        text: what the backend wrote to stderr.
        min_level: the lowest severity kept, as ``TF_CPP_MIN_LOG_LEVEL`` counts it.

    Example:
        >>> filter_backend_log("I0000 00:00:17.1  7 port.cc:153] oneDNN on.\nkept\n", 2)
        'kept\n'
    """
    kept, dropping = [], False
    for line in text.splitlines(keepends=True):
        record = _ABSL_RECORD.match(line)
        if record:
            dropping = "IWEF".index(record.group(1)) < min_level
        elif line.startswith(_ABSL_PREAMBLE):
            if min_level > 0:
                continue
            dropping = False
        if not dropping:
            kept.append(line)
    return "".join(kept)


@contextlib.contextmanager
def _backend_import_logs_filtered():
    """Filter what the backend writes to stderr (file descriptor 2) while it is imported.

    TensorFlow 2.21 logs through abseil before abseil is initialised, and such records reach
    stderr whatever ``TF_CPP_MIN_LOG_LEVEL`` says (abseil-cpp #1718): the oneDNN notice, twice,
    on every run. So the import writes into a temporary file, and what `filter_backend_log`
    keeps is written back. Nothing is captured once keras is imported (a second `main` call).
    """
    if "keras" in sys.modules:
        yield
        return
    level_text = os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0")
    min_level = int(level_text) if level_text.isdigit() else 0
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no stderr to filter (a closed descriptor 2)
        yield
        return
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            text = captured.read().decode(errors="replace")
            sys.stderr.write(filter_backend_log(text, min_level))


def import_backend_quietly(tensorflow_too=False):
    """Import keras (and with it the backend) with the backend's start-up log filtered.

    Args:
        tensorflow_too: also import TensorFlow when it is installed, whatever the backend:
            Keras does on its first serialisation (saving a preset), and its start-up log
            would otherwise appear halfway through the command.

    Example:
        >>> import_backend_quietly()
    """
    with _backend_import_logs_filtered():
        import keras  # noqa: F401

        if tensorflow_too:
            from keras.src.utils.module_utils import tensorflow

            tensorflow.available  # noqa: B018 - the lazy module imports TensorFlow here


@functools.cache
def library_constant(module, name):
    """The literal value of ``name`` in a keras_cpc module's source, without importing it.

    The option tables ``--help`` shows (batch sizes per backend, dtype policies) live in
    modules that import keras; reading their source keeps ``--help`` free of any backend.

    Args:
        module: the module's path under the package, e.g. ``"evaluation/features.py"``.
        name: a module-level name assigned a literal (dict, tuple, number, string).

    Example:
        >>> library_constant("training/runs.py", "DTYPE_POLICIES")
        ('float32', 'mixed_bfloat16', 'mixed_float16')
    """
    tree = ast.parse((Path(__file__).parent / module).read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == name for target in node.targets
        ):
            return ast.literal_eval(node.value)
    raise ValueError(f"Expected a literal {name} in keras_cpc/{module}; received none.")


def _add_model_flags(parser):
    """``--batch-size``, ``--dtype-policy`` and ``--threads``: the commands that run a model."""
    table = library_constant("evaluation/features.py", "DEFAULT_BATCH_SIZES")
    defaults = "; ".join(
        f"{modality}: "
        + ", ".join(f"{backend} {sizes[modality]}" for backend, sizes in table.items())
        for modality in ("image", "audio")
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        help=f"inputs per forward pass (default: depends on the backend; {defaults})",
    )
    parser.add_argument(
        "--dtype-policy",
        default="float32",
        choices=library_constant("training/runs.py", "DTYPE_POLICIES"),
        help="Keras dtype policy the model is loaded under: mixed_bfloat16 computes in "
        "bfloat16 (weights stay float32; the features are float32 either way)",
    )
    threads_env = library_constant("training/threads.py", "THREADS_ENV")
    parser.add_argument(
        "--threads",
        type=int,
        metavar="N",
        help=f"CPU compute threads of the backend (default: ${threads_env}, else one per core); "
        "1 is fastest on a machine busy with other work",
    )


# ---- commands ------------------------------------------------------------------------------


def _cmd_presets(args):
    import keras_cpc

    listing = keras_cpc.list_presets()
    if not listing:
        print("No presets found.")
        return 0
    rows = [("name", "class", "params", "description")]
    for name, info in listing.items():
        params = f"{info['params']:,}" if info.get("params") else "?"
        class_name = (info.get("class_name") or "?").split(">")[-1]
        description = info.get("description") or ""
        if info.get("remote"):
            state = "cached" if info.get("cached") else "downloaded and converted on first use"
            description = f"[remote: {state}] {description}"
        rows.append((name, class_name, params, description))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row[:3], widths)) + "  " + row[3])
    return 0


def _cmd_info(args):
    import keras_cpc
    from keras_cpc.presets.integrity import read_metadata
    from keras_cpc.presets.resolve import resolve_preset

    # Registered first so that an unknown name is answered with the full list of presets.
    keras_cpc.register_shipped_presets()
    info = keras_cpc.list_presets().get(args.preset, {})
    if info.get("remote") and not info.get("cached"):
        # Not downloaded yet: say what from_preset would fetch instead of fetching it.
        from keras_cpc.presets.registry import registered_presets, remote_cache_dir
        from keras_cpc.presets.remote import remote_urls

        metadata = registered_presets()[args.preset]["metadata"]
        urls = [url for url, _ in remote_urls(metadata["remote"])]
        cache = str(remote_cache_dir(args.preset))
        print(json.dumps({"cached": False, "cache": cache, "urls": urls, **metadata}, indent=2))
        return 0
    directory = resolve_preset(args.preset)
    metadata = read_metadata(directory)
    print(json.dumps({"directory": str(directory), **metadata}, indent=2))
    return 0


def _cmd_extract(args):
    import numpy as np

    from keras_cpc.data.folders import collect_files
    from keras_cpc.evaluation import file_features, input_suffixes

    backbone = _load_backbone(args)
    files = collect_files(args.inputs, input_suffixes(backbone))
    features, kept = file_features(backbone, files, args.batch_size, progress=not args.quiet)
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    np.save(output, features)
    listing = output.with_suffix(".files.txt")
    listing.write_text("".join(f"{f}\n" for f in kept))
    skipped = f"; skipped {len(files) - len(kept)} unreadable" if len(kept) < len(files) else ""
    print(
        f"Wrote features {features.shape} to {output} (file order in {listing}{skipped}; "
        f"{args.dtype_policy} model, batch {_batch_size(backbone, args)})."
    )
    return 0


def _load_backbone(args):
    """The preset's backbone, its layers built under ``--dtype-policy`` (weights float32)."""
    from keras_cpc.models import Backbone
    from keras_cpc.training import dtype_policy_scope

    with dtype_policy_scope(args.dtype_policy):
        return Backbone.from_preset(args.preset)


def _batch_size(backbone, args):
    """``--batch-size``, or the backend's default for the preset's inputs."""
    from keras_cpc.evaluation.features import is_audio_backbone, resolve_batch_size

    return resolve_batch_size(args.batch_size, "audio" if is_audio_backbone(backbone) else "image")


def _folder_features(backbone, folder, args):
    """Features and labels of a class-folder tree (unreadable files skipped, with a warning)."""
    import numpy as np

    from keras_cpc.data.folders import list_class_folder
    from keras_cpc.evaluation import file_features, input_suffixes

    files, labels, classes = list_class_folder(folder, input_suffixes(backbone))
    features, kept = file_features(backbone, files, args.batch_size, progress=not args.quiet)
    label_of = dict(zip(files, labels))
    return features, np.asarray([label_of[f] for f in kept]), classes


def _cmd_probe(args):
    if args.test_dir is None:
        return _probe_protocols(args)
    from keras_cpc.evaluation import linear_probe

    if args.data is None:
        raise ValueError("Expected a training folder (DATA) with --test-dir; received none.")
    backbone = _load_backbone(args)
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
    summary = {
        "preset": args.preset,
        "classes": classes,
        "batch_size": _batch_size(backbone, args),
        "dtype_policy": args.dtype_policy,
        **result.to_dict(),
    }
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


def _cmd_convert(args):
    from keras_cpc.models.convert import convert_checkpoint

    options = {"progress": not args.quiet}
    if args.reference:
        options["reference_outputs"] = args.reference
    summary = convert_checkpoint(
        args.source, args.output_dir, format=args.format, name=args.name, **options
    )
    print(f"Converted {args.source} ({summary['format']}) into {summary['preset_dir']}")
    print(f"  mapped:  {_names_summary(summary.get('mapped'))}")
    print(f"  skipped: {_names_summary(summary.get('skipped'))}")
    differences = summary.get("max_relative_difference") or {}
    if not isinstance(differences, dict):
        differences = {"output": differences}
    for output, value in differences.items():
        print(f"  {output}: largest relative difference to the reference {value:.3g}")
    return 0


def _names_summary(names):
    """``"<count> (<group> <count>, ...)"`` for checkpoint variable names, grouped by origin."""
    if names is None:
        return "?"
    if isinstance(names, int):
        return str(names)
    groups = {}
    for name in names:
        # Converters list names, or tuples that start with the checkpoint's name.
        name = name[0] if isinstance(name, (tuple, list)) else name
        parts = re.split(r"[/.]", str(name))
        key = "optimizer" if parts[-1] in ("Momentum", "optimizer") else parts[0]
        groups[key] = groups.get(key, 0) + 1
    detail = ", ".join(f"{key} {count}" for key, count in sorted(groups.items()))
    return f"{len(names)} ({detail})" if names else "0"


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
    _add_model_flags(extract)
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
    _add_model_flags(probe)
    probe.add_argument("--seed", type=int, default=0)
    probe.add_argument("--output", help="also write the results as JSON here")
    probe.add_argument("--output-dir", help="write results.json and probe.png here")
    probe.add_argument("--quiet", action="store_true", help="no progress bar")
    probe.set_defaults(run=_cmd_probe)

    convert = commands.add_parser(
        "convert",
        help="official SimCLR / CPC_audio checkpoint -> preset",
        description="Convert an official checkpoint into a preset directory: a SimCLR TF1 "
        "checkpoint (prefix model.ckpt-N, its .index file or its folder) or a CPC_audio .pt "
        "file or training folder. Prints the variables mapped and skipped and, with "
        "--reference, the largest relative difference of each output.",
    )
    convert.add_argument("source", help="checkpoint file, prefix or folder")
    convert.add_argument("output_dir", help="new preset directory (must not exist)")
    convert.add_argument(
        "--format",
        default="auto",
        choices=("auto", "simclr_tf1", "cpc_audio"),
        help="source format",
    )
    convert.add_argument(
        "--reference", help="reference_outputs.npz of the official code, checked after conversion"
    )
    convert.add_argument(
        "--name",
        help="preset name for the card; a remote preset's name adds its source URL, "
        "published numbers and options",
    )
    convert.add_argument("--quiet", action="store_true", help="no progress bar")
    convert.set_defaults(run=_cmd_convert)
    return parser


def main(argv=None):
    """Entry point of the ``keras-cpc`` console script; returns the exit status.

    Args:
        argv: the arguments after the program name; None reads ``sys.argv``.

    Example:
        >>> main(["presets"])
        0
    """
    quiet_backend_logs()  # before any command imports a backend
    args = build_parser().parse_args(argv)
    try:
        if args.run in (_cmd_extract, _cmd_probe, _cmd_convert):
            import_backend_quietly(tensorflow_too=args.run is _cmd_convert)
        if args.run in (_cmd_extract, _cmd_probe):
            from keras_cpc.training.process import prepare_process

            # Before any model exists: TensorFlow and JAX fix their thread pools at first use.
            prepare_process(args.threads)
        return args.run(args)
    except BrokenPipeError:
        # The reader went away (``keras-cpc presets | head``): stop quietly, and point stdout
        # at /dev/null so that Python's flush at exit does not raise again.
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except (ValueError, OSError, ImportError) as error:
        print(f"keras-cpc {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
