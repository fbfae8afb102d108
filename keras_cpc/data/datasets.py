"""Padded utterance batches for evaluation, and a tf.data wrapper for any batch dataset.

Random training windows are `keras_cpc.data.windows.RandomWindows`.
"""

import keras
import numpy as np

from keras_cpc.data.windows import load_clip, pad_batch


class UtteranceDataset(keras.utils.PyDataset):
    """Whole utterances in order, right-padded per batch, for evaluation and probes.

    Each batch is ``({"waveform", "padding_mask"}, labels)`` (or just the dict when the
    source has no labels or ``with_labels=False``); the padded length is rounded up to a
    multiple of ``multiple_of`` (e.g. the backbone's ``samples_per_frame``).

    Args:
        source: an `AudioFolderSource` / `TFDSAudioSource`.
        batch_size: utterances per batch (the last batch may be smaller).
        multiple_of: round the padded length up to a multiple of this.
        with_labels: yield labels too (when the source has them).
        **kwargs: `PyDataset` arguments (workers, use_multiprocessing, max_queue_size).

    Example:
        >>> features = backbone.predict(UtteranceDataset(source, 32, with_labels=False))
    """

    def __init__(self, source, batch_size=8, multiple_of=1, with_labels=True, **kwargs):
        super().__init__(**kwargs)
        self.source = source
        self.batch_size = int(batch_size)
        self.multiple_of = int(multiple_of)
        self.with_labels = with_labels and source.labels is not None

    def __len__(self):
        return -(-len(self.source) // self.batch_size)

    def __getitem__(self, index):
        items = range(index * self.batch_size, min((index + 1) * self.batch_size, len(self.source)))
        rng = np.random.default_rng(index)
        loaded = [load_clip(self.source, i, rng) for i in items]
        inputs = pad_batch([w for w, _ in loaded], multiple_of=self.multiple_of)
        if not self.with_labels:
            return inputs
        labels = self.source.labels
        return inputs, np.asarray([labels[i] for _, i in loaded], "int32")


def as_tf_dataset(dataset):
    """Wrap a batch dataset (`RandomWindows`, `UtteranceDataset`, `ImageBatches`: anything
    indexable with ``len``) as a `tf.data.Dataset` of the same batches, usable by `fit` on
    every backend.

    Example:
        >>> tf_windows = as_tf_dataset(RandomWindows(clips, 4096, batch_size=16))
    """
    import tensorflow as tf

    first = dataset[0]
    variable = isinstance(dataset, UtteranceDataset)  # padded length changes per batch

    def spec(x):
        x = np.asarray(x)
        shape = tuple(None for _ in x.shape) if variable else x.shape
        return tf.TensorSpec(shape=shape, dtype=tf.as_dtype(x.dtype))

    signature = tf.nest.map_structure(spec, first)

    def generate():
        for i in range(len(dataset)):
            yield dataset[i]
        dataset.on_epoch_end()

    return tf.data.Dataset.from_generator(generate, output_signature=signature)
