"""Fixed-length windows (pretraining) and padded utterance batches (evaluation)."""

import warnings

import numpy as np

from keras_cpc.data.batches import EpochBatches


def random_window(waveform, length, rng=None):
    """A random ``length``-sample crop of ``waveform`` and its padding mask.

    Clips shorter than ``length`` are right-padded with zeros (mask 0 on the padding), so
    short recordings such as FSDD digits keep all their frames.

    Returns:
        ``(window, mask)``: float32 (length,) and bool (length,).

    Example:
        >>> window, mask = random_window(clip, 4096, np.random.default_rng(0))
    """
    rng = np.random.default_rng() if rng is None else rng
    waveform = np.asarray(waveform, dtype="float32")
    n = waveform.shape[0]
    if n >= length:
        start = int(rng.integers(0, n - length + 1))
        return waveform[start : start + length], np.ones(length, bool)
    window = np.zeros(length, "float32")
    window[:n] = waveform
    mask = np.zeros(length, bool)
    mask[:n] = True
    return window, mask


def pad_batch(waveforms, multiple_of=1, min_length=0):
    """Right-pad 1-D waveforms to a common length (rounded up to ``multiple_of``).

    Returns:
        ``{"waveform": (batch, length) float32, "padding_mask": (batch, length) bool}``.

    Example:
        >>> batch = pad_batch([np.ones(5), np.ones(3)], multiple_of=4)  # length 8
    """
    longest = max([len(w) for w in waveforms] + [min_length])
    length = -(-longest // multiple_of) * multiple_of
    batch = np.zeros((len(waveforms), length), "float32")
    mask = np.zeros((len(waveforms), length), bool)
    for i, w in enumerate(waveforms):
        batch[i, : len(w)] = w
        mask[i, : len(w)] = True
    return {"waveform": batch, "padding_mask": mask}


def load_clip(clips, index, rng):
    """Clip ``index`` of a list of arrays, or of a source (``source.load``) read now.

    A source's file that fails now (changed or removed since the source checked it) is
    replaced by another random item with a warning naming it: training never stops halfway.

    Returns:
        ``(waveform, index)``: the clip and the index actually used.
    """
    if not hasattr(clips, "load"):
        return clips[index], index
    for _ in range(10):
        try:
            return clips.load(index), index
        except Exception as error:  # noqa: BLE001 - any read error: skip the item loudly
            warnings.warn(f"Skipping audio item {clips.names[index]}: {error}", stacklevel=3)
            index = int(rng.integers(0, len(clips)))
    raise RuntimeError(
        "Expected readable audio items; received 10 unreadable ones in a row (see the "
        "warnings above), giving up."
    )


class RandomWindows(EpochBatches):
    """Batches of random fixed-length windows for CPC pretraining (a Keras `PyDataset`).

    Each step takes ``batch_size`` clips (full batches only; a fresh permutation per epoch)
    and a random ``window``-sample crop of each; shorter clips are right-padded and masked.
    The order and the crops of epoch ``e`` are a pure function of ``(seed, e)``:
    `set_epoch` jumps to an epoch (as a resumed run must), ``on_epoch_end`` advances.

    Args:
        clips: list of 1-D float32 waveforms (e.g. from `load_audio_clips`), or an audio
            source (`AudioFolderSource`, `TFDSAudioSource`) whose files are read per batch.
        window: window length in samples.
        batch_size: windows per batch.
        steps_per_epoch: batches per epoch; None for one pass over the clips.
        seed: seed of the orders and crops.
        **kwargs: `PyDataset` arguments (workers, use_multiprocessing, max_queue_size).

    Example:
        >>> clips, info = load_audio_clips("~/data/fsdd/recordings", 8000)
        >>> windows = RandomWindows(clips, window=4096, batch_size=32, seed=0)
        >>> pretrainer.fit(windows, epochs=10)
    """

    def __init__(self, clips, window, batch_size, steps_per_epoch=None, seed=0, **kwargs):
        self.clips, self.window = clips, int(window)
        super().__init__(len(clips), batch_size, steps_per_epoch, seed, "clips", **kwargs)

    def __getitem__(self, index):
        rows = self.batch_rows(index)
        # One generator per (epoch order, step), seeded as the example scripts did (so their
        # runs repeat): the same batch when a step is redone.
        rng = np.random.default_rng([self.seed, int(self.order[0]), index])
        pairs = [
            random_window(load_clip(self.clips, int(row), rng)[0], self.window, rng) for row in rows
        ]
        waveform = np.stack([w for w, _ in pairs])
        return ({"waveform": waveform, "padding_mask": np.stack([m for _, m in pairs])},)
