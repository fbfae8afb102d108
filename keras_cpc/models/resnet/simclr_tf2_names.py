"""Object-based checkpoints of the official SimCLR ``tf2/`` code, renamed to the TF1 names.

``tf2/run.py`` saves ``tf.train.Checkpoint(model=..., global_step=..., optimizer=...)``; its
keys are object paths such as
``model/resnet_model/block_groups/0/layers/0/conv_relu_dropblock_layers/3/conv2d/kernel/
.ATTRIBUTES/VARIABLE_VALUE``. The TF2 layer lists hold their layers in the order the TF1 code
creates them (stem; per block the projection, then the main branch; in a selective-kernel
unit the 3x3 conv, its BN, the reduce conv, its BN, the mixing conv), so numbering the convs
and batch norms along the parsed paths gives the TF1 names, and one name mapping
(`simclr_tf1_names`) serves both formats. Keys that match no known path keep their name and
are reported as unknown.
"""

import re

SUFFIX = "/.ATTRIBUTES/VARIABLE_VALUE"
_SKIPPED_KEYS = ("_CHECKPOINTABLE_OBJECT_GRAPH", "global_step" + SUFFIX, "save_counter" + SUFFIX)
_PARTS = {  # block attribute lists: shortcut first (TF1 creation order)
    "projection_layers": 0,
    "shortcut_layers": 0,
    "conv_relu_dropblock_layers": 1,
    "conv2d_bn_layers": 1,
}
_UNITS = {  # layers inside one list entry; an SK unit's in creation order
    "conv2d": 0,
    "bn": 0,
    "conv2d_fixed_padding/conv2d": 0,
    "batch_norm_relu/bn": 1,
    "conv2d_0": 2,
    "batch_norm_relu_1/bn": 3,
    "conv2d_1": 4,
}
_VARIABLE = r"(kernel|gamma|beta|moving_mean|moving_variance)"
_BACKBONE = re.compile(
    r"^model/resnet_model/(?:initial_conv_relu_max_pool/(\d+)|block_groups/(\d+)/layers/(\d+)/"
    rf"({'|'.join(_PARTS)})/(\d+))/({'|'.join(_UNITS)})/{_VARIABLE}$"
)
_HEAD = re.compile(
    r"^model/_projection_head/linear_layers/(\d+)/(dense/kernel|bn_relu/bn/(gamma|beta|"
    r"moving_mean|moving_variance))$"
)
_SUPERVISED = re.compile(r"^model/supervised_head/linear_layer/dense/(kernel|bias)$")


def is_tf2_checkpoint(names):
    """Whether checkpoint ``names`` are the object paths of the ``tf2/`` code."""
    return any(name.startswith("model/resnet_model/") for name in names)


def _is_skipped(name):
    return name in _SKIPPED_KEYS or "/.OPTIMIZER_SLOT/" in name


def select_variables(shapes):
    """``(used, skipped)`` as `simclr_tf1_names.select_variables` does, for a TF2 checkpoint:
    ``used`` maps TF1-style official names to TF2 keys.

    Example:
        >>> used, skipped = select_variables(TFCheckpointReader("ckpt_dir").shapes)
        >>> used["base_model/conv2d/kernel"]
        'model/resnet_model/initial_conv_relu_max_pool/0/conv2d/kernel/.ATTRIBUTES/VARIABLE_VALUE'
    """
    used, skipped, layers = {}, [], {}
    for key in sorted(shapes):
        if _is_skipped(key):
            skipped.append(key)
            continue
        path = key[: -len(SUFFIX)] if key.endswith(SUFFIX) else key
        if match := _BACKBONE.match(path):
            stem, group, block, part, index, unit, variable = match.groups()
            order = (0, 0, 0, 0, int(stem)) if stem is not None else (1, int(group), int(block))
            if stem is None:
                order += (_PARTS[part], int(index))
            layers.setdefault(order + (_UNITS[unit],), {})[variable] = key
        elif match := _HEAD.match(path):
            index, tail = match.group(1), match.group(2)
            name = "dense/kernel" if tail == "dense/kernel" else "batch_normalization/"
            used[f"head_contrastive/nl_{index}/{name}{match.group(3) or ''}"] = key
        elif match := _SUPERVISED.match(path):
            used[f"head_supervised/linear_layer/dense/{match.group(1)}"] = key
        else:
            used[key] = key  # unknown: reported by the name matching
    convs = norms = 0
    for order in sorted(layers):
        variables = layers[order]
        if "kernel" in variables:
            prefix, convs = f"base_model/conv2d{f'_{convs}' if convs else ''}", convs + 1
        else:
            prefix, norms = (
                f"base_model/batch_normalization{f'_{norms}' if norms else ''}",
                norms + 1,
            )
        for variable, key in variables.items():
            used[f"{prefix}/{variable}"] = key
    return used, skipped
