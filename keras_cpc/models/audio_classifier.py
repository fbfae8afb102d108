"""AudioClassifier: audio backbone + pooling over valid frames + dropout + Dense head."""

import keras
import numpy as np
from keras import ops

from keras_cpc.models.input_checks import PCM_SCALES
from keras_cpc.models.task import Task


def resample_waveform(waveform, sample_rate, target_sample_rate):
    """Resample a 1-D float waveform (``keras_cpc.data.resample``: soxr, high quality)."""
    from keras_cpc.data import resample

    return resample(np.asarray(waveform, dtype="float32"), sample_rate, target_sample_rate)


def batch_waveforms(waveforms, sample_rate, target_sample_rate, min_samples=1):
    """Resample mono clips of any length and right-pad them into one backbone input.

    Args:
        waveforms: list of 1-D arrays (or a 2-D array, one clip per row): float samples in
            [-1, 1], or int16 / int32 PCM (divided by 2**15 / 2**31).
        sample_rate: rate of the given clips in Hz.
        target_sample_rate: the backbone's ``sample_rate``.
        min_samples: pad the batch to at least this many samples.

    Returns:
        ``{"waveform": float32 (batch, samples), "padding_mask": bool (batch, samples)}``.
    """
    clips = []
    for index, clip in enumerate(waveforms):
        clip = np.asarray(clip)
        # int16 / int32 PCM is scaled to [-1, 1) as the backbone does (never cast unscaled).
        scale = PCM_SCALES.get(clip.dtype.name, 1.0)
        clip = clip.astype("float32") / np.float32(scale)
        if clip.ndim == 2 and clip.shape[-1] == 1:
            clip = clip[:, 0]
        if clip.ndim != 1:
            raise ValueError(
                f"Expected mono clips of shape (samples,); received clip {index} with shape "
                f"{clip.shape}. Down-mix stereo first."
            )
        clips.append(resample_waveform(clip, sample_rate, target_sample_rate))
    if not clips:
        raise ValueError("Expected at least one clip; received none.")
    length = max(min_samples, max(len(c) for c in clips))
    waveform = np.zeros((len(clips), length), dtype="float32")
    mask = np.zeros((len(clips), length), dtype=bool)
    for row, clip in enumerate(clips):
        waveform[row, : len(clip)] = clip
        mask[row, : len(clip)] = True
    return {"waveform": waveform, "padding_mask": mask}


@keras.saving.register_keras_serializable(package="keras_cpc")
class AudioClassifier(Task):
    """Classify raw audio clips with a preset backbone (e.g. `CPCBackbone`).

    The backbone's context vectors ``c`` are pooled over the valid frames only
    (``pooling="avg"`` or ``"max"``; padding from ``padding_mask`` is ignored), then dropout
    and a Dense layer give ``num_classes`` logits. Inputs are what the backbone takes: a
    waveform batch at the backbone's ``sample_rate`` or ``{"waveform", "padding_mask"}``;
    `prepare` turns clips at any rate into that.

    The backbone must be an audio backbone (``modality == "audio"``, e.g. `CPCBackbone`): an
    image backbone such as `ResNetBackbone` is refused with a ValueError, also through
    ``from_preset``. Inputs are checked by the backbone's ``check_inputs`` before any tracing.

    Args:
        backbone: a `Backbone` whose ``encode`` returns ``"c"`` (batch, frames, dim) and
            ``"frame_mask"`` (batch, frames).
        num_classes: number of classes (a Python or NumPy integer).
        pooling: ``"avg"`` or ``"max"`` over valid frames.
        dropout: dropout rate before the Dense head.
        activation: activation of the head; None gives logits.
        freeze_backbone: keep the backbone's weights fixed (linear probe).

    Example:
        >>> classifier = AudioClassifier.from_preset("my_cpc", num_classes=5)
        >>> inputs = classifier.prepare([clip_44k_a, clip_44k_b], sample_rate=44100)
        >>> classifier.predict(inputs).shape
        (2, 5)
    """

    modality = "audio"

    def pool(self, outputs):
        c = outputs["c"]
        mask = ops.cast(outputs["frame_mask"], c.dtype)[..., None]
        if self.pooling == "max":
            lowest = ops.cast(ops.min(c), c.dtype) - 1.0
            pooled = ops.max(c * mask + lowest * (1.0 - mask), axis=1)
            # A clip without valid frames pools to zeros rather than to `lowest`.
            return pooled * ops.minimum(ops.sum(mask, axis=1), 1.0)
        return ops.sum(c * mask, axis=1) / ops.maximum(ops.sum(mask, axis=1), 1.0)

    def prepare(self, waveforms, sample_rate):
        """Clips (any length, rate ``sample_rate``) -> padded input at the backbone's rate."""
        return batch_waveforms(
            waveforms,
            sample_rate,
            self.backbone.sample_rate,
            min_samples=getattr(self.backbone, "min_samples", 1),
        )
