"""The NumPy reader of TensorFlow checkpoints, on the official SimCLR TF1 fixtures."""

import shutil
from pathlib import Path

import keras
import numpy as np
import pytest

from keras_cpc.models.resnet.tf_checkpoint import TFCheckpointReader, resolve_checkpoint_prefix

FIXTURES = Path(__file__).parents[2] / "fixtures" / "simclr_tf1"
SK0 = FIXTURES / "r50_0.0625x_sk0"
DATA = "model.ckpt-100.data-00000-of-00001"


def test_reads_every_variable_of_the_official_checkpoint():
    reader = TFCheckpointReader(SK0)
    assert reader.prefix == SK0 / "model.ckpt-100"
    assert [p.name for p in reader.files] == ["model.ckpt-100.index", DATA]
    assert len(reader.shapes) == 447  # manifest: num_checkpoint_variables
    assert reader.shapes["base_model/conv2d/kernel"] == (7, 7, 3, 4)
    assert reader.shapes["head_contrastive/nl_2/dense/kernel"] == (128, 128)
    assert reader.dtypes["global_step"] == "int64"
    assert int(reader.read("global_step")) == 100  # manifest: global_step
    kernel = reader.read("base_model/conv2d/kernel")
    assert kernel.dtype == np.float32 and kernel.shape == (7, 7, 3, 4)
    assert np.isfinite(kernel).all() and kernel.std() > 0


@pytest.mark.skipif(
    keras.backend.backend() != "tensorflow",
    reason="compared with tf.train.load_checkpoint in the TensorFlow run (TF is loaded there)",
)
def test_matches_tensorflow_reader():
    import tensorflow as tf

    reader = TFCheckpointReader(SK0)
    official = tf.train.load_checkpoint(str(reader.prefix))
    assert dict(official.get_variable_to_shape_map()) == {
        name: list(shape) for name, shape in reader.shapes.items()
    }
    for name in reader.shapes:
        expected = official.get_tensor(name)
        value = reader.read(name)
        assert value.dtype == expected.dtype, name
        np.testing.assert_array_equal(value, expected, err_msg=name)


def test_resolves_directory_prefix_and_index_file(tmp_path):
    prefix = SK0 / "model.ckpt-100"
    assert resolve_checkpoint_prefix(SK0) == prefix
    assert resolve_checkpoint_prefix(str(prefix)) == prefix
    assert resolve_checkpoint_prefix(SK0 / "model.ckpt-100.index") == prefix
    # Without a `checkpoint` file, the single index file names the prefix.
    shutil.copy(SK0 / "model.ckpt-100.index", tmp_path)
    assert resolve_checkpoint_prefix(tmp_path) == tmp_path / "model.ckpt-100"
    with pytest.raises(FileNotFoundError, match="No TensorFlow checkpoint at .*model.ckpt-7"):
        resolve_checkpoint_prefix(tmp_path / "model.ckpt-7")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="exactly one '\\*.index' file; received 0"):
        resolve_checkpoint_prefix(empty)


def test_damaged_files_are_refused(tmp_path):
    for name in ("checkpoint", "model.ckpt-100.index"):
        shutil.copy(SK0 / name, tmp_path)
    with pytest.raises(FileNotFoundError, match=f"missing \\['{DATA}'\\]"):
        TFCheckpointReader(tmp_path)
    data = (SK0 / DATA).read_bytes()
    (tmp_path / DATA).write_bytes(data[: len(data) // 2])
    reader = TFCheckpointReader(tmp_path)
    last = max(reader.shapes, key=lambda n: reader._entries[n].get(4, [0])[0])
    with pytest.raises(ValueError, match="is truncated"):
        reader.read(last)
    with pytest.raises(KeyError, match="not in checkpoint"):
        reader.read("base_model/conv2d_999/kernel")
    (tmp_path / "model.ckpt-100.index").write_bytes(b"not a table" * 10)
    with pytest.raises(ValueError, match="not a TensorFlow checkpoint index"):
        TFCheckpointReader(tmp_path)
