"""Reading facebookresearch/CPC_audio checkpoints and mapping their tensors by name.

The two layouts CPC_audio writes (see `convert_cpc_audio_checkpoint`):

* hub / Libri-light release: one ``.pt`` holding ``{"config": vars(args), "weights":
  CPCModel.state_dict()}`` (what ``hubconf.py`` and Libri-light's ``CPC_loader.py`` read);
* training: ``checkpoint_<epoch>.pt`` holding ``{"gEncoder": CPCModel.state_dict(),
  "cpcCriterion": ..., "optimizer": ..., "best": ...}`` with ``checkpoint_args.json``
  (``vars(args)``) beside it.

Files are read with ``torch.load(..., weights_only=True)``: only tensors and plain
containers are unpickled, never arbitrary objects.
"""

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

TORCH_EXTRA = "pip install 'keras-cpc[torch]' (or the [all] extra)"
ARGS_FILE = "checkpoint_args.json"
_EPOCH_FILE = re.compile(r"^checkpoint_(\d+)\.pt$")
# CPC_audio's defaults (cpc/cpc_default_config.py), used for flags a config lacks, as
# hubconf.py does with loadArgs(get_default_cpc_config(), ...).
DEFAULTS = {
    "encoder_type": "cpc",
    "hiddenEncoder": 256,
    "hiddenGar": 256,
    "normMode": "layerNorm",
    "arMode": "LSTM",
    "nLevelsGRU": 1,
    "cpc_mode": None,
    "samplingType": "samespeaker",
}
SUPPORTED = (
    "encoder_type 'cpc' (5 strided Conv1d layers), normMode 'layerNorm' (ChannelNorm), "
    "arMode 'LSTM' or 'GRU' with nLevelsGRU 1, cpc_mode None or 'none'"
)


@dataclass
class CPCAudioCheckpoint:
    """What a CPC_audio checkpoint holds: the model state (numpy), its config and layout."""

    state: dict
    config: dict
    layout: str  # "hub" or "train"
    file: Path
    state_key: str
    skipped: list = field(default_factory=list)


def _import_torch():
    try:
        import torch
    except ImportError as error:
        raise ImportError(
            "Reading CPC_audio .pt checkpoints needs PyTorch (only to read the file; the "
            f"converted preset runs on any backend). Install it with {TORCH_EXTRA}."
        ) from error
    return torch


def checkpoint_file(source):
    """The ``.pt`` file of ``source``: the file itself, or a training checkpoint folder's
    ``checkpoint_<epoch>.pt`` of the highest epoch (as CPC_audio's ``getCheckpointData``)."""
    path = Path(source).expanduser()
    if path.is_dir():
        epochs = [(int(m[1]), p) for p in path.iterdir() if (m := _EPOCH_FILE.match(p.name))]
        if not epochs:
            raise FileNotFoundError(
                "Expected a CPC_audio training folder with checkpoint_<epoch>.pt files; found "
                f"none in {path}."
            )
        return max(epochs)[1]
    if not path.is_file():
        raise FileNotFoundError(
            f"Expected a CPC_audio .pt checkpoint file or training folder; {path} does not exist."
        )
    return path


def _state_to_numpy(torch, state, where):
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"Expected a state dict (name -> tensor) at {where}.")
    # float() first: bfloat16 / float16 tensors have no portable numpy view.
    return {str(k): v.detach().cpu().float().numpy() for k, v in state.items()}


def read_checkpoint(source, state_key=None):
    """Read a CPC_audio checkpoint (hub file, training file or training folder).

    Args:
        source: a ``.pt`` file or a training checkpoint folder.
        state_key: training layout only: ``"gEncoder"`` (default, the last state) or
            ``"best"`` (the best-validation state).

    Returns:
        `CPCAudioCheckpoint`; ``skipped`` names the entries not converted (criterion tensors,
        optimizer, the other model state).

    Example:
        >>> checkpoint = read_checkpoint("60k_epoch4-d0f474de.pt")
        >>> checkpoint.config["arMode"]
        'LSTM'
    """
    path = checkpoint_file(source)
    torch = _import_torch()
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - any failure means "not a checkpoint we read"
        raise ValueError(
            f"Could not read {path.name} with torch.load(weights_only=True): expected a "
            f"CPC_audio checkpoint holding only tensors and plain containers. {error}"
        ) from error
    if not isinstance(data, dict):
        raise ValueError(f"Expected a dict in {path.name}; received {type(data).__name__}.")
    keys = sorted(map(str, data))
    if "weights" in data and "config" in data:
        if state_key not in (None, "weights"):
            raise ValueError(f"A hub-format file has one state ('weights'); got {state_key!r}.")
        if not isinstance(data["config"], dict):
            raise ValueError(f"Expected 'config' to be a dict in {path.name}.")
        state = _state_to_numpy(torch, data["weights"], f"{path.name}['weights']")
        skipped = [k for k in keys if k not in ("weights", "config")]
        return CPCAudioCheckpoint(state, dict(data["config"]), "hub", path, "weights", skipped)
    if "gEncoder" in data:
        state_key = state_key or "gEncoder"
        if state_key not in ("gEncoder", "best") or state_key not in data:
            raise ValueError(
                f"Expected state_key 'gEncoder' or 'best' (present in {path.name}: {keys}); "
                f"received {state_key!r}."
            )
        state = _state_to_numpy(torch, data[state_key], f"{path.name}[{state_key!r}]")
        return CPCAudioCheckpoint(
            state, _read_args(path), "train", path, state_key, _skipped_train(data, state_key)
        )
    raise ValueError(
        f"{path.name} is not a CPC_audio checkpoint: expected top-level keys "
        "{'config', 'weights'} (hub / Libri-light release) or 'gEncoder' (+ 'cpcCriterion', "
        f"'optimizer', 'best'; cpc/train.py); received {keys}."
    )


def _read_args(path):
    args = path.parent / ARGS_FILE
    if not args.is_file():
        raise FileNotFoundError(
            f"A CPC_audio training checkpoint needs its {ARGS_FILE} (the model's flags) in the "
            f"same folder; none next to {path.name}."
        )
    config = json.loads(args.read_text())
    if not isinstance(config, dict):
        raise ValueError(f"Expected a JSON object in {ARGS_FILE}; received {type(config)}.")
    return config


def _skipped_train(data, state_key):
    skipped = []
    for key in sorted(map(str, data)):
        if key == state_key:
            continue
        value = data[key]
        if key == "cpcCriterion" and isinstance(value, dict):
            skipped += [f"cpcCriterion/{name}" for name in value]
        else:
            skipped.append(key)
    return skipped


def architecture_flags(config):
    """The CPC_audio flags that fix the architecture, CPC_audio's defaults filled in."""
    return {**DEFAULTS, **{k: config[k] for k in DEFAULTS if k in config}}


def backbone_kwargs(config):
    """`CPCBackbone` arguments for a CPC_audio config (``vars(args)``); unsupported
    architectures raise ValueError naming what is supported.

    Example:
        >>> backbone_kwargs({"arMode": "GRU"})["context_network"]
        'gru'
    """
    flags = architecture_flags(config)
    problems = []
    if flags["encoder_type"] != "cpc":
        problems.append(f"encoder_type {flags['encoder_type']!r}")
    if flags["normMode"] != "layerNorm":
        problems.append(f"normMode {flags['normMode']!r}")
    if flags["arMode"] not in ("LSTM", "GRU"):
        problems.append(f"arMode {flags['arMode']!r}")
    if flags["nLevelsGRU"] != 1:
        problems.append(f"nLevelsGRU {flags['nLevelsGRU']!r}")
    if flags["cpc_mode"] not in (None, "none"):
        problems.append(f"cpc_mode {flags['cpc_mode']!r}")
    if problems:
        raise ValueError(
            f"Unsupported CPC_audio architecture ({', '.join(problems)}); supported: {SUPPORTED}."
        )
    return {
        "kernel_sizes": (10, 8, 4, 4, 4),
        "strides": (5, 4, 2, 2, 2),
        "encoder_dim": int(flags["hiddenEncoder"]),
        "normalization": "channel",
        "encoder_padding": "symmetric",
        "context_network": flags["arMode"].lower(),
        "context_dim": int(flags["hiddenGar"]),
        "context_layers": 1,
        "sample_rate": 16000,
    }


# ---- mapping by name --------------------------------------------------------------------------
def _conv_kernel(w):
    return np.transpose(w, (2, 1, 0))  # torch Conv1d [out, in, k] -> Keras [k, in, out]


def _gru_gates(w):
    # torch stacks the GRU gates r, z, n; Keras z, r, h (its h is torch's n: with
    # reset_after=True both apply the reset gate to (W_hn h + b_hn)).
    r, z, n = np.split(w, 3, axis=0)
    return np.concatenate([z, r, n], axis=0)


def expected_tensors(backbone):
    """``{source key: (keras variable, source shape, transform)}`` for a CPC_audio-shaped
    `CPCBackbone`; the LSTM's two biases both map to Keras' one bias (summed)."""
    expected = {}
    for i, (conv, norm) in enumerate(zip(backbone.encoder.convs, backbone.encoder.norms)):
        channels = conv.filters
        expected[f"gEncoder.conv{i}.weight"] = (
            conv.kernel,
            tuple(conv.kernel.shape)[::-1],
            _conv_kernel,
        )
        expected[f"gEncoder.conv{i}.bias"] = (conv.bias, (channels,), None)
        for torch_name, variable in (("weight", norm.gamma), ("bias", norm.beta)):
            expected[f"gEncoder.batchNorm{i}.{torch_name}"] = (
                variable,
                (1, channels, 1),
                lambda w: w.reshape(-1),
            )
    cell = backbone.context[0].cell
    hidden, inputs = cell.units, backbone.encoder_dim
    gates = 4 if backbone.context_network == "lstm" else 3
    reorder = _gru_gates if backbone.context_network == "gru" else (lambda w: w)
    prefix = "gAR.baseNet."
    expected[prefix + "weight_ih_l0"] = (
        cell.kernel,
        (gates * hidden, inputs),
        lambda w: reorder(w).T,
    )
    expected[prefix + "weight_hh_l0"] = (
        cell.recurrent_kernel,
        (gates * hidden, hidden),
        lambda w: reorder(w).T,
    )
    for name in ("bias_ih_l0", "bias_hh_l0"):
        expected[prefix + name] = (cell.bias, (gates * hidden,), reorder)
    return expected


def map_state(state, backbone):
    """Assign a CPC_audio ``CPCModel.state_dict()`` (numpy arrays) to ``backbone`` by name.

    Every key must be one the architecture expects, and every expected key must be present
    with its shape; otherwise a ValueError lists the missing, unexpected and misshapen keys
    and nothing is assigned.

    Returns:
        ``[(source key, keras variable path, source shape), ...]`` in state-dict order.

    Example:
        >>> mapped = map_state(checkpoint.state, backbone)
    """
    expected = expected_tensors(backbone)
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    misshapen = [
        f"{k} {tuple(state[k].shape)} (expected {expected[k][1]})"
        for k in expected
        if k in state and tuple(state[k].shape) != expected[k][1]
    ]
    problems = {"missing": missing, "unexpected": unexpected, "wrong shape": misshapen}
    if missing or unexpected or misshapen:
        details = "; ".join(f"{k}: {', '.join(v)}" for k, v in problems.items() if v)
        raise ValueError(
            "The checkpoint's state dict does not match a CPC_audio model with a "
            f"{backbone.context_network.upper()} context, {backbone.encoder_dim} encoder and "
            f"{backbone.context_dim} context channels; {details}."
        )
    values = {}
    for key, (variable, _, transform) in expected.items():
        value = state[key] if transform is None else transform(state[key])
        path = variable.path
        if path in values:  # LSTM: bias_ih + bias_hh; GRU: the (2, 3H) [b_ih; b_hh] pair
            values[path] = (variable, values[path][1] + [value])
        else:
            values[path] = (variable, [value])
    for variable, parts in values.values():
        if len(parts) == 1:
            value = parts[0]
        elif tuple(variable.shape) == (2, parts[0].shape[0]):
            value = np.stack(parts)
        else:
            value = parts[0] + parts[1]
        variable.assign(value.astype(variable.dtype))
    return [(k, expected[k][0].path, tuple(state[k].shape)) for k in state]
