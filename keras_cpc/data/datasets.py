"""Batches for `fit` / `predict`: Keras `PyDataset`s (every backend) and tf.data wrappers."""

import warnings

import keras
import numpy as np

from keras_cpc.data.windows import pad_batch, random_window


class _SourceDataset(keras.utils.PyDataset):
    def _load(self, index, rng):
        # A file that fails now (changed or truncated since the source checked it) is
        # replaced by another item with a warning naming it: training never stops halfway.
        for _ in range(10):
            try:
                return self.source.load(index), index
            except Exception as error:
                warnings.warn(
                    f"Skipping audio item {self.source.names[index]}: {error}", stacklevel=2
                )
                index = int(rng.integers(0, len(self.source)))
        raise RuntimeError("10 unreadable audio items in a row; giving up.")


class WindowDataset(_SourceDataset):
    """Random fixed-length windows for CPC pretraining.

    Each batch is ``{"waveform": (batch, window_samples), "padding_mask": ...}`` (no labels):
    clips are visited in a fresh random order every epoch and cropped at a random offset;
    shorter clips are right-padded and masked.

    Args:
        source: an `AudioFolderSource` / `TFDSAudioSource`.
        window_samples: window length in samples (20480 = 1.28 s at 16 kHz in the paper).
        batch_size: windows per batch.
        seed: seed of the order and the offsets.
        **kwargs: `PyDataset` arguments (workers, use_multiprocessing, max_queue_size).

    Example:
        >>> windows = WindowDataset(source, window_samples=4096, batch_size=16)
        >>> pretrainer.fit(windows, epochs=10)
    """

    def __init__(self, source, window_samples, batch_size=8, seed=None, **kwargs):
        super().__init__(**kwargs)
        if len(source) == 0:
            raise ValueError("The audio source is empty.")
        self.source = source
        self.window_samples = int(window_samples)
        self.batch_size = int(batch_size)
        self.seed = seed
        self._epoch = 0
        self._order = self._shuffle()

    def _shuffle(self):
        rng = np.random.default_rng(None if self.seed is None else (self.seed, self._epoch))
        return rng.permutation(len(self.source))

    def __len__(self):
        return max(len(self.source) // self.batch_size, 1)

    def __getitem__(self, index):
        seed = None if self.seed is None else (self.seed, self._epoch, index)
        rng = np.random.default_rng(seed)
        items = self._order[index * self.batch_size : (index + 1) * self.batch_size]
        if len(items) < self.batch_size:  # fewer clips than one batch: draw with repeats
            items = rng.choice(len(self.source), size=self.batch_size)
        windows, masks = [], []
        for item in items:
            waveform, _ = self._load(int(item), rng)
            window, mask = random_window(waveform, self.window_samples, rng)
            windows.append(window)
            masks.append(mask)
        return {"waveform": np.stack(windows), "padding_mask": np.stack(masks)}

    def on_epoch_end(self):
        self._epoch += 1
        self._order = self._shuffle()


class UtteranceDataset(_SourceDataset):
    """Whole utterances in order, right-padded per batch, for evaluation and probes.

    Each batch is ``({"waveform", "padding_mask"}, labels)`` (or just the dict when the
    source has no labels or ``with_labels=False``); the padded length is rounded up to a
    multiple of ``multiple_of`` (e.g. the backbone's ``samples_per_frame``).
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
        loaded = [self._load(i, rng) for i in items]
        inputs = pad_batch([w for w, _ in loaded], multiple_of=self.multiple_of)
        if not self.with_labels:
            return inputs
        labels = np.asarray([self.source.labels[i] for _, i in loaded], "int32")
        return inputs, labels


def as_tf_dataset(dataset):
    """Wrap a `WindowDataset` / `UtteranceDataset` (any indexable batch dataset) as a
    `tf.data.Dataset` of the same batches, usable by `fit` on every backend.

    Example:
        >>> tf_windows = as_tf_dataset(WindowDataset(source, 4096, batch_size=16))
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
