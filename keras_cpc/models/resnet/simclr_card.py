"""Metadata and model-card sections of a preset converted from an official SimCLR checkpoint.

Everything on the card comes from the checkpoint files (names, sizes, sha256), the converter's
findings and what the caller passes (URL, published numbers); no machine path is recorded.
"""

from pathlib import Path

from keras_cpc.presets.integrity import sha256_of

LICENCE = {
    "code": "Apache-2.0 (google-research/simclr, the code that trained and released the weights)",
    "weights": (
        "unverified: no separate licence statement for the released weights was found; check "
        "the google-research/simclr README before redistributing them"
    ),
}
INPUT_NOTE = (
    "RGB images with pixel values in [0, 255] (uint8 or float), multiplied by 1/255 inside the "
    "model: the official network sees RGB in [0, 1], with no mean/std normalisation"
)
FORMATS = {
    "simclr_tf1": "TF1 name-based checkpoint of google-research/simclr",
    "simclr_tf2": "object-based checkpoint (tf.train.Checkpoint) of google-research/simclr tf2/",
}
IMAGENET_EVAL_NOTE = (
    "official ImageNet evaluation: a center crop of 87.5% of the image, resized (bicubic) to "
    "224 x 224"
)


def _architecture_text(config):
    width = config["width_multiplier"]
    text = f"ResNet-{config['depth']} {width}x"
    if config["sk_ratio"] > 0:
        text += f" with selective kernels (sk_ratio {config['sk_ratio']:g})"
    return text


def card_metadata(reader, config, summary, source_url, published, reference_outputs):
    """``metadata.json`` entries of a converted preset.

    Args:
        reader: the `TFCheckpointReader` of the source checkpoint.
        config: the converter's ``config`` dict.
        summary: ``{"mapped", "skipped", "max_relative_difference"}``.
        source_url: the checkpoint's URL or None.
        published: ``{label: value}`` of published results or None.
        reference_outputs: the reference file compared with, or None.

    Example:
        >>> metadata = card_metadata(reader, config, summary, url, {"top1": 71.7}, None)
    """
    files = [
        {"name": path.name, "bytes": path.stat().st_size, "sha256": sha256_of(path)}
        for path in reader.files
    ]
    preprocessing = {
        "pixel_range": [0, 255],
        "channels": "RGB",
        "scaling": "x / 255 inside the model (the official network sees [0, 1]), no mean/std",
    }
    if config["stem"] == "imagenet":
        preprocessing["evaluation"] = IMAGENET_EVAL_NOTE
    heads = "backbone only"
    if config["include_head"]:
        heads = f"{config['head_layers']}-layer projection head"
        if config["num_classes"]:
            heads += f" and the {config['num_classes']}-class linear-eval head (probe)"
    return {
        "description": (
            f"SimCLR {_architecture_text(config)} ({heads}), converted from the official "
            f"checkpoint {reader.prefix.name}"
        ),
        "preprocessing": preprocessing,
        "training_data": None,
        "source": {
            "format": FORMATS[config["format"]],
            "checkpoint": reader.prefix.name,
            "url": source_url,
            "files": files,
            "global_step": config["global_step"],
            "weights": "ema_model/ copy (moving average)" if config["use_ema"] else "trained",
        },
        "licence": LICENCE,
        "published_results": dict(published) if published else None,
        "conversion": {
            "mapped": len(summary["mapped"]),
            "skipped": len(summary["skipped"]),
            "reference_outputs": Path(reference_outputs).name if reference_outputs else None,
            "max_relative_difference": summary["max_relative_difference"],
        },
    }


def card_sections(metadata, include_head):
    """Model-card sections (`keras_cpc.presets.card.model_card`) of a converted preset.

    Args:
        metadata: the entries from `card_metadata`.
        include_head: whether the preset holds the `SimCLRPretrainer` task.
    """
    source = metadata["source"]
    origin = f" from {source['url']}" if source["url"] else ""
    lines = [f"- Checkpoint: `{source['checkpoint']}`{origin} ({source['format']})"]
    lines += [
        f"- `{f['name']}`: {f['bytes']:,} bytes, sha256 `{f['sha256']}`" for f in source["files"]
    ]
    if source["global_step"] is not None:
        lines.append(f"- Global step: {source['global_step']}; weights: {source['weights']}")
    lines += [
        f"- Licence of the code: {metadata['licence']['code']}",
        f"- Licence of the weights: {metadata['licence']['weights']}",
    ]
    conversion = metadata["conversion"]
    checked = conversion["max_relative_difference"]
    verify = [
        f"- {conversion['mapped']} variables mapped by name, {conversion['skipped']} skipped "
        "(optimizer slots, global_step, unused copies or heads)"
    ]
    if checked:
        verify.append(
            f"- Checked against `{conversion['reference_outputs']}` (outputs of the official "
            "code), max |ours - reference| / max |reference| per output:"
        )
        verify += [f"  - {key}: {value:.2e}" for key, value in checked.items()]
    else:
        verify.append("- Not compared with reference outputs of the official code")
    sections = {
        "objective": [
            "- Objective: SimCLR contrastive pretraining, run by the authors "
            "(google-research/simclr); converted here, not trained here",
        ],
        "source": lines,
        "conversion": verify,
        "input": [f"- {INPUT_NOTE}"]
        + (
            [f"- {metadata['preprocessing']['evaluation']}"]
            if "evaluation" in metadata["preprocessing"]
            else []
        ),
    }
    published = metadata.get("published_results")
    if published:
        sections["published results (published, not measured here)"] = [
            f"- {key}: {value}" for key, value in published.items()
        ]
    usage = [
        "from keras_cpc.models import ResNetBackbone",
        'backbone = ResNetBackbone.from_preset("{name}")',
        "features = backbone.predict(images)  # RGB, pixel values in [0, 255]",
    ]
    if include_head:
        usage += [
            "",
            "# Continue pretraining with the converted projection head:",
            "from keras_cpc.models import SimCLRPretrainer",
            'pretrainer = SimCLRPretrainer.from_preset("{name}")',
        ]
    sections["usage"] = usage
    return sections
