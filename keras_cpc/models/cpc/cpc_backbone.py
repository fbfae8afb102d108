"""CPCBackbone: raw waveform -> frame codes z_t -> causal context c_t -> utterance embedding."""

import keras
from keras import ops

from keras_cpc.layers.arguments import as_int
from keras_cpc.layers.causal_transformer import CausalTransformer
from keras_cpc.layers.cpc_encoder import CPCEncoder
from keras_cpc.models.backbone import Backbone
from keras_cpc.models.input_checks import (
    InputChecks,
    check_sample_rate,
    check_waveform_dtype,
    check_waveform_values,
    pcm_to_float,
    run_checked,
)

CONTEXT_NETWORKS = ("gru", "lstm", "transformer")


@keras.saving.register_keras_serializable(package="keras_cpc")
class CPCBackbone(InputChecks, Backbone, keras.Model):
    """Contrastive Predictive Coding backbone for raw mono audio (van den Oord et al. 2018).

    A strided convolution encoder g_enc turns the waveform into frame codes z_t (one per
    ``samples_per_frame`` samples: 160, i.e. 100 frames/s at 16 kHz, with the paper's strides),
    and a causal context network g_ar (GRU as in the paper, LSTM as in CPC_audio, or a causal
    Transformer) turns z_{<=t} into c_t. Calling the model (or ``predict``) returns the
    utterance embedding, the mean of c_t over the valid frames; ``encode`` returns everything.

    Inputs: a float waveform (batch, samples) or (batch, samples, 1) at ``sample_rate``, or a
    dict ``{"waveform": ..., "padding_mask": ...}`` where ``padding_mask`` (batch, samples) is
    1/True on real samples. Padding must be at the end of each clip (right-padding); the valid
    frames and embedding of a padded clip then equal those of the clip alone. Stereo input is
    rejected: down-mix first (``keras_cpc.data.to_mono``).

    Samples: float in [-1, 1], or int16 / int32 PCM, converted inside the model to float by
    x / 2**15 (int16) or x / 2**31 (int32), so PCM and the same clip as float give the same
    embedding; other integer dtypes are refused. NaN or infinite samples are refused with a
    ValueError (checked before any tracing, on concrete inputs, outside training calls).

    Attributes:
        modality: ``"audio"``: the kind of input, checked by `AudioClassifier`.

    Args:
        kernel_sizes: encoder kernels, paper ``(10, 8, 4, 4, 4)``.
        strides: encoder strides, paper ``(5, 4, 2, 2, 2)``.
        encoder_dim: encoder channels (paper 512, CPC_audio 256).
        normalization: encoder normalisation, ``"none"`` | ``"layer"`` | ``"channel"``.
        encoder_padding: ``"symmetric"`` (CPC_audio, L // 160 frames) or ``"valid"``.
        context_network: ``"gru"`` | ``"lstm"`` | ``"transformer"``.
        context_dim: width of c_t (paper 256).
        context_layers: stacked recurrent layers or Transformer blocks.
        context_heads: attention heads (Transformer only).
        sample_rate: expected input rate in Hz (paper 16000).

    Example:
        >>> backbone = CPCBackbone(encoder_dim=64, context_dim=32, sample_rate=16000)
        >>> outputs = backbone.encode(np.zeros((2, 16000), "float32"))
        >>> outputs["c"].shape  # (2, 100, 32): 100 frames per second
    """

    modality = "audio"

    def __init__(
        self,
        kernel_sizes=(10, 8, 4, 4, 4),
        strides=(5, 4, 2, 2, 2),
        encoder_dim=512,
        normalization="none",
        encoder_padding="symmetric",
        context_network="gru",
        context_dim=256,
        context_layers=1,
        context_heads=4,
        sample_rate=16000,
        **kwargs,
    ):
        super().__init__(**kwargs)
        sample_rate = as_int(sample_rate, "sample_rate", 1)
        if context_network not in CONTEXT_NETWORKS:
            raise ValueError(
                f"`context_network` must be one of {CONTEXT_NETWORKS}; "
                f"received {context_network!r}."
            )
        self.encoder_dim = as_int(encoder_dim, "encoder_dim", 1)
        self.context_network = context_network
        self.context_dim = as_int(context_dim, "context_dim", 1)
        self.context_layers = as_int(context_layers, "context_layers", 1)
        self.context_heads = as_int(context_heads, "context_heads", 1)
        self.sample_rate = sample_rate
        self.encoder = CPCEncoder(
            kernel_sizes=kernel_sizes,
            strides=strides,
            filters=self.encoder_dim,
            normalization=normalization,
            padding=encoder_padding,
            name="encoder",
        )
        if context_network == "transformer":
            self.context = [
                CausalTransformer(
                    self.context_dim,
                    num_layers=self.context_layers,
                    num_heads=self.context_heads,
                    name="context",
                )
            ]
        else:
            rnn = keras.layers.GRU if context_network == "gru" else keras.layers.LSTM
            self.context = [
                rnn(self.context_dim, return_sequences=True, name=f"context{i}")
                for i in range(self.context_layers)
            ]
        # Build eagerly: all shapes are known from the config, so saving and loading never
        # depend on a sample input.
        self.encoder.build((None, None, 1))
        shape = (None, None, self.encoder_dim)
        for layer in self.context:
            layer.build(shape)
            shape = (None, None, self.context_dim)
        self.built = True

    # ---- geometry --------------------------------------------------------------------------
    @property
    def output_dim(self):
        return self.context_dim

    @property
    def samples_per_frame(self):
        """Hop between frames in samples (160 with the paper's strides)."""
        return self.encoder.samples_per_frame

    @property
    def frames_per_second(self):
        """Frame rate: ``sample_rate / samples_per_frame`` (100.0 for the paper at 16 kHz)."""
        return self.sample_rate / self.samples_per_frame

    @property
    def receptive_field(self):
        """Samples seen by one frame code z_t (465 for the paper's encoder)."""
        return self.encoder.receptive_field

    @property
    def min_samples(self):
        """Shortest clip giving one frame."""
        return self.encoder.min_samples

    def num_frames(self, num_samples):
        """Frames produced for a clip of ``num_samples`` samples."""
        return self.encoder.num_frames(num_samples)

    def frame_span(self, frame):
        """``(first, last)`` sample indices z_t depends on; c_t depends on samples <= last."""
        return self.encoder.frame_span(frame)

    # ---- forward ---------------------------------------------------------------------------
    def _split_inputs(self, inputs):
        padding_mask = None
        if isinstance(inputs, dict):
            unknown = set(inputs) - {"waveform", "padding_mask"}
            if "waveform" not in inputs or unknown:
                raise ValueError(
                    "Dict inputs must have the key 'waveform' and optionally 'padding_mask'; "
                    f"received keys {sorted(inputs)}."
                )
            waveform, padding_mask = inputs["waveform"], inputs.get("padding_mask")
        else:
            waveform = inputs
        if not hasattr(waveform, "shape"):
            waveform = ops.convert_to_tensor(waveform)
        return waveform, padding_mask

    def check_inputs(self, inputs, check_values=True):
        """Raise a ValueError unless ``inputs`` is audio this backbone takes (see class doc).

        Args:
            inputs: waveform array or ``{"waveform", "padding_mask"}`` dict.
            check_values: also refuse non-finite samples (when they are concrete).
        """
        waveform, padding_mask = self._split_inputs(inputs)
        shape = tuple(waveform.shape)
        if len(shape) == 3 and shape[-1] not in (1, None):
            raise ValueError(
                "CPCBackbone expects mono audio, shape (batch, samples) or (batch, samples, 1); "
                f"received {shape[-1]} channels (shape {shape}). Down-mix first, e.g. "
                "keras_cpc.data.to_mono(audio)."
            )
        if len(shape) not in (2, 3):
            raise ValueError(
                "CPCBackbone expects waveforms of shape (batch, samples) or (batch, samples, 1); "
                f"received rank {len(shape)} with shape {shape}."
            )
        if shape[1] is not None and shape[1] < self.min_samples:
            raise ValueError(
                f"Clips must have at least {self.min_samples} samples (the encoder's receptive "
                f"field gives no frame for fewer); received {shape[1]} samples."
            )
        if padding_mask is not None:
            mask_shape = tuple(padding_mask.shape)
            if len(mask_shape) != 2 or (
                None not in mask_shape[:2] + shape[:2] and mask_shape != shape[:2]
            ):
                raise ValueError(
                    f"`padding_mask` must have shape (batch, samples) = {shape[:2]}; "
                    f"received {mask_shape}."
                )
        check_waveform_dtype(waveform, "CPCBackbone")
        if check_values:
            check_waveform_values(waveform, "CPCBackbone")

    def encode(self, inputs, training=False, sample_rate=None):
        """All outputs: ``{"z", "c", "embedding", "frame_mask"}``.

        Args:
            inputs: waveform array or ``{"waveform", "padding_mask"}`` dict (see class doc).
            training: forwarded to the layers.
            sample_rate: optional rate of ``inputs`` in Hz; a mismatch with the model's
                ``sample_rate`` raises ValueError.

        Returns:
            dict with ``z`` (batch, frames, encoder_dim), ``c`` (batch, frames, context_dim),
            ``embedding`` (batch, context_dim), ``frame_mask`` (batch, frames) bool.
        """
        if sample_rate is not None:
            check_sample_rate(self, sample_rate)
        return run_checked(
            self, inputs, training is not True, lambda: self._encode(inputs, training)
        )

    def _encode(self, inputs, training):
        waveform, padding_mask = self._split_inputs(inputs)
        waveform = pcm_to_float(waveform)
        lengths = None
        if padding_mask is not None:
            lengths = ops.sum(ops.cast(padding_mask, "int32"), axis=1)
        z, frame_lengths = self.encoder(waveform, lengths)
        c = z
        for layer in self.context:
            c = layer(c, training=training)
        frames = ops.shape(z)[1]
        frame_mask = ops.arange(frames, dtype="int32")[None, :] < frame_lengths[:, None]
        weights = ops.cast(frame_mask, c.dtype)[..., None]
        # A clip with no valid frame gets a zero embedding (never NaN).
        count = ops.maximum(ops.sum(weights, axis=1), 1.0)
        embedding = ops.sum(c * weights, axis=1) / count
        return {"z": z, "c": c, "embedding": embedding, "frame_mask": frame_mask}

    def call(self, inputs, training=None):
        return self.encode(inputs, training=training)["embedding"]

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "kernel_sizes": list(self.encoder.kernel_sizes),
                "strides": list(self.encoder.strides),
                "encoder_dim": self.encoder_dim,
                "normalization": self.encoder.normalization,
                "encoder_padding": self.encoder.padding,
                "context_network": self.context_network,
                "context_dim": self.context_dim,
                "context_layers": self.context_layers,
                "context_heads": self.context_heads,
                "sample_rate": self.sample_rate,
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)
