"""Fixed-length windows (pretraining) and padded utterance batches (evaluation)."""

import numpy as np


def random_window(waveform, length, rng=None):
    """A random ``length``-sample crop of ``waveform`` and its padding mask.

    Clips shorter than ``length`` are right-padded with zeros (mask 0 on the padding), so
    short recordings such as FSDD digits keep all their frames.

    Returns:
        ``(window, mask)``: float32 (length,) and bool (length,).
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
    """
    longest = max([len(w) for w in waveforms] + [min_length])
    length = -(-longest // multiple_of) * multiple_of
    batch = np.zeros((len(waveforms), length), "float32")
    mask = np.zeros((len(waveforms), length), bool)
    for i, w in enumerate(waveforms):
        batch[i, : len(w)] = w
        mask[i, : len(w)] = True
    return {"waveform": batch, "padding_mask": mask}
