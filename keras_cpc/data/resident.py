"""`ResidentImageBatches`: the training images held on the accelerator, batched there.

The host pipeline (`ImageBatches`) slices a NumPy array per step and Keras copies each batch
to the device. Here the whole training set (uint8) is copied once; each epoch's order (the
same order `ImageBatches` uses, a pure function of ``(seed, epoch)``) is copied once per
epoch, and each step's batch is a gather on the device (`keras.ops.take`). A dataset of
CIFAR-10's size is 138 MB as uint8; data that does not fit stays with `ImageBatches`.
"""

import numpy as np
from keras import ops

from keras_cpc.data.batches import EpochBatches


class ResidentImageBatches(EpochBatches):
    """`ImageBatches` with the images (and labels) resident on the device: same batches.

    Batch ``i`` of epoch ``e`` holds the same images, in the same order, as
    ``ImageBatches(images, labels, batch_size, steps_per_epoch, seed)`` gives, so a run
    resumes exactly (`keras_cpc.training.fit_resumable`) and can switch between the two
    pipelines. The batches are backend tensors on the default device (not NumPy arrays):
    on JAX and PyTorch Keras hands them to the step as they are, with no host copy per step;
    on TensorFlow, Keras' `PyDataset` adapter (``tf.data.Dataset.from_generator``) moves them
    through the host, so the option gives the same batches there but no speed-up. The data
    belong to the dataset, never to the model: checkpoints and presets do not hold them.

    Args:
        images: uint8 array (n, height, width, 3), copied to the device once.
        labels: int array (n,), or None for unlabelled batches ``(images,)``.
        batch_size: images per batch (the last partial batch is dropped).
        steps_per_epoch: batches per epoch; None for one pass over the images.
        seed: seed of the orders.

    Example:
        >>> batches = ResidentImageBatches(x_train, None, batch_size=512, seed=0)
        >>> pretrainer.fit(batches, epochs=100, shuffle=False)  # doctest: +SKIP
    """

    def __init__(self, images, labels, batch_size, steps_per_epoch=None, seed=0):
        images = np.asarray(images)
        if images.ndim != 4 or images.dtype != np.uint8:
            raise ValueError(
                "Expected uint8 images of shape (n, height, width, channels) to hold on the "
                f"device; received dtype {images.dtype} and shape {images.shape}."
            )
        if labels is not None and len(labels) != len(images):
            raise ValueError(
                f"Expected one label per image; received {len(labels)} labels for "
                f"{len(images)} images."
            )
        self.images = ops.convert_to_tensor(images)
        self.labels = None if labels is None else ops.convert_to_tensor(labels)
        self.nbytes = images.nbytes
        self._device_order = None
        # Plain synchronous iteration: device tensors stay out of worker threads/processes.
        super().__init__(len(images), batch_size, steps_per_epoch, seed, "images")

    def set_epoch(self, epoch):
        """Make the next batches those of epoch ``epoch``; its order goes to the device once."""
        super().set_epoch(epoch)
        used = self.order[: self.steps * self.batch_size].astype("int32")
        self._device_order = ops.convert_to_tensor(used)

    def __getitem__(self, index):
        if not 0 <= index < self.steps:
            raise IndexError(f"Batch index {index} out of range for {self.steps} batches.")
        start = index * self.batch_size
        rows = ops.slice(self._device_order, (start,), (self.batch_size,))
        images = ops.take(self.images, rows, axis=0)
        if self.labels is None:
            return (images,)
        return images, ops.take(self.labels, rows, axis=0)
