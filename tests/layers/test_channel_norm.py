import keras
import numpy as np
import pytest

from keras_cpc.layers import ChannelNorm


def test_matches_cpc_audio_formula_with_unbiased_variance():
    x = np.random.default_rng(0).normal(size=(2, 5, 6)).astype("float32") * 3 + 1
    layer = ChannelNorm()
    y = keras.ops.convert_to_numpy(layer(x))
    expected = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, ddof=1, keepdims=True) + 1e-5)
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)
    clone = ChannelNorm.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()


def test_rejects_single_channel():
    with pytest.raises(ValueError, match="size >= 2"):
        ChannelNorm()(np.zeros((1, 3, 1), "float32"))
