"""Audio sources with random access: a folder of files, or a locally prepared TFDS dataset.

A source has ``len(source)``, ``source.load(i)`` (float32 mono waveform at
``source.sample_rate``), ``source.labels`` (int per item, or None) and ``source.names``
(file path or example id, used in warnings).
"""

import re
import warnings
from pathlib import Path

import numpy as np

from keras_cpc.data.audio import load_audio, normalize, resample, to_mono

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg")
_FSDD_NAME = re.compile(r"^(\d)_([A-Za-z]+)_(\d+)$")


def fsdd_label_parser(path):
    """Parse FSDD's ``{digit}_{speaker}_{index}.wav`` into a dict.

    Example:
        >>> fsdd_label_parser("recordings/7_jackson_32.wav")
        {'digit': 7, 'speaker': 'jackson', 'index': 32}
    """
    match = _FSDD_NAME.match(Path(path).stem)
    if not match:
        raise ValueError(
            f"Expected an FSDD file name '{{digit}}_{{speaker}}_{{index}}.wav'; received "
            f"'{Path(path).name}'."
        )
    return {"digit": int(match[1]), "speaker": match[2], "index": int(match[3])}


def _label_ids(values):
    """Map label values to ints; strings get ids in sorted order."""
    if all(isinstance(v, (int, np.integer)) for v in values):
        return [int(v) for v in values], None
    names = sorted({str(v) for v in values})
    index = {name: i for i, name in enumerate(names)}
    return [index[str(v)] for v in values], names


class AudioFolderSource:
    """Audio files under a folder, checked once when the source is made.

    Empty, unreadable (corrupt) or too-short files, and files whose name the label parser
    rejects, are skipped with a warning naming the file (``on_error="warn"``) or raise
    ValueError (``on_error="raise"``), so training never meets them halfway through.

    Args:
        directory: folder searched recursively.
        sample_rate: rate the model expects; files are resampled to it (soxr).
        label_parser: callable ``path -> label`` or ``path -> dict``; None for no labels.
        label_key: key of the parser's dict used as the label (e.g. ``"digit"``).
        extensions: file suffixes to read.
        normalization: ``"peak"``, ``"loudness"`` or None, applied per clip.
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
        extensions=AUDIO_EXTENSIONS,
        normalization="peak",
        min_samples=0,
        on_error="warn",
    ):
        import soundfile

        if on_error not in ("warn", "raise"):
            raise ValueError(f"`on_error` must be 'warn' or 'raise'; received {on_error!r}.")
        directory = Path(directory)
        if not directory.is_dir():
            raise ValueError(f"Expected a folder of audio files; {directory} is not a folder.")
        normalize(np.zeros(1, "float32"), normalization)  # validates the name early
        self.directory = directory
        self.sample_rate = int(sample_rate)
        self.normalization = normalization
        self.on_error = on_error
        suffixes = {e.lower() for e in extensions}
        candidates = sorted(p for p in directory.rglob("*") if p.suffix.lower() in suffixes)
        self.names, self.parsed, self.skipped = [], [], []
        for path in candidates:
            try:
                info = soundfile.info(str(path))
                if info.frames == 0:
                    raise ValueError("empty file (0 samples)")
                resampled = info.frames * self.sample_rate / info.samplerate
                if resampled < min_samples:
                    raise ValueError(
                        f"too short: {int(resampled)} samples at {self.sample_rate} Hz, "
                        f"need {min_samples}"
                    )
                parsed = label_parser(path) if label_parser is not None else None
            except Exception as error:  # corrupt files raise soundfile/libsndfile errors
                self._problem(path, error)
                continue
            self.names.append(str(path))
            self.parsed.append(parsed)
        if not self.names:
            raise ValueError(
                f"No usable audio files ({', '.join(sorted(suffixes))}) in {directory}; "
                f"{len(self.skipped)} skipped."
            )
        self.labels, self.label_names = None, None
        if label_parser is not None:
            values = [p[label_key] if label_key is not None else p for p in self.parsed]
            self.labels, self.label_names = _label_ids(values)

    def _problem(self, path, error):
        message = f"Skipping audio file {path}: {error}"
        if self.on_error == "raise":
            raise ValueError(message) from error
        warnings.warn(message, stacklevel=3)
        self.skipped.append(str(path))

    def __len__(self):
        return len(self.names)

    def load(self, index):
        """Waveform ``index`` as float32 (samples,) at ``sample_rate``, normalised."""
        waveform, _ = load_audio(self.names[index], self.sample_rate)
        return normalize(waveform, self.normalization)


# Feature names of the TFDS datasets we know: (audio key, label key, sample rate).
TFDS_AUDIO_DATASETS = {
    "spoken_digit": ("audio", "label", 8000),
    "librispeech": ("speech", "speaker_id", 16000),
}


class TFDSAudioSource:
    """A TFDS audio dataset that is already prepared on this machine (never downloads).

    Examples are read into memory on first use (``max_examples`` bounds that: LibriSpeech is
    large). Integer PCM is scaled to [-1, 1].

    Args:
        name: ``"spoken_digit"``, ``"librispeech"`` (or another name with ``audio_key``,
            ``label_key`` and ``source_rate`` given).
        split: TFDS split, e.g. ``"train"`` or ``"train[:90%]"``.
        sample_rate: rate the model expects; resampled with soxr.
        data_dir: TFDS data folder (default: TFDS's own default).
        normalization: ``"peak"``, ``"loudness"`` or None.
        max_examples: read at most this many examples.

    Raises:
        FileNotFoundError: the dataset is not prepared under ``data_dir``.
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
        import tensorflow_datasets as tfds

        known = TFDS_AUDIO_DATASETS.get(name.split(":")[0], (None, None, None))
        self.audio_key = audio_key or known[0]
        self.label_key = label_key or known[1]
        self.source_rate = int(source_rate or known[2] or 0)
        if not self.audio_key or not self.source_rate:
            raise ValueError(
                f"Unknown TFDS audio dataset {name!r}: pass audio_key, label_key and "
                f"source_rate (known: {sorted(TFDS_AUDIO_DATASETS)})."
            )
        builder = tfds.builder(name, data_dir=data_dir)
        if not builder.is_prepared():
            raise FileNotFoundError(
                f"TFDS dataset {name!r} is not prepared in {builder.data_dir}; keras_cpc "
                "never downloads. Prepare it first (e.g. `tfds build "
                f"{name}` with network access, or copy the prepared folder there) and pass "
                "its data_dir."
            )
        self.builder, self.split = builder, split
        self.sample_rate = int(sample_rate or self.source_rate)
        self.normalization = normalization
        self.max_examples = max_examples
        self._examples = None

    def _read(self):
        if self._examples is None:
            import tensorflow_datasets as tfds

            dataset = self.builder.as_dataset(split=self.split)
            if self.max_examples is not None:
                dataset = dataset.take(self.max_examples)
            self._examples = []
            for example in tfds.as_numpy(dataset):
                audio = np.asarray(example[self.audio_key])
                if np.issubdtype(audio.dtype, np.integer):
                    audio = audio.astype("float32") / 32768.0
                label = example.get(self.label_key) if self.label_key else None
                self._examples.append((to_mono(audio.astype("float32")), label))
        return self._examples

    def __len__(self):
        return len(self._read())

    @property
    def names(self):
        return [f"{self.builder.name}/{self.split}#{i}" for i in range(len(self))]

    @property
    def labels(self):
        examples = self._read()
        if not self.label_key:
            return None
        return _label_ids([label for _, label in examples])[0]

    def load(self, index):
        audio = resample(self._read()[index][0], self.source_rate, self.sample_rate)
        return normalize(audio, self.normalization)
