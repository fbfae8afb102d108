import keras
import numpy as np
import pytest

from keras_cpc.layers import ProjectionHead


def test_v1_and_v2_structure():
    features = np.random.default_rng(0).normal(size=(6, 16)).astype("float32")
    v1 = ProjectionHead(num_layers=2, output_dim=8)
    v2 = ProjectionHead(num_layers=3, hidden_dim=12, output_dim=8)
    assert tuple(v1(features, training=True).shape) == (6, 8)
    assert tuple(v2(features, training=True).shape) == (6, 8)
    assert [d.units for d in v1.dense_layers] == [16, 8]  # hidden width = input width
    assert [d.units for d in v2.dense_layers] == [12, 12, 8]
    assert not any(d.use_bias for d in v2.dense_layers)
    # Hidden BNs have beta, the output BN has none (official `LinearLayer`).
    assert [n.center for n in v2.norm_layers] == [True, True, False]
    assert all(n.momentum == 0.9 and n.epsilon == 1e-5 for n in v2.norm_layers)
    linear = ProjectionHead(num_layers=1, output_dim=4, use_batch_norm=False)
    assert tuple(linear(features).shape) == (6, 4) and linear.dense_layers[0].use_bias


def test_config_and_save_load(tmp_path):
    features = np.random.default_rng(0).normal(size=(4, 16)).astype("float32")
    inputs = keras.Input((16,))
    model = keras.Model(inputs, ProjectionHead(num_layers=3, hidden_dim=8, output_dim=4)(inputs))
    expected = keras.ops.convert_to_numpy(model(features))
    path = str(tmp_path / "head.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(loaded(features)), expected, rtol=1e-5)
    head = model.layers[-1]
    assert ProjectionHead.from_config(head.get_config()).get_config() == head.get_config()
    with pytest.raises(ValueError, match="num_layers"):
        ProjectionHead(num_layers=0)


def test_default_is_the_v1_head_of_the_shipped_presets():
    head = ProjectionHead()
    assert (head.num_layers, head.output_dim) == (2, 128)
    assert ProjectionHead(num_layers=np.int64(3)).num_layers == 3
    with pytest.raises(ValueError, match="`num_layers` must be an int >= 1.*received 2.5"):
        ProjectionHead(num_layers=2.5)
