"""Variable names of the official SimCLR TF1 checkpoints and their Keras counterparts.

The TF1 code (google-research/simclr ``resnet.py``, ``model_util.py``) names its layers by
TF1 auto-naming: ``base_model/conv2d_N`` and ``base_model/batch_normalization_N``, N = the
creation index (conv and batch-norm counters are separate). Mapping is by those names, rebuilt
here from the official creation order, never by the order of a weights list; shapes are checked
for every variable and any missing or unknown name is an error listing them all.
"""

import re

from keras_cpc.models.resnet.resnet_blocks import RESNET_STAGES

EMA_PREFIX = "ema_model/"
BN_VARIABLES = ("gamma", "beta", "moving_mean", "moving_variance")
SUPERVISED_HEAD = "head_supervised/linear_layer/dense/"
_CONV = re.compile(r"^base_model/conv2d(?:_(\d+))?/kernel$")
_BN = re.compile(r"^base_model/batch_normalization(?:_(\d+))?/gamma$")
_HEAD = re.compile(r"^head_contrastive/nl_(\d+)/dense/kernel$")
# The width of the last block's output at width 1 (bottleneck 4 x 512, basic 512).
_FINAL_WIDTH = {"bottleneck": 2048, "basic": 512}
# The only selective-kernel ratio of the released models (SimCLR v2 ``*_sk1``).
DEFAULT_SK_RATIO = 0.0625


def _indexed(base, index):
    return base if index == 0 else f"{base}_{index}"


def _is_skipped(name):
    # LARS / momentum optimizer slots and the step counter are not model weights.
    return name.endswith("/Momentum") or name.rsplit("/", 1)[-1] == "global_step"


def select_variables(shapes, use_ema=False):
    """Split checkpoint variables into the model copy to load and the names to skip.

    Args:
        shapes: ``{checkpoint name: shape}``.
        use_ema: load the ``ema_model/`` copy (exponential moving average of the weights)
            instead of the trained weights; the supervised head falls back to its plain copy
            when the checkpoint has no EMA one.

    Returns:
        ``(used, skipped)``: ``used`` maps official names (without ``ema_model/``) to
        checkpoint names; ``skipped`` lists the other checkpoint names, sorted.

    Example:
        >>> used, skipped = select_variables({"base_model/conv2d/kernel": (7, 7, 3, 64),
        ...                                   "global_step": ()})
        >>> used, skipped
        ({'base_model/conv2d/kernel': 'base_model/conv2d/kernel'}, ['global_step'])
    """
    used, skipped = {}, []
    ema = {name[len(EMA_PREFIX) :]: name for name in shapes if name.startswith(EMA_PREFIX)}
    if use_ema and not any(name.startswith("base_model/") for name in ema):
        raise ValueError(
            "use_ema=True needs the ema_model/ copy of the weights; this checkpoint has no "
            "ema_model/base_model/ variables. Pass use_ema=False."
        )
    for name in sorted(shapes):
        official = name[len(EMA_PREFIX) :] if name.startswith(EMA_PREFIX) else name
        if _is_skipped(name):
            skipped.append(name)
        elif name.startswith(EMA_PREFIX):
            if use_ema:
                used[official] = name
            else:
                skipped.append(name)
        elif use_ema and (official in ema or not official.startswith(SUPERVISED_HEAD)):
            skipped.append(name)
        else:
            used[official] = name
    return used, skipped


def infer_architecture(shapes):
    """Depth, width, stem and selective kernels of the backbone whose variables are ``shapes``.

    Args:
        shapes: ``{official name: shape}`` (see `select_variables`).

    Returns:
        ``{"depth", "width_multiplier", "stem", "sk_ratio"}``; ``sk_ratio`` is 0.0625 (the
        released value) when selective kernels are present: the variables only show that
        ``max(int(filters * sk_ratio), 32)`` widths match, checked later.

    Example:
        >>> infer_architecture(reader.shapes)
        {'depth': 50, 'width_multiplier': 1.0, 'stem': 'imagenet', 'sk_ratio': 0.0}
    """
    convs = {int(m.group(1) or 0): name for name in shapes if (m := _CONV.match(name))}
    norms = [int(m.group(1) or 0) for name in shapes if (m := _BN.match(name))]
    # Counted by the highest creation index: a renamed or missing layer leaves a gap, which
    # the name matching reports, instead of changing the inferred depth.
    num_convs, num_norms = max(convs, default=-1) + 1, max(norms, default=-1) + 1
    if 0 not in convs:
        raise ValueError(
            "Expected a SimCLR TF1 checkpoint (variables base_model/conv2d/kernel, "
            "base_model/batch_normalization/..., ...); received none of its backbone variables. "
            f"First names: {sorted(shapes)[:5]}."
        )
    first = shapes[convs[0]]
    second = shapes.get(convs.get(1))
    # The ResNet-D stem of the *_sk1 models: 3x3/2, 3x3, 3x3 convs; the plain one: 7x7/2.
    sk_stem = first[0] == 3 and second is not None and second[0] == 3
    stem = "imagenet" if first[0] == 7 or sk_stem else "cifar"
    sk = num_convs > num_norms  # the SK mixing conv is the only conv without a batch norm
    stem_convs = 3 if sk_stem else 1
    matches = []
    for depth, (block_type, stage_blocks) in RESNET_STAGES.items():
        if sk and block_type != "bottleneck":
            continue
        per_block = {"basic": 2, "bottleneck": 5 if sk else 3}[block_type]
        # Every stage's first block has a projection shortcut (one more conv).
        if stem_convs + len(stage_blocks) + per_block * sum(stage_blocks) == num_convs:
            matches.append((depth, block_type))
    if len(matches) != 1:
        raise ValueError(
            f"Cannot infer the ResNet depth from {num_convs} convolution kernels and "
            f"{num_norms} batch norms (stem {stem}, selective kernels {sk}); expected the "
            f"counts of one of the depths {sorted(RESNET_STAGES)}. Pass `depth` explicitly."
        )
    depth, block_type = matches[0]
    last = shapes[convs[num_convs - 1]]
    return {
        "depth": depth,
        "width_multiplier": _clean_float(last[-1] / _FINAL_WIDTH[block_type]),
        "stem": stem,
        "sk_ratio": DEFAULT_SK_RATIO if sk else 0.0,
    }


def _clean_float(value):
    return int(value) if float(value).is_integer() else float(value)


def infer_head(shapes):
    """The projection head and supervised head in ``shapes`` (official names).

    Returns:
        ``{"head_layers", "head_hidden_dim", "head_output_dim", "num_classes"}``; head
        entries are None without ``head_contrastive/``, ``num_classes`` without
        ``head_supervised/``.
    """
    heads = {int(m.group(1)): name for name in shapes if (m := _HEAD.match(name))}
    info = {"head_layers": None, "head_hidden_dim": None, "head_output_dim": None}
    if heads:
        if sorted(heads) != list(range(len(heads))):
            raise ValueError(
                "Expected projection-head layers head_contrastive/nl_0 .. nl_<n-1>; received "
                f"nl_{sorted(heads)}."
            )
        info["head_layers"] = len(heads)
        info["head_hidden_dim"] = int(shapes[heads[0]][-1]) if len(heads) > 1 else None
        info["head_output_dim"] = int(shapes[heads[len(heads) - 1]][-1])
    kernel = shapes.get(SUPERVISED_HEAD + "kernel")
    info["num_classes"] = None if kernel is None else int(kernel[-1])
    return info


def _official_layer_order(backbone):
    """(convs, norms): the backbone's Conv2D and BatchNormalization layers in the order the
    official TF1 code creates them (which fixes their TF1 names)."""
    get = backbone.get_layer
    sk = backbone.sk_ratio > 0
    if backbone.stem == "imagenet" and sk:
        convs = [get(f"stem_conv{i}") for i in (1, 2, 3)]
        norms = [get(f"stem_bn{i}") for i in (1, 2, 3)]
    else:
        convs, norms = [get("stem_conv")], [get("stem_bn")]
    block_type, stage_blocks = RESNET_STAGES[backbone.depth]
    for stage, num_blocks in enumerate(stage_blocks):
        for block in range(num_blocks):
            name = f"stage{stage + 1}_block{block + 1}"
            if block == 0:  # projection shortcut: created first in the official blocks
                convs.append(get(name + "_shortcut_conv"))
                norms.append(get(name + "_shortcut_bn"))
            convs.append(get(name + "_conv1"))
            norms.append(get(name + "_bn1"))
            if sk:
                unit = get(name + "_sk_conv2")
                convs += [unit.conv, unit.reduce_conv, unit.mix_conv]
                norms += [unit.batch_norm, unit.reduce_batch_norm]
            else:
                convs.append(get(name + "_conv2"))
                norms.append(get(name + "_bn2"))
            if block_type == "bottleneck":
                convs.append(get(name + "_conv3"))
                norms.append(get(name + "_bn3"))
    return convs, norms


def _batch_norm_variables(prefix, layer):
    names = BN_VARIABLES if layer.center else ("gamma", "moving_mean", "moving_variance")
    return {f"{prefix}/{name}": getattr(layer, name) for name in names}


def expected_variables(backbone, projection_head=None, probe=None):
    """``{official TF1 name: Keras variable}`` for a backbone and optional heads.

    Args:
        backbone: a `ResNetBackbone`.
        projection_head: a built `ProjectionHead` (``head_contrastive/nl_i``) or None.
        probe: a built ``Dense`` for ``head_supervised/linear_layer/dense`` or None.

    Example:
        >>> expected_variables(ResNetBackbone(depth=50))["base_model/conv2d_1/kernel"].path
        'stage1_block1_shortcut_conv/kernel'
    """
    convs, norms = _official_layer_order(backbone)
    expected = {}
    for index, layer in enumerate(convs):
        expected[f"base_model/{_indexed('conv2d', index)}/kernel"] = layer.kernel
    for index, layer in enumerate(norms):
        expected.update(
            _batch_norm_variables(f"base_model/{_indexed('batch_normalization', index)}", layer)
        )
    if projection_head is not None:
        for index, dense in enumerate(projection_head.dense_layers):
            prefix = f"head_contrastive/nl_{index}"
            expected[f"{prefix}/dense/kernel"] = dense.kernel
            if dense.use_bias:
                expected[f"{prefix}/dense/bias"] = dense.bias
            if projection_head.use_batch_norm:
                norm = projection_head.norm_layers[index]
                expected.update(_batch_norm_variables(f"{prefix}/batch_normalization", norm))
    if probe is not None:
        expected[SUPERVISED_HEAD + "kernel"] = probe.kernel
        expected[SUPERVISED_HEAD + "bias"] = probe.bias
    return expected


def _listing(names, limit=12):
    names = sorted(names)
    shown = ", ".join(names[:limit])
    return shown + (f", ... ({len(names) - limit} more)" if len(names) > limit else "")


def match_variables(shapes, expected):
    """Pair checkpoint names with Keras variables by name; every mismatch is one ValueError.

    Args:
        shapes: ``{official name: shape}`` of the checkpoint variables to load.
        expected: ``{official name: Keras variable}`` (see `expected_variables`).

    Returns:
        ``[(official name, Keras variable)]`` in the expected (creation) order.

    Example:
        >>> pairs = match_variables(shapes, expected_variables(backbone))
    """
    missing = [n for n in expected if n not in shapes]
    unknown = [n for n in shapes if n not in expected]
    mismatched = [
        f"{n} {tuple(shapes[n])} vs {tuple(v.shape)}"
        for n, v in expected.items()
        if n in shapes and tuple(shapes[n]) != tuple(v.shape)
    ]
    problems = []
    if missing:
        problems.append(f"missing from the checkpoint ({len(missing)}): {_listing(missing)}")
    if unknown:
        problems.append(f"unknown to the model ({len(unknown)}): {_listing(unknown)}")
    if mismatched:
        problems.append(
            f"shape mismatch, checkpoint vs model ({len(mismatched)}): {_listing(mismatched)}"
        )
    if problems:
        raise ValueError(
            "The checkpoint variables do not match the SimCLR model built for them; "
            + "; ".join(problems)
            + "."
        )
    return [(name, variable) for name, variable in expected.items()]
