"""Convert an official SimCLR checkpoint (google-research/simclr, v1 or v2) to a preset.

The released checkpoints (``ResNet50_{1,2,4}x`` of v1, ``r{50,101,152}_{1,2,3}x_sk{0,1}`` of
v2) are TF1 name-based checkpoints; checkpoints of the ``tf2/`` code (``tf.train.Checkpoint``)
are object-based and renamed to the TF1 names first (`simclr_tf2_names`). They are read without
TensorFlow (`TFCheckpointReader`), mapped onto `ResNetBackbone` (and `ProjectionHead` / the
linear-eval head) by variable name (`simclr_tf1_names`), optionally checked against the
official code's outputs, and saved as a normal preset with a model card. See
`convert_simclr_checkpoint`.
"""

from pathlib import Path

from tqdm.auto import tqdm

from keras_cpc.layers.projection_head import ProjectionHead
from keras_cpc.models.resnet import simclr_tf1_names as names
from keras_cpc.models.resnet import simclr_tf2_names
from keras_cpc.models.resnet.reference_outputs import compare_with_reference
from keras_cpc.models.resnet.resnet_backbone import ResNetBackbone
from keras_cpc.models.resnet.simclr_card import card_metadata, card_sections
from keras_cpc.models.resnet.tf_checkpoint import TFCheckpointReader
from keras_cpc.models.simclr.simclr_pretrainer import SimCLRPretrainer

# max|ours - ref| <= TOLERANCE * max|ref| per array: float32 rounding in the random fixture
# networks reaches ~1.3e-4 of max|ref|, any mapping error gives O(1) (fixture README).
TOLERANCE = 1e-3
_HEAD_PREFIXES = ("head_contrastive/", names.SUPERVISED_HEAD)


def _architecture(shapes, depth, width_multiplier, sk_ratio):
    """The inferred architecture, with the given arguments checked against it."""
    inferred = names.infer_architecture(shapes)
    for key, given in (("depth", depth), ("width_multiplier", width_multiplier)):
        if given is not None and float(given) != float(inferred[key]):
            raise ValueError(
                f"The checkpoint's variables are those of {key}={inferred[key]!r}; received "
                f"{key}={given!r}."
            )
    if sk_ratio is not None:
        if (sk_ratio > 0) != (inferred["sk_ratio"] > 0):
            kind = "has" if inferred["sk_ratio"] > 0 else "has no"
            raise ValueError(
                f"The checkpoint {kind} selective-kernel convolutions; received "
                f"sk_ratio={sk_ratio!r}."
            )
        inferred["sk_ratio"] = float(sk_ratio)
    return inferred


def plan_conversion(
    shapes,
    *,
    include_head=True,
    use_ema=False,
    depth=None,
    width_multiplier=None,
    sk_ratio=None,
    where="The checkpoint",
):
    """What a conversion will load, decided from the variable names and shapes alone.

    Args:
        shapes: ``{checkpoint name: shape}`` of every variable (``TFCheckpointReader.shapes``
            or an in-memory dict).
        include_head, use_ema, depth, width_multiplier, sk_ratio: as in
            `convert_simclr_checkpoint`.
        where: how error messages name the checkpoint.

    Returns:
        ``{"format": "simclr_tf1" | "simclr_tf2", "used": {official name: checkpoint name},
        "shapes": {official name: shape},
        "skipped": [checkpoint names], "architecture": {...}, "head": {...}}``.

    Example:
        >>> plan = plan_conversion(TFCheckpointReader("r50_1x_sk0").shapes)
        >>> plan["architecture"]["depth"], len(plan["skipped"])
    """
    tf2 = simclr_tf2_names.is_tf2_checkpoint(shapes)
    if tf2:
        if use_ema:
            raise ValueError(
                f"{where} is an object-based checkpoint of the tf2/ code, which keeps no "
                "ema_model/ copy; pass use_ema=False."
            )
        used, skipped = simclr_tf2_names.select_variables(shapes)
    else:
        used, skipped = names.select_variables(shapes, use_ema=use_ema)
    official_shapes = {official: tuple(shapes[stored]) for official, stored in used.items()}
    architecture = _architecture(official_shapes, depth, width_multiplier, sk_ratio)
    head = names.infer_head(official_shapes)
    if include_head and head["head_layers"] is None:
        raise ValueError(
            f"{where} has no projection head (head_contrastive/...); pass include_head=False "
            "to convert the backbone only (the SimCLR v1 releases ship without it)."
        )
    if not include_head:
        heads = [n for n in official_shapes if n.startswith(_HEAD_PREFIXES)]
        skipped += [used.pop(n) for n in heads]
        for n in heads:
            del official_shapes[n]
    return {
        "format": "simclr_tf2" if tf2 else "simclr_tf1",
        "used": used,
        "shapes": official_shapes,
        "skipped": sorted(skipped),
        "architecture": architecture,
        "head": head,
    }


def map_variables(plan, backbone, pretrainer=None):
    """``[(official name, Keras variable)]``: the plan's variables paired with the model's by
    name; any missing, unknown or mis-shaped variable is one ValueError listing them.

    Args:
        plan: from `plan_conversion`.
        backbone: the `ResNetBackbone` to load.
        pretrainer: the `SimCLRPretrainer` holding the heads, or None.

    Example:
        >>> pairs = map_variables(plan, *build_simclr_model(plan["architecture"], plan["head"]))
    """
    expected = names.expected_variables(
        backbone,
        pretrainer.projection_head if pretrainer is not None else None,
        pretrainer.probe if pretrainer is not None else None,
    )
    return names.match_variables(plan["shapes"], expected)


def build_simclr_model(architecture, head, include_head=True):
    """The backbone and, with ``include_head``, the pretrainer holding the heads.

    Args:
        architecture: ``{"depth", "width_multiplier", "stem", "sk_ratio"}``.
        head: ``{"head_layers", "head_hidden_dim", "head_output_dim", "num_classes"}``.
        include_head: build a `SimCLRPretrainer` with the projection head (and the linear
            eval head as its ``probe`` when ``num_classes``); False: the backbone only.

    Returns:
        ``(backbone, pretrainer or None)``.

    Example:
        >>> backbone, pretrainer = build_simclr_model(
        ...     {"depth": 50, "width_multiplier": 1, "stem": "imagenet", "sk_ratio": 0.0},
        ...     {"head_layers": 3, "head_hidden_dim": 2048, "head_output_dim": 128,
        ...      "num_classes": 1000})
    """
    # Inputs in [0, 255] like every preset of the library; the official network sees [0, 1].
    backbone = ResNetBackbone(pixel_scale=1.0 / 255.0, **architecture)
    if not include_head:
        return backbone, None
    projection_head = ProjectionHead(
        num_layers=head["head_layers"],
        hidden_dim=head["head_hidden_dim"],
        output_dim=head["head_output_dim"],
        name="projection_head",
    )
    # The official ImageNet pretraining temperature (0.1).
    pretrainer = SimCLRPretrainer(
        backbone,
        projection_head=projection_head,
        temperature=0.1,
        num_classes=head["num_classes"],
    )
    return backbone, pretrainer


def convert_simclr_checkpoint(
    source,
    output_dir,
    *,
    name=None,
    include_head=True,
    use_ema=False,
    reference_outputs=None,
    source_url=None,
    published=None,
    progress=True,
    depth=None,
    width_multiplier=None,
    sk_ratio=None,
    tolerance=TOLERANCE,
    overwrite=False,
):
    """Convert a SimCLR TF1 (or ``tf2/`` object-based) checkpoint into a preset directory.

    Variables are mapped by name (``base_model/conv2d_N``, ``base_model/batch_normalization_N``
    in the official creation order, ``head_contrastive/nl_i/...``,
    ``head_supervised/linear_layer/dense/...``); optimizer slots (``*/Momentum``),
    ``global_step`` and the ``ema_model/`` copy (unless ``use_ema``) are skipped. Depth, width,
    stem and selective kernels are read from the variables' count and shapes. A ``tf2/``
    checkpoint (``model/resnet_model/...`` keys) is renamed to these names first. The preset is
    saved atomically. A missing,
    unknown or mis-shaped variable is a ValueError listing them. With ``include_head`` the
    preset holds a `SimCLRPretrainer` task (projection head and, when the checkpoint has one,
    the linear-eval head as its probe), so ``SimCLRPretrainer.from_preset(output_dir)``
    continues pretraining; backbone loaders (``ResNetBackbone.from_preset``,
    ``ImageClassifier.from_preset(..., num_classes=...)``) use the backbone. The saved backbone
    takes RGB in [0, 255] and scales by 1/255 inside (the official network sees [0, 1]).

    Args:
        source: checkpoint prefix (``.../model.ckpt-250228``), its ``.index`` file, or a
            directory holding a ``checkpoint`` file.
        output_dir: the preset directory to write.
        name: preset name for the model card (default: the folder name of ``output_dir``).
        include_head: convert the projection head (and the supervised head); False saves the
            backbone only (SimCLR v1 checkpoints have no projection head).
        use_ema: load the ``ema_model/`` (moving-average) copy of the weights.
        reference_outputs: optional ``reference_outputs.npz`` of the official code; its
            ``input`` (x255) is run through the converted model in inference mode and every
            output is compared; above ``tolerance`` the conversion fails and nothing is saved.
        source_url: where the checkpoint came from, for the model card.
        published: ``{label: value}`` of published results (e.g.
            ``{"imagenet_linear_eval_top1": 71.7, "source": "..."}``), shown on the card as
            published, not measured here.
        progress: show a progress bar over the variables.
        depth, width_multiplier, sk_ratio: the architecture, checked against the variables;
            None infers it (``sk_ratio`` 0.0625, the released value, when SK is present).
        tolerance: largest accepted ``max|ours - ref| / max|ref|`` per output.
        overwrite: replace an existing ``output_dir``.

    Returns:
        ``{"preset_dir", "mapped": [(source name, Keras weight path, shape)], "skipped":
        [names], "max_relative_difference": {output: value} or None, "config": {...}}``.

    Example:
        >>> summary = convert_simclr_checkpoint("r50_1x_sk0/model.ckpt-250228",
        ...                                     "presets/simclr_v2_r50_1x_sk0")
        >>> backbone = ResNetBackbone.from_preset(summary["preset_dir"])
    """
    reader = TFCheckpointReader(source)
    plan = plan_conversion(
        reader.shapes,
        include_head=include_head,
        use_ema=use_ema,
        depth=depth,
        width_multiplier=width_multiplier,
        sk_ratio=sk_ratio,
        where=f"Checkpoint {reader.prefix.name}",
    )
    used, architecture, head = plan["used"], plan["architecture"], plan["head"]
    backbone, pretrainer = build_simclr_model(architecture, head, include_head)
    pairs = map_variables(plan, backbone, pretrainer)

    mapped = []
    bar = tqdm(pairs, desc=f"Converting {reader.prefix.name}", unit="var", disable=not progress)
    for official, variable in bar:
        variable.assign(reader.read(used[official]))
        mapped.append((used[official], variable.path, tuple(variable.shape)))

    differences = None
    if reference_outputs is not None:
        differences = compare_with_reference(backbone, pretrainer, reference_outputs)
        failed = {k: v for k, v in differences.items() if not v <= tolerance}
        if failed:
            raise ValueError(
                f"The converted model does not reproduce {Path(reference_outputs).name}: max "
                f"relative difference above {tolerance:g} for {failed}; nothing was saved."
            )

    step = next((n for n in ("global_step", "global_step" + simclr_tf2_names.SUFFIX)
                 if n in reader.shapes), None)  # fmt: skip
    global_step = int(reader.read(step)) if step else None
    config = {
        "format": plan["format"],
        **architecture,
        **head,
        "include_head": bool(include_head),
        "use_ema": bool(use_ema),
        "global_step": global_step,
    }
    summary = {"mapped": mapped, "skipped": plan["skipped"], "max_relative_difference": differences}
    metadata = card_metadata(reader, config, summary, source_url, published, reference_outputs)
    options = dict(
        overwrite=overwrite,
        metadata=metadata,
        card_sections=card_sections(metadata, include_head),
        name=name,
    )
    saved = (pretrainer or backbone).save_to_preset(output_dir, **options)
    return {"preset_dir": str(saved), **summary, "config": config}
