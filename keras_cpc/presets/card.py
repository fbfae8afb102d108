"""The one model-card writer: a preset's README.md, rendered from its metadata.

It renders only what the metadata holds (a missing entry is left out, not invented) and prints
no path of its own: every path on the card is one the metadata was given, so a training run
that records commands relative to a data root gets a card free of machine paths.
"""

import json

# Entries of a ``training`` record, in order of preference, that hold the training wall time.
_WALL_TIME_KEYS = ("wall_time_s_all_epochs", "wall_time_s_this_process", "wall_time_s")


def model_card(name, metadata, sections=None):
    """Markdown model card for the preset ``name``: what it is, how it was made, what it scores.

    Args:
        name: the preset name (the card's title and the name in the usage snippet).
        metadata: the preset metadata. Rendered when present: ``description``, ``class_name``
            and ``parameter_count``, ``input_spec``, ``preprocessing`` (a dict, e.g. pixel
            range and image size, or sample rate, channels and normalisation), ``dtype``,
            versions and ``backend``, ``training_data`` (a str, or a dict with ``source``,
            ``examples``, ``held_out``, ``split``), ``seed``, ``training`` (wall time and
            ``final_epoch_metrics``), ``hardware``, ``training_command``, ``probe_results``
            (a `probe_table_markdown` summary, optionally with its ``command``) and
            ``probe_command``.
        sections: optional ``{title: lines}``. ``"objective"`` lines open the Training
            section; ``"usage"`` lines replace the Python snippet of the Usage section
            (``{name}`` in them becomes the preset name); any other title adds a section.

    Example:
        >>> card = model_card("my_cpc", metadata, sections={"objective": ["- Objective: CPC"]})
        >>> (preset_dir / "README.md").write_text(card)
    """
    sections = dict(sections or {})
    lines = [f"# {name}", ""]
    if metadata.get("description"):
        lines += [metadata["description"].rstrip(".") + ".", ""]
    summary = _summary_lines(metadata)
    if summary:
        lines += summary + [""]
    training = list(sections.pop("objective", [])) + _training_lines(metadata)
    if training:
        lines += ["## Training", ""] + training + [""]
    probe = _probe_lines(metadata)
    if probe:
        lines += ["## Linear probe (measured)", ""] + probe + [""]
    usage = sections.pop("usage", None)
    for title, extra in sections.items():
        lines += [f"## {title[:1].upper()}{title[1:]}", "", *extra, ""]
    lines += ["## Usage", "", "```python"]
    lines += [line.replace("{name}", name) for line in (usage or _default_usage(metadata))]
    lines += ["```", ""]
    return "\n".join(lines)


def probe_table_markdown(summary):
    """Markdown lines of a probe summary: its split, then one row per task, one column per
    feature set, accuracies in percent.

    Args:
        summary: ``{"split": str, "columns": [feature set, ...],
            "accuracy": {task: {feature set: accuracy in [0, 1]}}}``.

    Example:
        >>> print("\\n".join(probe_table_markdown(metadata["probe_results"])))
    """
    columns = list(summary["columns"])
    lines = []
    if summary.get("split"):
        lines += [f"Split: {summary['split'].rstrip('.')}.", ""]
    lines += ["| task | " + " | ".join(columns) + " |", "|---|" + "---:|" * len(columns)]
    for task, row in summary["accuracy"].items():
        cells = [f"{100 * row[c]:.1f}%" if row.get(c) is not None else "-" for c in columns]
        lines.append(f"| {task} | " + " | ".join(cells) + " |")
    return lines


def _summary_lines(metadata):
    lines = []
    if metadata.get("class_name"):
        count = metadata.get("parameter_count")
        params = f" ({count:,} parameters)" if isinstance(count, int) else ""
        lines.append(f"- Backbone: `{metadata['class_name']}`{params}")
    if metadata.get("input_spec"):
        lines.append(f"- Input: `{json.dumps(metadata['input_spec'])}`")
    if metadata.get("preprocessing"):
        lines.append(f"- Preprocessing: {_key_values(metadata['preprocessing'])}")
    if metadata.get("dtype"):
        lines.append(f"- dtype: `{metadata['dtype']}`")
    if metadata.get("keras_cpc_version") or metadata.get("keras_version"):
        backend = f" ({metadata['backend']} backend)" if metadata.get("backend") else ""
        lines.append(
            f"- Saved with keras_cpc {metadata.get('keras_cpc_version', '?')}, Keras "
            f"{metadata.get('keras_version', '?')}{backend}"
        )
    return lines


def _training_lines(metadata):
    lines = []
    data = metadata.get("training_data")
    if isinstance(data, dict):
        text = f"- Data: `{data.get('source', 'not recorded')}`"
        if data.get("examples") is not None:
            text += f", {data['examples']} training examples"
        if data.get("held_out") is not None:
            split = f" ({data['split']})" if data.get("split") else ""
            text += f"; {data['held_out']} held out{split}"
        lines.append(text)
    elif data:
        lines.append(f"- Data: {data}")
    if metadata.get("seed") is not None:
        lines.append(f"- Seed: {metadata['seed']}")
    training = metadata.get("training") or {}
    wall = next((training[k] for k in _WALL_TIME_KEYS if training.get(k) is not None), None)
    if wall is not None:
        lines.append(
            f"- Wall time: {wall} s of training (sum of the epochs' times over all processes "
            "of the run)"
        )
    hardware = metadata.get("hardware")
    if hardware:
        lines.append(f"- Hardware: {_hardware_text(hardware)}")
    # An empty record (a run resumed after its last epoch) says nothing: leave it out.
    if training.get("final_epoch_metrics"):
        lines.append(f"- Final epoch metrics: `{json.dumps(training['final_epoch_metrics'])}`")
    if metadata.get("training_command"):
        lines += ["", "Exact command:", "", "```", metadata["training_command"], "```"]
    return lines


def _hardware_text(hardware):
    if not isinstance(hardware, dict):
        return str(hardware)
    text = hardware.get("cpu", "CPU not recorded")
    if hardware.get("cpu_cores_usable") is not None:
        text += f" ({hardware['cpu_cores_usable']} usable cores)"
    text += f", accelerators: {', '.join(hardware.get('accelerators') or []) or 'none'}"
    if hardware.get("keras"):
        text += f"; Keras {hardware['keras']}"
    if hardware.get("backend"):
        text += f", {hardware['backend']} backend"
    return text


def _probe_lines(metadata):
    probe = metadata.get("probe_results")
    if not probe:
        return []
    if isinstance(probe, dict) and "columns" in probe and "accuracy" in probe:
        lines = probe_table_markdown(probe)
    else:
        lines = ["```", json.dumps(probe, indent=2), "```"]
    command = (probe.get("command") if isinstance(probe, dict) else None) or metadata.get(
        "probe_command"
    )
    if command:
        lines += ["", "Command:", "", "```", command, "```"]
    return lines


def _key_values(node):
    if not isinstance(node, dict):
        return str(node)
    return "; ".join(f"{key}: {_value_text(value)}" for key, value in node.items())


def _value_text(value):
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return str(value)


def _default_usage(metadata):
    registered = metadata.get("class_name") or "keras_cpc>Backbone"
    class_name = registered.split(">")[-1]
    return [
        f"from keras_cpc.models import {class_name}",
        f'backbone = {class_name}.from_preset("{{name}}")',
        "features = backbone.predict(inputs)",
    ]
