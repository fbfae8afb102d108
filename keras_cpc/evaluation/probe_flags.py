"""`probe_preset` options and ``examples/linear_probe.py`` flags, each from the other.

The probe's command line is a record as much as an interface: a preset probed after pretraining
publishes the ``linear_probe.py`` command that reproduces its numbers. The two directions live
side by side so that they cannot drift apart.
"""

from keras_cpc.evaluation.protocols import probe_preset
from keras_cpc.training.records import exact_command

PROBE_SCRIPT = "examples/linear_probe.py"
# probe_preset options whose flag is the option's name with dashes, value as is.
_PLAIN = ("image_size", "holdout_fraction", "digits_test_fraction", "heldout_indices", "limit",
          "train_limit", "batch_size", "dtype_policy", "seed", "output_dir",
          "projection")  # fmt: skip


def probe_options(flags):
    """`probe_preset` keyword arguments from parsed ``linear_probe.py``-style flags.

    Only the flags present are read, so a parser with a subset (the ``keras-cpc probe``
    command) gets the library's defaults for the rest.

    Args:
        flags: an `argparse.Namespace` (or dict) with any of ``image_size``,
            ``holdout_fraction``, ``digits_test_fraction``, ``heldout_indices``, ``limit``,
            ``train_limit``, ``batch_size``, ``dtype_policy``, ``seed``, ``output_dir``,
            ``projection``,
            ``no_loso``, ``c_values`` ("0.1,1"), ``quiet``, ``patience`` ("2" or "none").

    Returns:
        A dict of `probe_preset` keyword arguments.

    Example:
        >>> probe_options({"c_values": "0.1,1", "quiet": True})
        {'c_values': [0.1, 1.0], 'progress': False}
    """
    given = flags if isinstance(flags, dict) else vars(flags)
    options = {name: given[name] for name in _PLAIN if name in given}
    if "no_loso" in given:
        options["leave_one_speaker_out"] = not given["no_loso"]
    if "c_values" in given:
        options["c_values"] = [float(c) for c in str(given["c_values"]).split(",")]
    if "quiet" in given:
        options["progress"] = not given["quiet"]
    if "patience" in given:
        patience = str(given["patience"])
        options["patience"] = None if patience.lower() == "none" else int(patience)
    return options


def probe_command(preset, data, **options):
    """The ``linear_probe.py`` command that runs `probe_preset` with these options.

    Args:
        preset: the preset name or directory.
        data: the probe's data (a path, ``tfds:NAME`` or None).
        **options: `probe_preset` options; None values are left out (the script's default).

    Returns:
        The command as `keras_cpc.training.exact_command` writes it: pasteable, paths made
        relative to the data root.

    Example:
        >>> probe_command("runs/simclr", "/data/cifar10/train", seed=0)
        "python examples/linear_probe.py runs/simclr --data '$DATA/cifar10/train' --seed 0"
    """
    unknown = sorted(set(options) - {*_PLAIN, "leave_one_speaker_out", "c_values", "patience"})
    if unknown:
        raise TypeError(
            f"Expected probe_preset options with a linear_probe.py flag; received {unknown}."
        )
    flags = [preset] if data is None else [preset, "--data", data]
    for name, value in options.items():
        if name == "leave_one_speaker_out":
            flags += [] if value else ["--no-loso"]
        elif name == "c_values":
            flags += ["--c-values", ",".join(f"{float(c):g}" for c in value)]
        elif name == "patience" or value is not None:
            flags += ["--" + name.replace("_", "-"), "none" if value is None else value]
    return exact_command(PROBE_SCRIPT, flags)


def probe_metadata(preset_dir, data, **options):
    """Probe a just-saved preset and return what its metadata and card should show.

    Args:
        preset_dir: the preset directory.
        data: the probe's data.
        **options: `probe_preset` options with a flag (see `probe_command`); ``output_dir``
            defaults to a folder next to the preset, ``<preset_dir>_probe``.

    Returns:
        ``{"probe_results": summary, "probe_command": command}``, to merge into the metadata
        before saving the preset again.

    Example:
        >>> metadata.update(probe_metadata("runs/simclr", "~/data/cifar10/train", seed=0))
        >>> backbone.save_to_preset("runs/simclr", overwrite=True, metadata=metadata)
    """
    options.setdefault("output_dir", str(preset_dir).rstrip("/") + "_probe")
    command = probe_command(preset_dir, data, **options)
    results = probe_preset(preset_dir, data, **options, command=command)
    return {"probe_results": results["summary"], "probe_command": command}
