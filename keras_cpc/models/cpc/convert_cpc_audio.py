"""Convert a facebookresearch/CPC_audio checkpoint into a `CPCBackbone` preset."""

import sys
from pathlib import Path

import keras
import numpy as np
from tqdm.auto import tqdm

from keras_cpc.data.audio import RESAMPLER
from keras_cpc.models.cpc.cpc_audio_checkpoint import (
    architecture_flags,
    backbone_kwargs,
    map_state,
    read_checkpoint,
)
from keras_cpc.models.cpc.cpc_backbone import CPCBackbone
from keras_cpc.presets.integrity import sha256_of

REPOSITORY = "https://github.com/facebookresearch/CPC_audio"
LICENCE = (
    "MIT (facebookresearch/CPC_audio code, Copyright (c) Facebook, Inc. and its affiliates); "
    "no separate licence statement for released checkpoints was found"
)
PUBLISHED_NOTE = "published by the source named here, not measured by keras_cpc"
# CPC_audio feeds raw waveforms as soundfile reads them (floats in [-1, 1], stereo averaged),
# with no peak or loudness normalisation: features of these weights depend on the level.
PREPROCESSING = {
    "sample_rate": 16000,
    "dtype": "float32",
    "mono": "average",
    "integer_pcm": "divided by 32768",
    "resampler": RESAMPLER,
    "normalization": None,
    "input_range": "raw waveform in [-1, 1] as read by soundfile (no peak normalisation)",
}


def convert_cpc_audio_checkpoint(
    source,
    output_dir,
    *,
    name=None,
    reference_outputs=None,
    source_url=None,
    published=None,
    progress=True,
    state_key=None,
    tolerance=1e-4,
    overwrite=False,
):
    """Convert a CPC_audio checkpoint (weights by name) and save it as a `CPCBackbone` preset.

    Reads a hub / Libri-light ``.pt`` (``{"config", "weights"}``) or a ``cpc/train.py``
    checkpoint (``checkpoint_<epoch>.pt`` or its folder, with ``checkpoint_args.json``) via
    ``torch.load(weights_only=True)``; torch is needed only here. The architecture comes from
    the checkpoint's flags: 5 strided Conv1d + ChannelNorm (unbiased variance, eps 1e-5), a
    1-layer LSTM or GRU; anything else is refused. Tensors are mapped by name; a missing,
    unexpected or misshapen one raises ValueError listing it. The criterion, optimizer and
    the other model state of a training checkpoint are skipped (listed in ``skipped``). With
    ``reference_outputs``, the converted model must reproduce them before anything is saved.
    The preset (written atomically) expects 16 kHz mono float waveforms in [-1, 1] with no
    normalisation, as CPC_audio reads audio; its metadata says so.

    Args:
        source: ``.pt`` file or training checkpoint folder.
        output_dir: the preset folder to write.
        name: preset name on the model card (default: the folder name).
        reference_outputs: optional ``.npz`` with ``input`` (batch, 1, samples),
            ``encoded_z`` and ``context_c`` (batch, frames, channels) from the official code.
        source_url: where ``source`` was downloaded from, for the card.
        published: optional dict of published results, e.g. ``{"source": "SUPERB
            leaderboard", "KS accuracy (%)": 92.02}``; recorded as published, not measured.
        progress: show a tqdm bar on stderr.
        state_key: training checkpoints: ``"gEncoder"`` (default) or ``"best"``.
        tolerance: largest accepted ``max|ours - ref| / max|ref|`` for z and c.
        overwrite: replace an existing ``output_dir``.

    Returns:
        dict with ``preset_dir`` (str), ``mapped`` (``[(source key, Keras weight path,
        source shape)]``; the two recurrent biases map to one Keras bias),
        ``skipped`` (names not converted), ``max_relative_difference`` (``{"z", "c"}`` or
        None) and ``config`` (the `CPCBackbone` config).

    Example:
        >>> result = convert_cpc_audio_checkpoint("60k_epoch4-d0f474de.pt", "presets/cpc60k")
        >>> backbone = CPCBackbone.from_preset(result["preset_dir"])
    """
    bar = tqdm(
        total=4, desc="convert CPC_audio", unit="step", disable=not progress, file=sys.stderr
    )
    try:
        bar.set_postfix_str("read")
        checkpoint = read_checkpoint(source, state_key=state_key)
        bar.update()
        bar.set_postfix_str("map")
        backbone = CPCBackbone(**backbone_kwargs(checkpoint.config))
        mapped = map_state(checkpoint.state, backbone)
        bar.update()
        differences = None
        if reference_outputs is not None:
            bar.set_postfix_str("verify")
            differences = compare_with_reference(backbone, reference_outputs, tolerance)
        bar.update()
        bar.set_postfix_str("save")
        metadata = _metadata(checkpoint, source_url, published, differences, reference_outputs)
        saved = backbone.save_to_preset(
            output_dir,
            overwrite=overwrite,
            metadata=metadata,
            card_sections=_card_sections(metadata, differences),
            name=name,
        )
        bar.update()
    finally:
        bar.close()
    return {
        "preset_dir": str(saved),
        "mapped": mapped,
        "skipped": list(checkpoint.skipped),
        "max_relative_difference": differences,
        "config": backbone.get_config(),
    }


def compare_with_reference(backbone, reference_outputs, tolerance=1e-4):
    """``{"z", "c"}``: ``max|ours - ref| / max|ref|`` of the official outputs; raises
    ValueError when one exceeds ``tolerance``.

    Example:
        >>> compare_with_reference(backbone, "reference_outputs.npz")
        {'z': 7.4e-07, 'c': 7.7e-07}
    """
    with np.load(Path(reference_outputs).expanduser()) as data:
        missing = {"input", "encoded_z", "context_c"} - set(data.files)
        if missing:
            raise ValueError(
                f"Expected reference outputs with 'input', 'encoded_z' and 'context_c'; "
                f"{Path(reference_outputs).name} lacks {sorted(missing)}."
            )
        inputs, references = data["input"], {"z": data["encoded_z"], "c": data["context_c"]}
    if inputs.ndim == 3:  # CPC_audio's (batch, 1, samples)
        inputs = inputs[:, 0, :]
    outputs = backbone.encode(inputs.astype("float32"))
    differences = {}
    for key, reference in references.items():
        ours = keras.ops.convert_to_numpy(outputs[key])
        if ours.shape != reference.shape:
            raise ValueError(
                f"Converted {key} has shape {ours.shape}; the reference has {reference.shape}."
            )
        scale = float(np.max(np.abs(reference))) or 1.0
        differences[key] = float(np.max(np.abs(ours - reference))) / scale
    failed = {k: v for k, v in differences.items() if not v <= tolerance}
    if failed:
        raise ValueError(
            "The converted model does not reproduce the reference outputs: max|ours - ref| / "
            f"max|ref| = {differences} (tolerance {tolerance:g}); nothing was saved."
        )
    return differences


def _metadata(checkpoint, source_url, published, differences, reference_outputs):
    flags = architecture_flags(checkpoint.config)
    source = {
        "file": checkpoint.file.name,
        "url": source_url,
        "sha256": sha256_of(checkpoint.file),
        "layout": checkpoint.layout,
        "state": checkpoint.state_key,
        "repository": REPOSITORY,
        "licence": LICENCE,
        "cpc_audio_flags": flags,
    }
    metadata = {
        "description": (
            f"CPC_audio model ({flags['arMode']} context, {flags['hiddenEncoder']} encoder "
            f"channels, ChannelNorm) converted from {checkpoint.file.name}; input: 16 kHz mono "
            "float waveforms in [-1, 1], not normalised"
        ),
        "preprocessing": dict(PREPROCESSING),
        "source": source,
        "licence": LICENCE,
        "conversion": {
            "converter": "keras_cpc.models.cpc.convert_cpc_audio",
            "skipped": list(checkpoint.skipped),
            "reference_outputs": Path(reference_outputs).name if reference_outputs else None,
            "max_relative_difference": differences,
        },
    }
    if published:
        if not isinstance(published, dict):
            raise ValueError(f"Expected `published` as a dict; received {type(published)}.")
        metadata["published_results"] = {"note": PUBLISHED_NOTE, **published}
    return metadata


def _card_sections(metadata, differences):
    source = metadata["source"]
    origin = f" from {source['url']}" if source["url"] else ""
    lines = [
        f"- Converted from `{source['file']}`{origin} (CPC_audio {source['layout']} layout, "
        f"state `{source['state']}`), sha256 `{source['sha256']}`",
        f"- Original code: {source['repository']}; licence: {source['licence']}",
        "- CPC_audio flags: " + ", ".join(f"{k} {v}" for k, v in source["cpc_audio_flags"].items()),
        "- Input: 16 kHz mono float waveform in [-1, 1] as soundfile reads it, with no peak or "
        "loudness normalisation; each clip starts from a zero recurrent state",
    ]
    if differences is not None:
        lines.append(
            "- Checked against the official outputs "
            f"(`{metadata['conversion']['reference_outputs']}`): max|ours - ref| / max|ref| = "
            f"{differences['z']:.2e} (z), {differences['c']:.2e} (c)"
        )
    sections = {"source": lines}
    published = metadata.get("published_results")
    if published:
        sections["published results (not measured here)"] = [
            f"- {key}: {value}" for key, value in published.items() if key != "note"
        ] + [f"- ({PUBLISHED_NOTE})"]
    sections["usage"] = [
        "from keras_cpc.data import load_audio",
        "from keras_cpc.models import CPCBackbone",
        'backbone = CPCBackbone.from_preset("{name}")',
        'waveform, _ = load_audio("speech.flac", sample_rate=16000)  # mono, not normalised',
        "outputs = backbone.encode(waveform[None])  # z, c: 100 frames/s; embedding",
    ]
    return sections
