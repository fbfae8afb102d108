"""Audio I/O and signal helpers: read, check, down-mix, resample, normalise (numpy).

The one audio preprocessing of the package (the shipped CPC preset was trained with it):
average the channels to mono, resample with soxr (quality HQ), divide by the peak so that
``max |x| == 1``. `keras_cpc.data.sources.audio_preprocessing` describes it for metadata.
"""

import struct
from pathlib import Path

import numpy as np

PEAK = 1.0
# Quieter clips are scaled by 1 / PEAK_FLOOR instead of being divided by (almost) zero.
PEAK_FLOOR = 1e-6
RESAMPLER = "soxr (quality HQ)"


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


def normalize_peak(waveform, peak=PEAK):
    """Scale so that ``max |x| == peak``; silent clips stay zeros.

    The division by the peak (floored at ``PEAK_FLOOR``) is written exactly as the pipeline
    the shipped CPC preset was trained with, so the same file gives bit-identical input.

    Example:
        >>> normalize_peak(np.array([0.1, -0.5], "float32"))
        array([ 0.2, -1. ], dtype=float32)
    """
    waveform = np.asarray(waveform, dtype="float32")
    top = float(np.max(np.abs(waveform))) if waveform.size else 0.0
    waveform = waveform / max(top, PEAK_FLOOR)
    return waveform if peak == 1.0 else waveform * np.float32(peak)


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


def pcm_to_float(audio):
    """Integer PCM (int16 as TFDS stores it) scaled to float32 in [-1, 1); floats unchanged."""
    audio = np.asarray(audio)
    if np.issubdtype(audio.dtype, np.integer):
        return audio.astype("float32") / 32768.0
    return audio.astype("float32")


def wav_truncation(path):
    """Why a RIFF/WAVE file is cut short, or None when complete (or not a plain WAV).

    libsndfile reads a truncated WAV without a word (it trusts the bytes it finds), so the
    data chunk's declared size is compared with what the file holds.

    Example:
        >>> wav_truncation("recordings/0_george_0.wav") is None
        True
    """
    path = Path(path)
    size = path.stat().st_size
    with open(path, "rb") as handle:
        header = handle.read(12)
        if len(header) < 12 or header[:4] != b"RIFF" or header[8:12] != b"WAVE":
            return None  # RIFX, RF64 (sizes in a ds64 chunk) or not a WAV: soundfile decides
        offset = 12
        while offset + 8 <= size:
            handle.seek(offset)
            chunk, length = struct.unpack("<4sI", handle.read(8))
            if chunk == b"data":
                held = size - offset - 8
                # 0 and 0xFFFFFFFF mark streamed files whose writer never filled the size in.
                if length not in (0, 0xFFFFFFFF) and length > held:
                    return f"truncated: header says {length} bytes of audio, file holds {held}"
                return None
            offset += 8 + length + (length & 1)  # chunks are padded to even sizes
    return "truncated: no audio data chunk before the end of the file"


def audio_problem(path, sample_rate=None, min_samples=0):
    """Why the audio file at ``path`` cannot be used, or None (header checks, no decoding).

    Args:
        path: audio file.
        sample_rate: rate the clip will be resampled to (None: the file's rate).
        min_samples: files shorter than this at ``sample_rate`` are reported as too short.

    Example:
        >>> audio_problem("clips/broken.wav")
        'truncated: header says 8000 bytes of audio, file holds 4000'
    """
    import soundfile

    try:
        info = soundfile.info(str(path))
        if info.frames == 0:
            return "empty file (0 samples)"
        rate = sample_rate or info.samplerate
        resampled = info.frames * rate / info.samplerate
        if resampled < min_samples:
            return f"too short: {int(resampled)} samples at {rate} Hz, need {min_samples}"
        return wav_truncation(path)
    except Exception as error:  # noqa: BLE001 - libsndfile raises several types
        return f"unreadable: {error}"


def load_audio(path, sample_rate=None, mono="average", normalization=None):
    """Read a WAV/FLAC/OGG file with soundfile as float32 in [-1, 1].

    ``load_audio(path, rate, normalization="peak")`` is the package's preprocessing (what
    the shipped CPC preset saw); the default ``None`` returns the file's samples as they are.

    Args:
        path: file path.
        sample_rate: resample to this rate (soxr); None keeps the file's rate.
        mono: ``"average"`` down-mixes multi-channel files; ``"error"`` raises ValueError.
        normalization: ``"peak"``, ``"loudness"`` or None.

    Returns:
        ``(waveform, rate)``: (samples,) float32 and its sample rate.

    Raises:
        ValueError: empty or truncated file, or multi-channel audio with ``mono="error"``.
        RuntimeError / soundfile.LibsndfileError: unreadable (corrupt) file.

    Example:
        >>> waveform, rate = load_audio("0_george_0.wav", 16000, normalization="peak")
    """
    import soundfile

    data, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    if data.shape[0] == 0:
        raise ValueError(f"Expected audio samples in {path}; received an empty file.")
    truncated = wav_truncation(path)
    if truncated:
        raise ValueError(f"Expected a complete audio file; received {path}, {truncated}.")
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
