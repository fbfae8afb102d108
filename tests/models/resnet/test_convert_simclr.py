"""Official SimCLR checkpoints (TF1, and the tf2/ code's) -> presets: outputs of the official
code reproduced, mapping by name with loud failures, and the converted model usable for
fine-tuning and pretraining."""

import json
from pathlib import Path

import keras
import numpy as np
import pytest

from keras_cpc.models import ImageClassifier, ResNetBackbone, SimCLRPretrainer
from keras_cpc.models.resnet import simclr_tf1_names as names
from keras_cpc.models.resnet.convert_simclr import (
    convert_simclr_checkpoint,
    map_variables,
    plan_conversion,
)
from keras_cpc.models.resnet.reference_outputs import compare_with_reference
from keras_cpc.models.resnet.tf_checkpoint import TFCheckpointReader

FIXTURES = Path(__file__).parents[2] / "fixtures" / "simclr_tf1"
TF2_FIXTURES = FIXTURES.parent / "simclr_tf2"
MODELS = ("r50_0.0625x_sk0", "r50_0.0625x_sk1")
# manifest.json: variables of the inference graph (backbone + 3-layer head), their parameters.
INFERENCE_VARIABLES = {"r50_0.0625x_sk0": 279, "r50_0.0625x_sk1": 385}
PARAMETERS = {"r50_0.0625x_sk0": 149372, "r50_0.0625x_sk1": 218818}
PUBLISHED = {"imagenet_linear_eval_top1": 74.6, "source": "the authors' colab"}


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    """Each fixture converted once (with the reference check), as {model: (summary, dir)}."""
    root = tmp_path_factory.mktemp("converted")
    results = {}
    for model in MODELS:
        summary = convert_simclr_checkpoint(
            FIXTURES / model,
            root / model,
            reference_outputs=FIXTURES / model / "reference_outputs.npz",
            source_url=f"https://example.org/simclr/{model}/model.ckpt-100",
            published=PUBLISHED,
            progress=False,
        )
        results[model] = summary
    tf2 = TF2_FIXTURES / "r50_0.0625x_sk1"
    results["tf2"] = convert_simclr_checkpoint(
        tf2, root / "tf2", reference_outputs=tf2 / "reference_outputs.npz", progress=False
    )
    return results


@pytest.fixture(scope="module")
def sk1_pretrainer(converted):
    return SimCLRPretrainer.from_preset(converted["r50_0.0625x_sk1"]["preset_dir"])


@pytest.mark.parametrize("model", MODELS)
def test_fixture_converts_and_reproduces_official_outputs(converted, model):
    summary = converted[model]
    differences = summary["max_relative_difference"]
    compared = {"initial_conv", "initial_max_pool", "final_avg_pool", "proj_head_output"}
    compared |= {f"block_group{i}" for i in range(1, 5)} | {f"head_nl_{i}_out" for i in range(3)}
    assert compared <= set(differences)
    # Fixture README: float32 rounding reaches ~1.3e-4 of max|ref|; a mapping error gives O(1).
    assert max(differences.values()) <= 1e-3, differences
    assert len(summary["mapped"]) == INFERENCE_VARIABLES[model]
    # Every other variable is a LARS slot or the step counter.
    assert all(n.endswith("/Momentum") or n == "global_step" for n in summary["skipped"])
    assert len(summary["mapped"]) + len(summary["skipped"]) == len(
        TFCheckpointReader(FIXTURES / model).shapes
    )
    sk = model.endswith("sk1")
    # Creation order: the SK stem's second conv, or the first block's projection shortcut.
    second = ("stem_conv2", (3, 3, 2, 2)) if sk else ("stage1_block1_shortcut_conv", (1, 1, 4, 16))
    assert summary["mapped"][1] == ("base_model/conv2d_1/kernel", f"{second[0]}/kernel", second[1])
    assert summary["config"] == {
        "format": "simclr_tf1",
        "depth": 50,
        "width_multiplier": 0.0625,
        "stem": "imagenet",
        "sk_ratio": 0.0625 if sk else 0.0,
        "head_layers": 3,
        "head_hidden_dim": 128,
        "head_output_dim": 128,
        "num_classes": None,
        "include_head": True,
        "use_ema": False,
        "global_step": 100,
    }
    preset = Path(summary["preset_dir"])
    card = (preset / "README.md").read_text()
    metadata = json.loads((preset / "metadata.json").read_text())
    for text in (card, json.dumps(metadata)):
        assert str(FIXTURES) not in text and str(preset.parent) not in text  # no machine paths
    data_sha = metadata["source"]["files"][1]["sha256"]
    assert data_sha in card and "model.ckpt-100.data-00000-of-00001" in card
    assert "https://example.org/simclr/" in card and "Apache-2.0" in card
    assert "weights: unverified" in card
    assert "published, not measured here" in card.lower() and "74.6" in card
    assert metadata["task_class_name"] == "keras_cpc>SimCLRPretrainer"


def test_converted_preset_reloads_with_its_heads(sk1_pretrainer, tmp_path):
    model = "r50_0.0625x_sk1"
    reference = dict(np.load(FIXTURES / model / "reference_outputs.npz"))
    pretrainer = sk1_pretrainer
    assert pretrainer.backbone.sk_ratio == 0.0625 and pretrainer.temperature == 0.1
    assert pretrainer.count_params() == PARAMETERS[model]
    # Every weight of the backbone and head has an official name (nothing left at init).
    expected = names.expected_variables(pretrainer.backbone, pretrainer.projection_head)
    weights = pretrainer.backbone.weights + pretrainer.projection_head.weights
    assert sorted(id(v) for v in expected.values()) == sorted(id(v) for v in weights)
    config = pretrainer.backbone.get_config()
    assert config["sk_ratio"] == 0.0625
    assert ResNetBackbone.from_config(json.loads(json.dumps(config))).get_config() == config
    # The reloaded preset (backbone and head files) still gives the official outputs.
    differences = compare_with_reference(
        pretrainer.backbone, pretrainer, FIXTURES / model / "reference_outputs.npz"
    )
    assert max(differences.values()) <= 1e-3, differences
    # A wrong output is reported as such (the converter refuses to save above 1e-3).
    perturbed = dict(reference)
    perturbed["block_group3"] = reference["block_group3"] * 1.5
    np.savez(tmp_path / "perturbed.npz", **perturbed)
    differences = compare_with_reference(
        pretrainer.backbone, pretrainer, tmp_path / "perturbed.npz"
    )
    assert differences["block_group3"] > 0.1 and differences["block_group2"] <= 1e-3


def test_tf2_checkpoint_converts_with_its_supervised_head(converted):
    summary = converted["tf2"]
    differences = summary["max_relative_difference"]
    assert {"block_group4", "proj_head_output", "logits_sup"} <= set(differences)
    assert max(differences.values()) <= 1e-3, differences
    assert summary["config"]["format"] == "simclr_tf2"
    assert summary["config"]["num_classes"] == 1000 and summary["config"]["sk_ratio"] == 0.0625
    assert len(summary["mapped"]) == 385 + 2  # + the linear-eval head's kernel and bias
    card = (Path(summary["preset_dir"]) / "README.md").read_text()
    assert "1000-class linear-eval head" in card and "tf2/" in card


@pytest.mark.parametrize("model", MODELS)
def test_tf2_names_are_the_tf1_names_of_the_same_model(model):
    tf1 = plan_conversion(TFCheckpointReader(FIXTURES / model).shapes)
    tf2 = plan_conversion(TFCheckpointReader(TF2_FIXTURES / model).shapes)
    assert tf2["format"] == "simclr_tf2" and tf1["format"] == "simclr_tf1"
    supervised = {n: s for n, s in tf2["shapes"].items() if n.startswith(names.SUPERVISED_HEAD)}
    assert supervised == {names.SUPERVISED_HEAD + "kernel": (128, 1000),
                          names.SUPERVISED_HEAD + "bias": (1000,)}  # fmt: skip
    assert {n: s for n, s in tf2["shapes"].items() if n not in supervised} == tf1["shapes"]
    assert tf2["used"]["base_model/conv2d_1/kernel"].startswith(
        "model/resnet_model/initial_conv_relu_max_pool/2/"
        if model.endswith("sk1")
        else "model/resnet_model/block_groups/0/layers/0/projection_layers/0/"
    )
    assert all(
        "/.OPTIMIZER_SLOT/" in n or n.split("/")[0] in ("global_step", "save_counter")
        or n == "_CHECKPOINTABLE_OBJECT_GRAPH"
        for n in tf2["skipped"]
    )  # fmt: skip
    with pytest.raises(ValueError, match="keeps no ema_model/ copy"):
        plan_conversion(TFCheckpointReader(TF2_FIXTURES / model).shapes, use_ema=True)


def _sk1_shapes():
    return dict(TFCheckpointReader(FIXTURES / "r50_0.0625x_sk1").shapes)


@pytest.mark.parametrize(
    "change, message",
    [
        ("rename", "missing from the checkpoint \\(1\\): base_model/conv2d_7/kernel; unknown to "
         "the model \\(1\\): base_model/conv2d_7x/kernel"),
        ("drop", "missing from the checkpoint \\(1\\): head_contrastive/nl_1/batch_normalization/"
         "beta\\."),
        ("extra", "unknown to the model \\(1\\): base_model/extra_layer/kernel\\."),
        ("reshape", "shape mismatch, checkpoint vs model \\(1\\): "
         "base_model/batch_normalization_5/gamma \\(3,\\) vs \\(8,\\)"),
    ],
)  # fmt: skip
def test_name_mapping_fails_loudly(sk1_pretrainer, change, message):
    shapes, pretrainer = _sk1_shapes(), sk1_pretrainer
    if change == "rename":
        shapes["base_model/conv2d_7x/kernel"] = shapes.pop("base_model/conv2d_7/kernel")
    elif change == "drop":
        del shapes["head_contrastive/nl_1/batch_normalization/beta"]
    elif change == "extra":
        shapes["base_model/extra_layer/kernel"] = (1, 1, 4, 4)
    else:
        shapes["base_model/batch_normalization_5/gamma"] = (3,)
    plan = plan_conversion(shapes)
    with pytest.raises(ValueError, match=message):
        map_variables(plan, pretrainer.backbone, pretrainer)
    # The unchanged variables map one to one onto the model's variables.
    pairs = map_variables(plan_conversion(_sk1_shapes()), pretrainer.backbone, pretrainer)
    assert len({id(variable) for _, variable in pairs}) == len(pairs) == 385


def _named(shapes, prefix=""):
    return {prefix + name: shape for name, shape in shapes.items()}


def test_plan_selects_the_copy_and_checks_the_arguments():
    shapes = dict(TFCheckpointReader(FIXTURES / "r50_0.0625x_sk0").shapes)
    model_shapes = {n: s for n, s in shapes.items() if not names._is_skipped(n)}
    supervised = {
        names.SUPERVISED_HEAD + "kernel": (128, 10),
        names.SUPERVISED_HEAD + "bias": (10,),
    }
    both = {**shapes, **_named(model_shapes, "ema_model/"), **supervised}

    plan = plan_conversion(both)
    assert plan["used"]["base_model/conv2d/kernel"] == "base_model/conv2d/kernel"
    assert plan["head"]["num_classes"] == 10
    assert all(n.startswith("ema_model/") or names._is_skipped(n) for n in plan["skipped"])
    ema = plan_conversion(both, use_ema=True)
    assert ema["used"]["base_model/conv2d/kernel"] == "ema_model/base_model/conv2d/kernel"
    # No EMA copy of the supervised head: the trained one is used.
    assert ema["used"][names.SUPERVISED_HEAD + "bias"] == names.SUPERVISED_HEAD + "bias"
    assert "base_model/conv2d/kernel" in ema["skipped"]
    with pytest.raises(ValueError, match="no ema_model/base_model/ variables"):
        plan_conversion(shapes, use_ema=True)

    backbone_only = plan_conversion(both, include_head=False)
    assert not any(n.startswith(("head_", "ema_model/head_")) for n in backbone_only["used"])
    assert "head_contrastive/nl_2/dense/kernel" in backbone_only["skipped"]
    headless = {n: s for n, s in shapes.items() if not n.startswith("head_contrastive/")}
    with pytest.raises(ValueError, match="no projection head.*include_head=False"):
        plan_conversion(headless, where="Checkpoint model.ckpt-100")
    assert plan_conversion(headless, include_head=False)["architecture"]["depth"] == 50

    with pytest.raises(ValueError, match="depth=50; received depth=101"):
        plan_conversion(shapes, depth=101)
    with pytest.raises(ValueError, match="width_multiplier=0.0625; received width_multiplier=1"):
        plan_conversion(shapes, width_multiplier=1)
    with pytest.raises(ValueError, match="has no selective-kernel convolutions"):
        plan_conversion(shapes, sk_ratio=0.0625)
    with pytest.raises(ValueError, match="none of its backbone variables"):
        plan_conversion({"global_step": (), "foo/kernel": (3,)})


# Last in the file: it trains the shared converted model.
@pytest.mark.skipif(
    keras.backend.backend() == "jax",
    reason="compiling a ResNet-50 train step costs ~15 s of CPU on JAX; the SK layer's JAX "
    "training is covered by test_resnet_variants.py, the converted model's by TF and torch",
)
def test_converted_model_trains_and_fine_tunes(sk1_pretrainer):
    pretrainer = sk1_pretrainer
    reference = np.load(FIXTURES / "r50_0.0625x_sk1" / "reference_outputs.npz")
    images = reference["input"] * 255.0
    # Continue pretraining: one step on two given views.
    views = {"view_a": images, "view_b": images[:, ::-1]}
    pretrainer.compile(optimizer=keras.optimizers.SGD(0.01), run_eagerly=True)
    before = keras.ops.convert_to_numpy(pretrainer.backbone.get_layer("stage1_block1_conv1").kernel)
    history = pretrainer.fit(views, epochs=1, batch_size=2, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    after = keras.ops.convert_to_numpy(pretrainer.backbone.get_layer("stage1_block1_conv1").kernel)
    assert not np.array_equal(before, after)

    # Fine-tune: a classifier on the converted backbone (a linear probe: frozen backbone).
    classifier = ImageClassifier(pretrainer.backbone, num_classes=2, freeze_backbone=True)
    classifier.compile(run_eagerly=True)
    history = classifier.fit(images, np.array([0, 1]), epochs=1, batch_size=2, verbose=0)
    assert np.isfinite(history.history["loss"][0])
