"""Audio sources: FSDD-style folders and locally prepared TFDS datasets.

`load_audio_clips` reads a whole (small) data set into memory, as the shipped CPC preset
was trained; `AudioFolderSource` and `TFDSAudioSource` give random access for larger sets
(``len(source)``, ``source.load(i)``, ``source.labels``, ``source.names``). All of them
apply the one preprocessing of `keras_cpc.data.audio` (mono average, soxr, peak 1.0) and
skip unusable files with one warning naming each.
"""

import re
from pathlib import Path

import numpy as np

from keras_cpc.data.audio import (
    PEAK,
    PEAK_FLOOR,
    RESAMPLER,
    audio_problem,
    load_audio,
    normalize,
    pcm_to_float,
    resample,
    to_mono,
)
from keras_cpc.data.folders import AUDIO_SUFFIXES, warn_skipped
from keras_cpc.data.tfds import is_tfds_source, prepared_builder, read_builder, tfds_name

FSDD_NAME = re.compile(r"^(\d)_([A-Za-z]+)_(\d+)$")


def audio_preprocessing(sample_rate):
    """What `load_audio_clips` and the sources do to a clip, as a dict for preset metadata.

    Example:
        >>> audio_preprocessing(8000)["normalization"]
        'peak'
    """
    return {
        "sample_rate": int(sample_rate),
        "dtype": "float32",
        "mono": "average",
        "integer_pcm": "divided by 32768",
        "resampler": RESAMPLER,
        "normalization": "peak",
        "peak": PEAK,
        "peak_floor": PEAK_FLOOR,
    }


def fsdd_label_parser(path):
    """Parse FSDD's ``{digit}_{speaker}_{index}.wav`` into a dict.

    Example:
        >>> fsdd_label_parser("recordings/7_jackson_32.wav")
        {'digit': 7, 'speaker': 'jackson', 'index': 32}
    """
    match = FSDD_NAME.match(Path(path).stem)
    if not match:
        raise ValueError(
            f"Expected an FSDD file name '{{digit}}_{{speaker}}_{{index}}.wav'; received "
            f"'{Path(path).name}'."
        )
    return {"digit": int(match[1]), "speaker": match[2], "index": int(match[3])}


def load_audio_clips(source, sample_rate=8000, limit=None, seed=0, normalization="peak"):
    """All clips of an FSDD-style folder or TFDS ``spoken_digit``, in memory, preprocessed.

    Files are searched recursively and sorted; names that are not
    ``{digit}_{speaker}_{index}``, and empty, corrupt or truncated files, are skipped with one
    warning naming each (the kept clips keep their labels).

    Args:
        source: a folder, or ``"tfds:spoken_digit"`` (prepared locally).
        sample_rate: rate of the returned clips (soxr resampling).
        limit: keep a seeded random choice of at most this many clips (in order).
        seed: seed of that choice.
        normalization: ``"peak"`` (the package's, peak 1.0; what the FSDD preset was trained
            with), ``"loudness"`` or None (samples as read: what the CPC_audio weights expect).

    Returns:
        ``(clips, info)``: list of float32 (samples,) mono waveforms; dict of numpy
        arrays aligned with them: ``digit``, ``speaker`` (names), ``index``, ``file``.

    Example:
        >>> clips, info = load_audio_clips("~/data/fsdd/recordings", 8000)
    """
    if is_tfds_source(source):
        return _tfds_clips(tfds_name(source), sample_rate, limit, seed, normalization)
    root = Path(source).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"Expected a folder of FSDD-style .wav files; received {root}.")
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES)
    parsed = [(p, FSDD_NAME.match(p.stem)) for p in files]
    skipped = [(p, "name is not {digit}_{speaker}_{index}") for p, m in parsed if m is None]
    parsed = [(p, m) for p, m in parsed if m is not None]
    if limit is not None and limit < len(parsed):
        keep = np.sort(np.random.default_rng(seed).choice(len(parsed), limit, replace=False))
        parsed = [parsed[i] for i in keep]
    clips, rows = [], []
    for path, match in parsed:
        problem = audio_problem(path)
        if problem is None:
            try:
                clips.append(load_audio(path, sample_rate, normalization=normalization)[0])
            except Exception as error:  # noqa: BLE001 - any unreadable file is skipped loudly
                problem = f"unreadable: {error}"
        if problem is not None:
            skipped.append((path, problem))
            continue
        rows.append((int(match[1]), match[2], int(match[3]), str(path)))
    warn_skipped("audio", skipped)
    if not clips:
        raise ValueError(f"Expected FSDD-style .wav files under {root}; found none readable.")
    return clips, _clip_info(rows)


def _clip_info(rows):
    digit, speaker, index, names = zip(*rows)
    return {
        "digit": np.asarray(digit),
        "speaker": np.asarray(speaker),
        "index": np.asarray(index),
        "file": np.asarray(names),
    }


def _tfds_clips(name, sample_rate, limit, seed, normalization="peak"):
    source = TFDSAudioSource(name, sample_rate=sample_rate, normalization=normalization)
    source.load(0)  # reads the examples (and their labels and file names) once
    rows = []
    for position, (label, filename) in enumerate(zip(source.raw_labels, source.filenames)):
        match = FSDD_NAME.match(Path(filename).stem)
        speaker = match[2] if match else "unknown"
        rows.append((int(label), speaker, int(match[3]) if match else position, filename))
    keep = np.arange(len(source))
    if limit is not None and limit < len(source):
        keep = np.sort(np.random.default_rng(seed).choice(len(source), limit, replace=False))
    return [source.load(i) for i in keep], {k: v[keep] for k, v in _clip_info(rows).items()}


def _label_ids(values):
    """Map label values to ints; strings get ids in sorted order."""
    if all(isinstance(v, (int, np.integer)) for v in values):
        return [int(v) for v in values], None
    names = sorted({str(v) for v in values})
    index = {name: i for i, name in enumerate(names)}
    return [index[str(v)] for v in values], names


class AudioFolderSource:
    """Audio files under a folder, checked once (headers only) when the source is made.

    Empty, unreadable (corrupt), truncated or too-short files, and files whose name the
    label parser rejects, are skipped with one warning naming each (``on_error="warn"``) or
    refused with a ValueError naming the first (``on_error="raise"``), so training never
    meets them halfway through.

    Args:
        directory: folder searched recursively.
        sample_rate: rate the model expects; files are resampled to it (soxr).
        label_parser: callable ``path -> label`` or ``path -> dict``; None for no labels.
        label_key: key of the parser's dict used as the label (e.g. ``"digit"``).
        extensions: file suffixes to read.
        normalization: ``"peak"`` (the package's, peak 1.0), ``"loudness"`` or None.
        min_samples: skip clips shorter than this after resampling (e.g. the model's
            ``min_samples``).
        on_error: ``"warn"`` (skip) or ``"raise"``.

    Example:
        >>> source = AudioFolderSource("fsdd/recordings", 8000, fsdd_label_parser, "digit")
        >>> waveform = source.load(0)
    """

    def __init__(
        self,
        directory,
        sample_rate,
        label_parser=None,
        label_key=None,
        extensions=AUDIO_SUFFIXES,
        normalization="peak",
        min_samples=0,
        on_error="warn",
    ):
        if on_error not in ("warn", "raise"):
            raise ValueError(f"`on_error` must be 'warn' or 'raise'; received {on_error!r}.")
        directory = Path(directory).expanduser()
        if not directory.is_dir():
            raise ValueError(f"Expected a folder of audio files; received {directory}.")
        normalize(np.zeros(1, "float32"), normalization)  # validates the name early
        self.directory, self.sample_rate = directory, int(sample_rate)
        self.normalization = normalization
        suffixes = {e.lower() for e in extensions}
        candidates = sorted(p for p in directory.rglob("*") if p.suffix.lower() in suffixes)
        self.names, parsed, self.skipped = [], [], []
        for path in candidates:
            problem = audio_problem(path, self.sample_rate, min_samples)
            if problem is None and label_parser is not None:
                try:
                    parsed.append(label_parser(path))
                except Exception as error:  # noqa: BLE001 - the parser's own message
                    problem = f"label: {error}"
            if problem is not None:
                if on_error == "raise":
                    raise ValueError(f"Expected usable audio files; received {path}: {problem}")
                self.skipped.append((str(path), problem))
                continue
            self.names.append(str(path))
        warn_skipped("audio", self.skipped)
        if not self.names:
            raise ValueError(
                f"Expected usable audio files ({', '.join(sorted(suffixes))}) in {directory}; "
                f"received none ({len(self.skipped)} skipped)."
            )
        self.labels, self.label_names = None, None
        if label_parser is not None:
            values = [p[label_key] if label_key is not None else p for p in parsed]
            self.labels, self.label_names = _label_ids(values)

    def __len__(self):
        return len(self.names)

    def load(self, index):
        """Waveform ``index`` as float32 (samples,) at ``sample_rate``, normalised."""
        return load_audio(self.names[index], self.sample_rate, normalization=self.normalization)[0]


# Feature names of the TFDS datasets we know: (audio key, label key, sample rate).
TFDS_AUDIO_DATASETS = {
    "spoken_digit": ("audio", "label", 8000),
    "librispeech": ("speech", "speaker_id", 16000),
}


class TFDSAudioSource:
    """A TFDS audio dataset that is already prepared on this machine (never downloads).

    Examples are read into memory on first use (``max_examples`` bounds that: LibriSpeech is
    large); labels and names are computed then, once. Integer PCM is scaled to [-1, 1).

    Args:
        name: ``"spoken_digit"``, ``"librispeech"`` (or another name with ``audio_key``,
            ``label_key`` and ``source_rate`` given).
        split: TFDS split, e.g. ``"train"`` or ``"train[:90%]"``.
        sample_rate: rate the model expects; resampled with soxr.
        data_dir: TFDS data folder (default: TFDS's own default).
        normalization: ``"peak"`` (the package's, peak 1.0), ``"loudness"`` or None.
        max_examples: read at most this many examples.

    Raises:
        FileNotFoundError: the dataset is not prepared under ``data_dir``.

    Example:
        >>> source = TFDSAudioSource("spoken_digit", sample_rate=16000)
    """

    def __init__(
        self,
        name,
        split="train",
        sample_rate=None,
        data_dir=None,
        normalization="peak",
        max_examples=None,
        audio_key=None,
        label_key=None,
        source_rate=None,
    ):
        known = TFDS_AUDIO_DATASETS.get(name.split(":")[0], (None, None, None))
        self.audio_key = audio_key or known[0]
        self.label_key = label_key or known[1]
        self.source_rate = int(source_rate or known[2] or 0)
        if not self.audio_key or not self.source_rate:
            raise ValueError(
                f"Expected a known TFDS audio dataset ({sorted(TFDS_AUDIO_DATASETS)}) or "
                f"audio_key, label_key and source_rate; received {name!r} without them "
                "(Unknown TFDS audio dataset)."
            )
        normalize(np.zeros(1, "float32"), normalization)  # validates the name early
        self.builder, self.split = prepared_builder(name, data_dir), split
        self.sample_rate = int(sample_rate or self.source_rate)
        self.normalization, self.max_examples = normalization, max_examples
        self._audio = None

    def _read(self):
        if self._audio is None:
            records = read_builder(self.builder, self.split, self.max_examples)
            self._audio = [to_mono(pcm_to_float(r[self.audio_key])) for r in records]
            self.raw_labels = [r.get(self.label_key) for r in records] if self.label_key else None
            # Computed once here: reading them per item used to cost O(n) each.
            self._labels, self.label_names = (
                _label_ids(self.raw_labels) if self.label_key else (None, None)
            )
            self.filenames = [_text(r.get("audio/filename", b"")) for r in records]
            self._names = [f"{self.builder.name}/{self.split}#{i}" for i in range(len(records))]
        return self._audio

    def __len__(self):
        return len(self._read())

    @property
    def names(self):
        self._read()
        return self._names

    @property
    def labels(self):
        self._read()
        return self._labels

    def load(self, index):
        """Example ``index`` as float32 (samples,) at ``sample_rate``, normalised."""
        audio = resample(self._read()[index], self.source_rate, self.sample_rate)
        return normalize(audio, self.normalization)


def _text(value):
    return value.decode() if isinstance(value, bytes) else str(value)
