"""ResidentImageBatches: the host pipeline's batches, held and gathered on the device."""

import keras
import numpy as np
import pytest

from keras_cpc.data import ImageBatches, ResidentImageBatches


def _np(x):
    return keras.ops.convert_to_numpy(x)


@pytest.mark.parametrize("steps_per_epoch", [None, 7])
def test_same_batches_as_the_host_pipeline_for_any_epoch(steps_per_epoch):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (21, 4, 4, 3)).astype("uint8")
    labels = np.arange(21) % 3
    host = ImageBatches(images, labels, 4, steps_per_epoch, seed=5)
    device = ResidentImageBatches(images, labels, 4, steps_per_epoch, seed=5)
    assert len(device) == len(host) == (steps_per_epoch or 5)
    for epoch in (0, 1, 3, 2):  # jumping back and forth, as a resumed run does
        host.set_epoch(epoch)
        device.set_epoch(epoch)
        for index in range(len(host)):
            (x_host, y_host), (x_device, y_device) = host[index], device[index]
            assert not isinstance(x_device, np.ndarray)  # a backend tensor
            assert keras.backend.standardize_dtype(x_device.dtype) == "uint8"
            np.testing.assert_array_equal(_np(x_device), x_host)
            np.testing.assert_array_equal(_np(y_device), y_host)
    device.on_epoch_end()  # fit's hook advances to the next epoch
    assert device.epoch == 3
    (x_unlabelled,) = ResidentImageBatches(images, None, 4, seed=5)[0]
    np.testing.assert_array_equal(_np(x_unlabelled), ImageBatches(images, None, 4, seed=5)[0][0])


def test_bad_inputs_are_refused_clearly():
    images = np.zeros((8, 4, 4, 3), "uint8")
    with pytest.raises(ValueError, match="uint8 images of shape.*received dtype float32"):
        ResidentImageBatches(images.astype("float32"), None, 4)
    with pytest.raises(ValueError, match="one label per image; received 3 labels for 8"):
        ResidentImageBatches(images, np.zeros(3), 4)
    with pytest.raises(ValueError, match="at least one full batch: batch size 16 but only 8"):
        ResidentImageBatches(images, None, 16)
    with pytest.raises(IndexError, match="Batch index 2 out of range for 2 batches"):
        ResidentImageBatches(images, None, 4)[2]
