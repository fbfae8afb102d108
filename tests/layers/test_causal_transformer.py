import keras
import numpy as np
import pytest

from keras_cpc.layers import CausalTransformer


def test_outputs_only_depend_on_the_past():
    # (Also covered through CPCBackbone's causality test; kept tiny.)
    layer = CausalTransformer(dim=4, num_layers=1, num_heads=1)
    x = np.random.default_rng(0).normal(size=(1, 6, 4)).astype("float32")
    y = x.copy()
    y[:, 4:] += 1.0
    a, b = keras.ops.convert_to_numpy(layer(x)), keras.ops.convert_to_numpy(layer(y))
    assert a.shape == (1, 6, 4)
    np.testing.assert_allclose(a[:, :4], b[:, :4], rtol=1e-5, atol=1e-6)
    assert np.abs(a[:, 4:] - b[:, 4:]).max() > 1e-3
    clone = CausalTransformer.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()


def test_rejects_indivisible_heads():
    with pytest.raises(ValueError, match="divisible"):
        CausalTransformer(dim=10, num_heads=4)
