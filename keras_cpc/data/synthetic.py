"""Synthetic audio for demos, smoke tests and benchmarks: clips of held random tones.

Each clip is a phase-continuous sine whose frequency changes every ``hold`` samples to one of
eight tones drawn at random. Within a clip the next frames are predictable from the past ones
(the tone is held), while frames of other clips mostly are not: what CPC learns from, in
seconds and without any dataset (`benchmarks/cpc_negative_bank.py`, the CPC tests).
"""

import numpy as np

TONES_HZ = (200.0, 300.0, 450.0, 650.0, 900.0, 1300.0, 1800.0, 2500.0)


def tone_clips(num_clips, samples, sample_rate=8000, hold=320, seed=0):
    """Float32 clips (num_clips, samples) of random tones, each held for ``hold`` samples.

    Args:
        num_clips: number of clips.
        samples: samples per clip.
        sample_rate: Hz; the tones are 200-2500 Hz, below the Nyquist frequency from 5 kHz.
        hold: samples each tone lasts.
        seed: seed of NumPy's generator (the same seed gives the same clips).

    Returns:
        float32 array (num_clips, samples) with values in [-0.5, 0.5].

    Example:
        >>> clips = tone_clips(64, 800)  # 64 clips of 0.1 s at 8 kHz
        >>> clips.shape, clips.dtype
        ((64, 800), dtype('float32'))
    """
    if num_clips < 1 or samples < 1 or hold < 1:
        raise ValueError(
            "Expected num_clips, samples and hold >= 1. Received "
            f"num_clips={num_clips}, samples={samples}, hold={hold}."
        )
    if sample_rate < 2 * max(TONES_HZ):
        raise ValueError(
            f"Expected sample_rate >= {2 * max(TONES_HZ):.0f} Hz (twice the highest tone). "
            f"Received sample_rate={sample_rate}."
        )
    rng = np.random.default_rng(seed)
    tones = np.array(TONES_HZ)
    out = np.empty((num_clips, samples), "float32")
    for i in range(num_clips):
        segments = rng.integers(0, len(tones), size=samples // hold + 1)
        frequency = np.repeat(tones[segments], hold)[:samples]
        phase = np.cumsum(2 * np.pi * frequency / sample_rate) + rng.uniform(0, 2 * np.pi)
        out[i] = 0.5 * np.sin(phase)
    return out
