"""Audio I/O and signal helpers: read, down-mix, resample, normalise (numpy, any backend)."""

import numpy as np


def to_mono(audio):
    """Average the channels of ``audio`` (samples,) or (samples, channels) to (samples,).

    Down-mixing by averaging is what CPC_audio does for stereo files.
    """
    audio = np.asarray(audio, dtype="float32")
    if audio.ndim == 1:
        return audio
    if audio.ndim != 2:
        raise ValueError(
            f"Expected audio of shape (samples,) or (samples, channels); received {audio.shape}."
        )
    return audio.mean(axis=1)


def resample(waveform, orig_rate, target_rate):
    """Resample a 1-D float waveform with soxr (high quality), or return it unchanged.

    Example:
        >>> y = resample(np.zeros(8000, "float32"), 8000, 16000)  # 16000 samples
    """
    orig_rate, target_rate = int(orig_rate), int(target_rate)
    if orig_rate <= 0 or target_rate <= 0:
        raise ValueError(f"Sample rates must be positive; received {orig_rate} -> {target_rate}.")
    waveform = np.asarray(waveform, dtype="float32")
    if orig_rate == target_rate:
        return waveform
    import soxr

    return soxr.resample(waveform, orig_rate, target_rate, quality="HQ").astype("float32")


def normalize_peak(waveform, peak=0.95):
    """Scale so that ``max |x| == peak``; silent clips are returned unchanged."""
    waveform = np.asarray(waveform, dtype="float32")
    top = float(np.max(np.abs(waveform))) if waveform.size else 0.0
    return waveform if top == 0.0 else waveform * (peak / top)


def normalize_loudness(waveform, target_dbfs=-23.0):
    """Scale to an RMS level of ``target_dbfs`` dB full scale (a simple loudness norm);
    silent clips are returned unchanged. The result may clip beyond [-1, 1] for very peaky
    audio, which the model tolerates (floats)."""
    waveform = np.asarray(waveform, dtype="float32")
    rms = float(np.sqrt(np.mean(np.square(waveform)))) if waveform.size else 0.0
    if rms == 0.0:
        return waveform
    return waveform * (10.0 ** (target_dbfs / 20.0) / rms)


NORMALIZERS = {"peak": normalize_peak, "loudness": normalize_loudness, None: lambda w: w}


def normalize(waveform, method):
    """Apply ``"peak"``, ``"loudness"`` or ``None`` normalisation."""
    if method not in NORMALIZERS:
        raise ValueError(
            f"`normalization` must be 'peak', 'loudness' or None; received {method!r}."
        )
    return NORMALIZERS[method](waveform)


def load_audio(path, sample_rate=None, mono="average", normalization=None):
    """Read a WAV/FLAC/OGG file with soundfile as float32 in [-1, 1].

    Args:
        path: file path.
        sample_rate: resample to this rate (soxr); None keeps the file's rate.
        mono: ``"average"`` down-mixes multi-channel files; ``"error"`` raises ValueError.
        normalization: ``"peak"``, ``"loudness"`` or None.

    Returns:
        ``(waveform, rate)``: (samples,) float32 and its sample rate.

    Raises:
        ValueError: empty file, or multi-channel audio with ``mono="error"``.
        RuntimeError / soundfile.LibsndfileError: unreadable (corrupt) file.
    """
    import soundfile

    data, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    if data.shape[0] == 0:
        raise ValueError(f"Audio file {path} is empty (0 samples).")
    if data.shape[1] > 1 and mono == "error":
        raise ValueError(
            f"Expected mono audio in {path}; received {data.shape[1]} channels. "
            "Use mono='average' to down-mix."
        )
    waveform = to_mono(data)
    if sample_rate is not None:
        waveform = resample(waveform, rate, sample_rate)
        rate = int(sample_rate)
    return normalize(waveform, normalization), int(rate)
