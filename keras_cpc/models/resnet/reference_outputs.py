"""Comparing a converted SimCLR model with the outputs the official code computed."""

import keras
import numpy as np


def compare_with_reference(backbone, pretrainer, reference_outputs):
    """``{output name: max|ours - ref| / max|ref|}`` against the official code's outputs.

    Args:
        backbone: the converted `ResNetBackbone` (inputs in [0, 255]).
        pretrainer: the converted `SimCLRPretrainer` or None (backbone outputs only).
        reference_outputs: a ``reference_outputs.npz`` with ``input`` (NHWC RGB in [0, 1])
            and any of ``initial_conv``, ``initial_max_pool``, ``block_group1..4``,
            ``final_avg_pool``, ``proj_head_input``, ``head_nl_<i>_out``,
            ``proj_head_output``, ``logits_sup``.

    Example:
        >>> compare_with_reference(backbone, None, "reference_outputs.npz")["block_group4"]
    """
    with np.load(reference_outputs) as data:
        reference = {key: data[key] for key in data.files}
    images = reference["input"].astype("float32") * 255.0
    encoded = backbone.encode(images, training=False)
    ours = {key: encoded[key] for key in encoded if key not in ("feature_map", "pooled")}
    ours["final_avg_pool"] = ours["proj_head_input"] = encoded["pooled"]
    if pretrainer is not None:
        layers = pretrainer.projection_head.layer_outputs(encoded["pooled"], training=False)
        ours.update({f"head_nl_{i}_out": x for i, x in enumerate(layers)})
        ours["proj_head_output"] = layers[-1]
        if pretrainer.probe is not None:
            ours["logits_sup"] = pretrainer.probe(encoded["pooled"])
    differences = {}
    for key, expected in reference.items():
        if key == "input" or key not in ours:
            continue
        value = keras.ops.convert_to_numpy(ours[key]).astype("float64")
        if value.shape != expected.shape:
            raise ValueError(
                f"Output {key!r} has shape {value.shape}; the reference has {expected.shape}."
            )
        scale = float(np.max(np.abs(expected))) or 1.0
        differences[key] = float(np.max(np.abs(value - expected)) / scale)
    return differences
