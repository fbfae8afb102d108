"""Frozen features for a linear probe: backbone embeddings of images, clips or files; MFCCs.

Every function returns a float32 array ``(n, dim)``, one row per input in the order given, the
input of `keras_cpc.evaluation.linear_probe`.
"""

import sys

import keras
import numpy as np
from tqdm import tqdm

from keras_cpc.data import audio_problem, load_audio, read_images, readable_images
from keras_cpc.data.folders import AUDIO_SUFFIXES, IMAGE_SUFFIXES, warn_skipped
from keras_cpc.models.audio_classifier import batch_waveforms

# Inputs per forward pass when none is given, by backend and modality: on the 2-core
# development CPU (shared with other work), the sizes within ~15% of the best images/s in each
# of three runs of benchmarks/feature_batch_size.py (its docstring holds the runs and command):
# TensorFlow 128 (batch 32 gave half the images/s in one run), JAX 64 (its rate falls beyond),
# PyTorch 128 (too noisy under load to rank 64-512). Audio stays moderate whatever the backend:
# clips can be minutes long, and a batch is padded to its longest clip. A literal dict:
# ``keras-cpc --help`` reads it without importing keras.
DEFAULT_BATCH_SIZES = {
    "tensorflow": {"image": 128, "audio": 64},
    "jax": {"image": 64, "audio": 64},
    "torch": {"image": 128, "audio": 64},
}
# A backend missing from the table (a future one) gets these.
FALLBACK_BATCH_SIZES = {"image": 128, "audio": 32}


def default_batch_size(modality, backend=None):
    """The batch size feature extraction uses when none is given, for this backend.

    Args:
        modality: ``"image"`` or ``"audio"``.
        backend: a Keras backend name (None: ``keras.backend.backend()``).

    Returns:
        An int, from `DEFAULT_BATCH_SIZES` (`FALLBACK_BATCH_SIZES` for a backend not in it).

    Example:
        >>> default_batch_size("image", "tensorflow")
        128
    """
    if modality not in FALLBACK_BATCH_SIZES:
        raise ValueError(
            f"Expected a modality in {tuple(FALLBACK_BATCH_SIZES)}; received {modality!r}."
        )
    backend = backend or keras.backend.backend()
    return DEFAULT_BATCH_SIZES.get(backend, FALLBACK_BATCH_SIZES)[modality]


def resolve_batch_size(batch_size, modality):
    """``batch_size`` as an int >= 1, or the backend's default (`default_batch_size`) for None.

    Example:
        >>> resolve_batch_size(None, "audio")
        64
    """
    if batch_size is None:
        return default_batch_size(modality)
    try:
        size = int(batch_size)
    except (TypeError, ValueError):
        size = 0
    if size < 1 or size != batch_size:
        raise ValueError(
            f"Expected a batch size >= 1 (or None: the backend's default); received {batch_size!r}."
        )
    return size


def is_audio_backbone(backbone):
    """True for a backbone that takes waveforms (it has a ``sample_rate``), False for images."""
    return hasattr(backbone, "sample_rate")


def input_suffixes(backbone):
    """The file suffixes ``backbone`` reads: `AUDIO_SUFFIXES` or `IMAGE_SUFFIXES`."""
    return AUDIO_SUFFIXES if is_audio_backbone(backbone) else IMAGE_SUFFIXES


def image_features(backbone, images, batch_size=None, progress=False, desc="features"):
    """Pooled embeddings of uint8 images (pixel scaling is part of the preset).

    Args:
        backbone: an image backbone (e.g. `ResNetBackbone`).
        images: uint8 array ``(n, height, width, 3)``.
        batch_size: images per forward pass (None: the backend's, `default_batch_size`).
        progress: show a tqdm bar over the images on stderr (None: only on a terminal).
        desc: the bar's label, e.g. which model the features come from.

    Returns:
        float32 array ``(n, backbone.output_dim)``, whatever the model's compute dtype.

    Example:
        >>> features = image_features(backbone, images, batch_size=256)
    """
    batch_size = resolve_batch_size(batch_size, "image")
    # Checked once for the whole array (clear errors before anything is traced); the batches
    # then go through the compiled predict step, reused from batch to batch.
    backbone.check_inputs(images)
    disable = None if progress is None else not progress
    outputs = []
    with tqdm(total=len(images), desc=desc, unit="image", disable=disable, file=sys.stderr) as bar:
        for start in range(0, len(images), batch_size):
            batch = images[start : start + batch_size]
            outputs.append(np.asarray(backbone.predict_on_batch(batch), dtype="float32"))
            bar.update(len(batch))
    if not outputs:
        return np.zeros((0, backbone.output_dim), "float32")
    return np.concatenate(outputs)


def audio_features(backbone, clips, batch_size=None, progress=False, desc="features"):
    """Pooled embeddings of variable-length clips at the backbone's rate.

    Clips are batched by length (shortest first) so that a batch holds little padding; the
    padding mask keeps the padded samples out of the pooled vector.

    Args:
        backbone: an audio backbone (e.g. `CPCBackbone`), which has a ``sample_rate``.
        clips: list of 1-D float waveforms already at ``backbone.sample_rate``.
        batch_size: clips per forward pass (None: the backend's, `default_batch_size`).
        progress: show a tqdm bar over the clips on stderr (None: only on a terminal).
        desc: the bar's label.

    Returns:
        float32 array ``(len(clips), backbone.output_dim)``, in the order of ``clips``,
        whatever the model's compute dtype.

    Example:
        >>> features = audio_features(backbone, clips, batch_size=64)
    """
    if not clips:
        raise ValueError("Expected at least one clip; received none.")
    batch_size = resolve_batch_size(batch_size, "audio")
    order = np.argsort([len(c) for c in clips])
    features = [None] * len(clips)
    # tqdm's disable=None shows the bar on a terminal only.
    disable = None if progress is None else not progress
    with tqdm(total=len(clips), desc=desc, unit="clip", disable=disable, file=sys.stderr) as bar:
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            inputs = batch_waveforms(
                [clips[i] for i in rows],
                backbone.sample_rate,
                backbone.sample_rate,
                min_samples=getattr(backbone, "min_samples", 1),
            )
            # float32 rows: a bfloat16 model's outputs would not fit a float32 array exactly.
            output = keras.ops.convert_to_numpy(
                keras.ops.cast(backbone(inputs, training=False), "float32")
            )
            for row, value in zip(rows, output):
                features[row] = value
            bar.update(len(rows))
    return np.stack(features).astype("float32")


def mfcc_features(clips, sample_rate):
    """MFCC-13 mean and standard deviation per clip: the raw-audio baseline (26 numbers).

    25 ms Hamming window, 10 ms hop, 40 mel bands (librosa), the usual speech front end.

    Args:
        clips: list of 1-D float waveforms.
        sample_rate: their rate in Hz.

    Returns:
        float32 array ``(len(clips), 26)``.

    Example:
        >>> baseline = mfcc_features(clips, 8000)
    """
    import librosa  # an optional dependency (keras-cpc[audio]): imported where needed

    window = int(round(0.025 * sample_rate))
    hop = int(round(0.010 * sample_rate))
    n_fft = 1 << (window - 1).bit_length()
    rows = []
    for clip in clips:
        mfcc = librosa.feature.mfcc(
            y=np.asarray(clip, "float32"),
            sr=sample_rate,
            n_mfcc=13,
            n_fft=n_fft,
            win_length=window,
            hop_length=hop,
            window="hamming",
            n_mels=40,
            center=True,
        )
        rows.append(np.concatenate([mfcc.mean(axis=1), mfcc.std(axis=1)]))
    return np.asarray(rows, dtype="float32")


def usable_files(backbone, files):
    """The files among ``files`` that ``backbone`` can read; one warning names the others.

    The checks are the data pipeline's (`keras_cpc.data.image_problem`,
    `keras_cpc.data.audio_problem`: empty, truncated or undecodable files), made before any
    batch is built, so a bad file never stops an extraction halfway.

    Example:
        >>> kept = usable_files(backbone, ["a.jpg", "empty.jpg"])  # warns about empty.jpg
    """
    if not is_audio_backbone(backbone):
        keep, _ = readable_images(files)
        return [files[i] for i in keep]
    kept, skipped = [], []
    min_samples = getattr(backbone, "min_samples", 0)
    for path in files:
        # Too short for one frame: the model refuses such a clip, so the file is skipped here
        # rather than padded with zeros into a made-up embedding.
        problem = audio_problem(path, sample_rate=backbone.sample_rate, min_samples=min_samples)
        if problem is None:
            kept.append(path)
        else:
            skipped.append((str(path), problem))
    warn_skipped("audio", skipped)
    return kept


def audio_normalization(backbone):
    """The normalisation the preset's clips were trained with (None: samples as they are).

    Read from the preset's recorded preprocessing (``metadata.json``), so that features of
    files are those of the probe and of training: peak 1.0 for the FSDD preset, none for
    converted CPC_audio weights. A backbone with no record (built in code, or a preset saved
    without ``preprocessing``) gets the package's pipeline, ``"peak"``
    (`keras_cpc.data.audio_preprocessing`).

    Example:
        >>> audio_normalization(CPCBackbone.from_preset("cpc_gru_fsdd_8khz"))
        'peak'
    """
    preprocessing = getattr(backbone, "preset_preprocessing", None) or {}
    return preprocessing.get("normalization", "peak")


def _read_inputs(files, backbone):
    """``(inputs, kept, skipped)``: the backbone input for the usable ``files`` among these.

    Images: an array. Audio: a padded waveform batch; clips whose decoded samples are not
    finite are left out and returned in ``skipped`` with the reason.
    """
    if not is_audio_backbone(backbone):
        height, width = backbone.get_config().get("image_shape", (None, None, 3))[:2]
        images = read_images(files, image_size=(height, width) if height and width else None)
        return images, list(files), []
    normalization = audio_normalization(backbone)
    clips, kept, skipped = [], [], []
    for path in files:
        # Down-mixed to mono and resampled to the preset's rate file by file.
        clip = load_audio(path, sample_rate=backbone.sample_rate, normalization=normalization)[0]
        if np.isfinite(clip).all():
            clips.append(clip)
            kept.append(path)
        else:
            skipped.append((str(path), "NaN or infinite samples"))
    if not clips:
        return None, kept, skipped
    inputs = batch_waveforms(clips, backbone.sample_rate, backbone.sample_rate)
    return inputs, kept, skipped


def file_features(backbone, files, batch_size=None, progress=True):
    """Pooled embeddings of image or audio files; unusable files are skipped with a warning.

    Images are decoded with `keras_cpc.data.read_images` (resized, bilinear, to the preset's
    image size when it has one), audio with `keras_cpc.data.load_audio` (mono, resampled to
    the preset's rate): the loaders of the rest of the package. Files are checked first
    (`usable_files`).

    Args:
        backbone: an image or audio backbone.
        files: paths of files the backbone takes (see `input_suffixes`).
        batch_size: files per forward pass (None: the backend's, `default_batch_size`).
        progress: show a tqdm bar over batches on stderr.

    Returns:
        ``(features, kept)``: float32 array ``(len(kept), dim)`` (whatever the model's compute
        dtype, so a saved .npy is float32) and the files it describes,
        in the order given (``files`` without the unusable ones).

    Example:
        >>> features, kept = file_features(backbone, ["a.jpg", "b.jpg"])
    """
    modality = "audio" if is_audio_backbone(backbone) else "image"
    batch_size = resolve_batch_size(batch_size, modality)
    kept = usable_files(backbone, list(files))
    if not kept:
        raise ValueError(
            f"Expected at least one readable file; none of the {len(files)} given can be "
            "used (see the warning above for each file and why)."
        )
    outputs, used, skipped = [], [], []
    starts = range(0, len(kept), batch_size)
    unit = "clip" if modality == "audio" else "image"
    with tqdm(
        total=len(kept), desc="extract", unit=unit, disable=not progress, file=sys.stderr
    ) as bar:
        for start in starts:
            inputs, batch_kept, batch_skipped = _read_inputs(
                kept[start : start + batch_size], backbone
            )
            used += batch_kept
            skipped += batch_skipped
            if inputs is not None:
                output = keras.ops.cast(backbone(inputs, training=False), "float32")
                outputs.append(keras.ops.convert_to_numpy(output))
            bar.update(len(batch_kept) + len(batch_skipped))
    warn_skipped(modality, skipped)
    if not outputs:
        raise ValueError(
            f"Expected at least one usable file; none of the {len(files)} given can be used "
            "(see the warnings above for each file and why)."
        )
    return np.concatenate(outputs).astype("float32"), used
