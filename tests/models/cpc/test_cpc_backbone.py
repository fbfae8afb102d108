import keras
import numpy as np
import pytest

from keras_cpc.models import CPCBackbone
from tests.helpers import assert_matches_golden, run_backbone_test, set_deterministic_weights

CONTEXTS = ["gru", "lstm", "transformer"]


def tiny_backbone(context_network="gru", normalization="layer", **kwargs):
    # 40 samples per frame; receptive field 105 samples.
    config = dict(
        kernel_sizes=(10, 8, 4),
        strides=(5, 4, 2),
        encoder_dim=16,
        normalization=normalization,
        context_network=context_network,
        context_dim=16,
        context_heads=2,
        sample_rate=8000,
    )
    config.update(kwargs)
    return CPCBackbone(**config)


def np_(x):
    return keras.ops.convert_to_numpy(x)


def test_paper_geometry():
    backbone = CPCBackbone(encoder_dim=8, context_dim=8)
    assert backbone.samples_per_frame == 160
    assert backbone.frames_per_second == 100.0
    assert backbone.receptive_field == 465
    assert [backbone.num_frames(n) for n in (20480, 16000, 64000, 3358)] == [128, 100, 400, 20]
    valid = CPCBackbone(encoder_dim=8, context_dim=8, encoder_padding="valid")
    assert valid.num_frames(20480) == (20480 - 465) // 160 + 1
    assert valid.min_samples == 465
    assert valid.output_dim == 8


@pytest.mark.parametrize("context_network", CONTEXTS)
def test_forward_is_causal_and_matches_golden(context_network):
    backbone = tiny_backbone(context_network)
    set_deterministic_weights(backbone, seed=3)
    x = np.sin(np.linspace(0, 160, 800))[None].astype("float32") * np.array([[1.0], [0.5]], "f")
    out = backbone.encode(x)
    assert tuple(out["z"].shape) == (2, 20, 16)
    assert_matches_golden(
        f"cpc_backbone_{context_network}",
        {k: out[k] for k in ("z", "c", "embedding")},
        rtol=1e-4,
        atol=1e-5,
    )
    # Causality: c_t does not change when samples after frame t's receptive field change.
    t = 9
    last = backbone.frame_span(t)[1]
    y = x.copy()
    y[:, last + 1 :] = np.random.default_rng(0).normal(size=y[:, last + 1 :].shape)
    cx, cy = np_(out["c"]), np_(backbone.encode(y)["c"])
    np.testing.assert_allclose(cx[:, : t + 1], cy[:, : t + 1], rtol=1e-5, atol=1e-6)
    assert np.abs(cx[:, t + 1 :] - cy[:, t + 1 :]).max() > 1e-4


def test_padded_batch_matches_single_clip():
    # Channel norm and a recurrent context: the padding must not leak into real frames.
    backbone = tiny_backbone("gru", "channel")
    rng = np.random.default_rng(1)
    clip = rng.normal(size=(613,)).astype("float32")
    other = rng.normal(size=(800,)).astype("float32")
    alone = backbone.encode(clip[None])
    batch = np.zeros((2, 800), "float32")
    batch[0, :613] = clip
    batch[1] = other
    mask = np.zeros((2, 800), bool)
    mask[0, :613] = True
    mask[1] = True
    padded = backbone.encode({"waveform": batch, "padding_mask": mask})
    n = backbone.num_frames(613)
    frame_mask = np_(padded["frame_mask"])
    assert frame_mask[0].sum() == n == alone["c"].shape[1]
    assert frame_mask[1].sum() == backbone.num_frames(800)
    np.testing.assert_allclose(np_(padded["z"])[0, :n], np_(alone["z"])[0], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np_(padded["c"])[0, :n], np_(alone["c"])[0], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(
        np_(padded["embedding"])[0], np_(alone["embedding"])[0], rtol=1e-5, atol=1e-5
    )
    # The model's __call__ / predict returns the same pooled embedding.
    np.testing.assert_allclose(
        np_(backbone({"waveform": batch, "padding_mask": mask})),
        np_(padded["embedding"]),
        rtol=1e-5,
        atol=1e-6,
    )


@pytest.mark.parametrize("context_network", ["gru", "transformer"])
def test_backbone_contract(context_network, tmp_path):
    rng = np.random.default_rng(2)
    config = dict(
        kernel_sizes=(10, 8, 4),
        strides=(5, 4, 2),
        encoder_dim=16,
        normalization="layer",
        context_network=context_network,
        context_dim=16,
        context_heads=2,
        sample_rate=8000,
    )
    run_backbone_test(
        CPCBackbone,
        config,
        rng.normal(size=(2, 800)).astype("float32"),
        expected_output_shape=(2, 16),
        variable_length_data=[rng.normal(size=(2, 333)).astype("float32")],
        tmp_path=tmp_path,
    )


def test_bad_inputs_are_rejected_with_clear_messages():
    backbone = tiny_backbone()
    with pytest.raises(ValueError, match="received rank 1"):
        backbone.encode(np.zeros((400,), "float32"))
    with pytest.raises(ValueError, match="mono.*received 2 channels"):
        backbone.encode(np.zeros((1, 400, 2), "float32"))
    with pytest.raises(ValueError, match="at least 39 samples.*received 20"):
        backbone.encode(np.zeros((1, 20), "float32"))
    with pytest.raises(ValueError, match="expects audio at 8000 Hz; received audio at 16000"):
        backbone.encode(np.zeros((1, 400), "float32"), sample_rate=16000)
    with pytest.raises(ValueError, match="padding_mask"):
        backbone.encode({"waveform": np.zeros((1, 400), "f"), "padding_mask": np.ones((1, 3))})
    with pytest.raises(ValueError, match="'waveform'"):
        backbone.encode({"audio": np.zeros((1, 400), "f")})
    with pytest.raises(ValueError, match="context_network"):
        tiny_backbone("rnn")
    with pytest.raises(ValueError, match="normalization"):
        tiny_backbone(normalization="batch")
    with pytest.raises(ValueError, match="equal length"):
        tiny_backbone(kernel_sizes=(10, 8), strides=(5, 4, 2))
    # NumPy integers are taken as ints and stored as Python ints.
    backbone = tiny_backbone(encoder_dim=np.int64(8), sample_rate=np.int32(8000))
    assert type(backbone.encoder_dim) is int and type(backbone.sample_rate) is int
    with pytest.raises(ValueError, match="`encoder_dim` must be an int >= 1.*received 8.5"):
        tiny_backbone(encoder_dim=8.5)
