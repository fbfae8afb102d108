"""Official checkpoints into presets: format detection and dispatch to each family's converter.

Two formats are read:

* ``simclr_tf1``: a TF1 checkpoint of google-research/simclr (v1 or v2): the prefix
  ``.../model.ckpt-250228``, one of its ``.index`` / ``.data-*`` files, or the folder holding
  them with its ``checkpoint`` file. Converted by
  `keras_cpc.models.resnet.convert_simclr.convert_simclr_checkpoint`.
* ``cpc_audio``: a facebookresearch/CPC_audio checkpoint: a ``.pt`` file (the Libri-light
  release ``{"config", "weights"}`` or a training ``checkpoint_<n>.pt``) or a training folder
  with ``checkpoint_args.json``. Converted by
  `keras_cpc.models.cpc.convert_cpc_audio.convert_cpc_audio_checkpoint`.

Importing this module also tells `keras_cpc.presets.remote` how to find the converter a remote
preset names (`load_converter`), so that the presets package never imports the models.
"""

import importlib
from pathlib import Path

from keras_cpc.presets.registry import registered_presets
from keras_cpc.presets.remote import register_converter_loader

CONVERTERS = {
    "simclr_tf1": "keras_cpc.models.resnet.convert_simclr:convert_simclr_checkpoint",
    "cpc_audio": "keras_cpc.models.cpc.convert_cpc_audio:convert_cpc_audio_checkpoint",
}
FORMATS = ("auto", *CONVERTERS)


def load_converter(spec):
    """The converter function named ``"keras_cpc.models.<family>.<module>:<function>"``.

    Only this package's own modules are accepted: a registry entry cannot make it import
    anything else.

    Args:
        spec: the converter's module and function, separated by ``:``.

    Example:
        >>> convert = load_converter(CONVERTERS["cpc_audio"])
    """
    module_name, _, function = str(spec).partition(":")
    if not module_name.startswith(f"{__package__}.") or not function.isidentifier():
        raise ValueError(
            f"A converter must be named 'keras_cpc.models.<family>.<module>:<function>'; "
            f"received {spec!r}."
        )
    converter = getattr(importlib.import_module(module_name), function, None)
    if not callable(converter):
        raise ValueError(f"{module_name} must define a function {function!r}; it does not.")
    return converter


register_converter_loader(load_converter)


def detect_format(source):
    """``"simclr_tf1"`` or ``"cpc_audio"``: the format of the checkpoint at ``source``.

    Args:
        source: a checkpoint file, TF1 checkpoint prefix, or folder (see the module doc).

    Example:
        >>> detect_format("downloads/60k_epoch4-d0f474de.pt")
        'cpc_audio'
    """
    path = Path(source).expanduser()
    if path.is_dir():
        if (path / "checkpoint").is_file() or any(path.glob("*.ckpt*.index")):
            return "simclr_tf1"
        if (path / "checkpoint_args.json").is_file() or any(path.glob("checkpoint_*.pt")):
            return "cpc_audio"
    elif path.is_file():
        if path.suffix in (".pt", ".pth"):
            return "cpc_audio"
        if path.suffix == ".index" or ".data-" in path.name:
            return "simclr_tf1"
        if path.suffix == ".zip":
            raise ValueError(
                f"{path} is an archive: unpack it first and pass the folder holding the "
                "`checkpoint` file (the SimCLR v1 zips hold a TF1 checkpoint)."
            )
    elif path.with_name(path.name + ".index").is_file():
        return "simclr_tf1"  # a TF1 prefix: model.ckpt-N
    else:
        raise FileNotFoundError(
            f"Expected a checkpoint at {path}; received a path that does not exist."
        )
    raise ValueError(
        f"Unknown checkpoint format at {path}. Expected one of: a SimCLR TF1 checkpoint "
        "(prefix model.ckpt-N, its .index/.data-* files, or their folder with a `checkpoint` "
        "file) or a CPC_audio checkpoint (.pt file, or a folder with checkpoint_args.json and "
        "checkpoint_<n>.pt). Pass --format simclr_tf1|cpc_audio to choose one explicitly."
    )


def tf1_prefix(source):
    """The checkpoint argument for the SimCLR converter: a prefix or a folder, as given.

    ``.index`` and ``.data-00000-of-00001`` files are turned into their prefix.

    Example:
        >>> tf1_prefix("r50_1x_sk0/model.ckpt-250228.index")
        'r50_1x_sk0/model.ckpt-250228'
    """
    text = str(Path(source).expanduser())
    if text.endswith(".index"):
        return text[: -len(".index")]
    if ".data-" in Path(text).name:
        return text[: text.rindex(".data-")]
    return text


def convert_checkpoint(source, output_dir, format="auto", name=None, **options):
    """Convert an official checkpoint into a preset at ``output_dir``; returns the summary.

    Args:
        source: the checkpoint (see the module doc).
        output_dir: where the preset is saved (atomically; it must not exist).
        format: ``"auto"`` (detected from ``source``), ``"simclr_tf1"`` or ``"cpc_audio"``.
        name: preset name for the model card. A registered remote preset name also supplies
            its source URL, published numbers and converter options (so a file downloaded by
            hand gives the same preset as the download).
        **options: passed to the converter (``reference_outputs``, ``progress``,
            ``include_head``, ...).

    Returns:
        The converter's dict: ``preset_dir``, ``mapped``, ``skipped``,
        ``max_relative_difference``, ``config``; plus ``format``.

    Example:
        >>> summary = convert_checkpoint("60k_epoch4-d0f474de.pt", "presets/cpc_60k",
        ...                              name="cpc_audio_librilight_60k")
    """
    if format not in FORMATS:
        raise ValueError(f"`format` must be one of {', '.join(FORMATS)}; received {format!r}.")
    detected = detect_format(source) if format == "auto" else format
    remote = (registered_presets().get(name) or {}).get("metadata", {}).get("remote")
    if remote is not None:
        if remote["converter"] != CONVERTERS[detected]:
            raise ValueError(
                f"Preset {name!r} is converted from the {_format_of(remote)} format; received "
                f"a {detected} checkpoint at {source}."
            )
        defaults = {
            "source_url": remote["base_url"].rstrip("/") + "/" + remote["source"],
            "published": remote.get("published"),
            **remote.get("converter_options", {}),
        }
        options = {**defaults, **options}
    source = tf1_prefix(source) if detected == "simclr_tf1" else str(Path(source).expanduser())
    converter = load_converter(CONVERTERS[detected])
    summary = converter(source, str(Path(output_dir).expanduser()), name=name, **options)
    return {**summary, "format": detected}


def _format_of(remote):
    return next((k for k, v in CONVERTERS.items() if v == remote["converter"]), "unknown")
