"""tone_clips: deterministic, bounded, held tones; bad arguments get a clear error."""

import numpy as np
import pytest

from keras_cpc.data import tone_clips


def test_clips_are_seeded_bounded_and_hold_their_tone():
    clips = tone_clips(4, 960, hold=320, seed=1)
    assert clips.shape == (4, 960) and clips.dtype == np.float32
    assert np.abs(clips).max() <= 0.5 + 1e-6
    np.testing.assert_array_equal(clips, tone_clips(4, 960, hold=320, seed=1))
    assert not np.array_equal(clips, tone_clips(4, 960, hold=320, seed=2))
    # Within a held segment the signal is one sine: its spectrum has one peak.
    segment = clips[0, :320] * np.hanning(320)
    spectrum = np.abs(np.fft.rfft(segment))
    assert np.sort(spectrum)[-1] > 4 * np.sort(spectrum)[-4]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(num_clips=0, samples=800), "num_clips=0"),
        (dict(num_clips=2, samples=800, hold=0), "hold=0"),
        (dict(num_clips=2, samples=800, sample_rate=4000), "sample_rate=4000"),
    ],
)
def test_bad_arguments_say_what_was_received(kwargs, message):
    with pytest.raises(ValueError, match=message):
        tone_clips(**kwargs)
