"""CPC's strided 1-D convolution encoder g_enc, with padding-aware frame lengths."""

import keras
from keras import ops

from keras_cpc.layers.arguments import as_int, as_int_tuple
from keras_cpc.layers.channel_norm import ChannelNorm

NORMALIZATIONS = ("none", "layer", "channel")
PADDINGS = ("symmetric", "valid")


def _layer_padding(kernel_size, stride, padding):
    # CPC_audio pads 3/2/1/1/1 for kernels 10/8/4/4/4 with strides 5/4/2/2/2, i.e.
    # ceil((k - s) / 2) on each side: then L samples give exactly L / 160 frames.
    return (kernel_size - stride + 1) // 2 if padding == "symmetric" else 0


@keras.saving.register_keras_serializable(package="keras_cpc")
class CPCEncoder(keras.layers.Layer):
    """Strided Conv1D stack mapping a waveform to frame codes z_t (CPC's g_enc).

    Each layer is explicit zero padding, ``Conv1D(filters, k, strides=s, padding="valid")``,
    an optional per-frame normalisation and ReLU. With ``lengths`` (real samples per clip, the
    rest being right-padding), every layer zeroes the positions beyond its valid length, so the
    valid frames of a padded clip equal those of the same clip unpadded, bit for bit up to
    float rounding.

    Args:
        kernel_sizes: conv kernel per layer; the paper's ``(10, 8, 4, 4, 4)``.
        strides: conv stride per layer; the paper's ``(5, 4, 2, 2, 2)`` (160 samples/frame).
        filters: channels of every layer (512 in the paper, 256 in CPC_audio).
        normalization: ``"none"`` (paper), ``"layer"`` (LayerNorm over channels per frame) or
            ``"channel"`` (CPC_audio's `ChannelNorm`, unbiased variance). None of them mixes
            time steps, so the encoder stays causal up to its receptive field.
        padding: ``"symmetric"`` (CPC_audio's 3/2/1/1/1: L samples give floor-based L / 160
            frames) or ``"valid"`` (no padding: (L - receptive_field) // 160 + 1 frames).

    Example:
        >>> enc = CPCEncoder(filters=32)
        >>> z, frame_lengths = enc(np.zeros((2, 3200, 1), "float32"))  # z: (2, 20, 32)
    """

    def __init__(
        self,
        kernel_sizes=(10, 8, 4, 4, 4),
        strides=(5, 4, 2, 2, 2),
        filters=512,
        normalization="none",
        padding="symmetric",
        **kwargs,
    ):
        super().__init__(**kwargs)
        kernel_sizes = as_int_tuple(kernel_sizes, "kernel_sizes")
        strides = as_int_tuple(strides, "strides")
        if len(kernel_sizes) != len(strides) or not kernel_sizes:
            raise ValueError(
                "`kernel_sizes` and `strides` must be non-empty and of equal length; received "
                f"kernel_sizes={kernel_sizes}, strides={strides}."
            )
        if any(k < s or s < 1 for k, s in zip(kernel_sizes, strides)):
            raise ValueError(
                "Every kernel must be at least as wide as its stride (else samples are "
                f"skipped); received kernel_sizes={kernel_sizes}, strides={strides}."
            )
        if normalization not in NORMALIZATIONS:
            raise ValueError(
                f"`normalization` must be one of {NORMALIZATIONS}; received {normalization!r}."
            )
        if padding not in PADDINGS:
            raise ValueError(f"`padding` must be one of {PADDINGS}; received {padding!r}.")
        self.kernel_sizes, self.strides = kernel_sizes, strides
        self.filters = as_int(filters, "filters", 1)
        self.normalization = normalization
        self.padding = padding
        self.paddings = tuple(_layer_padding(k, s, padding) for k, s in zip(kernel_sizes, strides))
        self.convs, self.norms = [], []
        for i, (k, s) in enumerate(zip(kernel_sizes, strides)):
            self.convs.append(
                keras.layers.Conv1D(self.filters, k, strides=s, padding="valid", name=f"conv{i}")
            )
            if normalization == "layer":
                self.norms.append(keras.layers.LayerNormalization(epsilon=1e-5, name=f"norm{i}"))
            elif normalization == "channel":
                self.norms.append(ChannelNorm(name=f"norm{i}"))
            else:
                self.norms.append(None)

    # ---- geometry (python ints, no tensors) -------------------------------------------------
    @property
    def samples_per_frame(self):
        hop = 1
        for s in self.strides:
            hop *= s
        return hop

    @property
    def receptive_field(self):
        """Input samples that one frame depends on (465 for the paper's encoder)."""
        field, jump = 1, 1
        for k, s in zip(self.kernel_sizes, self.strides):
            field += (k - 1) * jump
            jump *= s
        return field

    def num_frames(self, num_samples):
        """Frames produced for a clip of ``num_samples`` samples (0 if too short)."""
        n = int(num_samples)
        for k, s, p in zip(self.kernel_sizes, self.strides, self.paddings):
            n = max((n + 2 * p - k) // s + 1, 0)
        return n

    @property
    def min_samples(self):
        """Shortest clip that yields one frame."""
        n = 1
        while self.num_frames(n) < 1:
            n += 1
        return n

    def frame_span(self, frame):
        """``(first, last)`` input sample indices frame ``frame`` depends on (may be < 0 or
        beyond the clip where they fall on zero padding)."""
        first, last = frame, frame
        for k, s, p in reversed(list(zip(self.kernel_sizes, self.strides, self.paddings))):
            first, last = first * s - p, last * s - p + k - 1
        return first, last

    def frame_lengths(self, lengths):
        """Valid frames per clip for tensor ``lengths`` of valid samples (int32)."""
        n = ops.cast(lengths, "int32")
        for k, s, p in zip(self.kernel_sizes, self.strides, self.paddings):
            n = ops.maximum(ops.floor_divide(n + (2 * p - k), s) + 1, 0)
        return n

    # ---- layer API ------------------------------------------------------------------------
    def build(self, input_shape):
        channels = 1 if len(input_shape) == 2 else input_shape[-1]
        shape = (input_shape[0], None, channels)
        for conv, norm in zip(self.convs, self.norms):
            conv.build(shape)
            shape = (input_shape[0], None, self.filters)
            if norm is not None:
                norm.build(shape)
        self.built = True

    def call(self, waveform, lengths=None):
        """Returns ``(z, frame_lengths)``: (batch, frames, filters) and (batch,) int32.

        ``lengths`` (batch,) counts the real samples of each right-padded clip; None means
        every sample is real.
        """
        x = waveform
        if len(x.shape) == 2:
            x = x[..., None]
        x = ops.cast(x, self.compute_dtype)
        n = None
        if lengths is not None:
            n = ops.cast(lengths, "int32")
            x = x * self._mask(n, ops.shape(x)[1], x.dtype)
        for conv, norm, k, s, p in zip(
            self.convs, self.norms, self.kernel_sizes, self.strides, self.paddings
        ):
            if p:
                x = ops.pad(x, [[0, 0], [p, p], [0, 0]])
            x = conv(x)
            if norm is not None:
                x = norm(x)
            x = ops.relu(x)
            if n is not None:
                # Zero what lies beyond the valid frames: the next layer then sees exactly the
                # zeros the unpadded clip would get from explicit padding.
                n = ops.maximum(ops.floor_divide(n + (2 * p - k), s) + 1, 0)
                x = x * self._mask(n, ops.shape(x)[1], x.dtype)
        if n is None:
            n = ops.full((ops.shape(x)[0],), ops.shape(x)[1], dtype="int32")
        return x, n

    @staticmethod
    def _mask(valid, length, dtype):
        positions = ops.arange(length, dtype="int32")
        return ops.cast(positions[None, :] < valid[:, None], dtype)[..., None]

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "kernel_sizes": list(self.kernel_sizes),
                "strides": list(self.strides),
                "filters": self.filters,
                "normalization": self.normalization,
                "padding": self.padding,
            }
        )
        return config
