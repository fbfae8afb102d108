"""ResNet-18/34/50 backbone with SimCLR's details (google-research/simclr `tf2/resnet.py`)."""

import keras
from keras import layers

from keras_cpc.layers.arguments import as_int
from keras_cpc.models.backbone import Backbone
from keras_cpc.models.input_checks import (
    InputChecks,
    check_image_batch,
    check_pixel_values,
    run_checked,
)

# Blocks per stage and block type, as in the official code.
RESNET_STAGES = {
    18: ("basic", (2, 2, 2, 2)),
    34: ("basic", (3, 4, 6, 3)),
    50: ("bottleneck", (3, 4, 6, 3)),
}
STEMS = ("cifar", "imagenet")
# SimCLR uses batch-norm decay 0.9 and epsilon 1e-5 (Keras defaults are 0.99 / 1e-3).
BN_MOMENTUM = 0.9
BN_EPSILON = 1e-5


def _conv(x, filters, kernel_size, strides, name):
    """Conv without bias; strided convs use symmetric "fixed" padding as in the official code.

    Keras ``padding="same"`` pads (0, 1) for a stride-2 conv on even sizes, TF's official code
    pads ((k-1)//2, k-1-(k-1)//2) explicitly and then runs a VALID conv; we do the same so
    converted checkpoints give identical features.
    """
    if strides > 1:
        pad_begin = (kernel_size - 1) // 2
        pad_end = kernel_size - 1 - pad_begin
        if pad_begin or pad_end:
            padding = ((pad_begin, pad_end), (pad_begin, pad_end))
            x = layers.ZeroPadding2D(padding, name=name + "_pad")(x)
        padding = "valid"
    else:
        padding = "same"
    return layers.Conv2D(
        filters,
        kernel_size,
        strides=strides,
        padding=padding,
        use_bias=False,
        kernel_initializer=keras.initializers.VarianceScaling(),
        name=name,
    )(x)


def _batch_norm(x, name, zero_gamma=False, relu=True):
    x = layers.BatchNormalization(
        momentum=BN_MOMENTUM,
        epsilon=BN_EPSILON,
        gamma_initializer="zeros" if zero_gamma else "ones",
        name=name,
    )(x)
    if relu:
        x = layers.ReLU(name=name + "_relu")(x)
    return x


def _basic_block(x, filters, strides, use_projection, name):
    shortcut = x
    if use_projection:
        shortcut = _conv(x, filters, 1, strides, name + "_shortcut_conv")
        shortcut = _batch_norm(shortcut, name + "_shortcut_bn", relu=False)
    x = _conv(x, filters, 3, strides, name + "_conv1")
    x = _batch_norm(x, name + "_bn1")
    x = _conv(x, filters, 3, 1, name + "_conv2")
    # Zero gamma on the last BN: each residual block starts as the identity.
    x = _batch_norm(x, name + "_bn2", zero_gamma=True, relu=False)
    x = layers.Add(name=name + "_add")([x, shortcut])
    return layers.ReLU(name=name + "_out")(x)


def _bottleneck_block(x, filters, strides, use_projection, name):
    shortcut = x
    if use_projection:
        shortcut = _conv(x, 4 * filters, 1, strides, name + "_shortcut_conv")
        shortcut = _batch_norm(shortcut, name + "_shortcut_bn", relu=False)
    x = _conv(x, filters, 1, 1, name + "_conv1")
    x = _batch_norm(x, name + "_bn1")
    # Stride on the 3x3 conv ("v1.5"), as in the official SimCLR code.
    x = _conv(x, filters, 3, strides, name + "_conv2")
    x = _batch_norm(x, name + "_bn2")
    x = _conv(x, 4 * filters, 1, 1, name + "_conv3")
    x = _batch_norm(x, name + "_bn3", zero_gamma=True, relu=False)
    x = layers.Add(name=name + "_add")([x, shortcut])
    return layers.ReLU(name=name + "_out")(x)


@keras.saving.register_keras_serializable(package="keras_cpc")
class ResNetBackbone(InputChecks, Backbone, keras.Model):
    """ResNet-18/34/50 as used by SimCLR, returning globally pooled features.

    Matches the official SimCLR encoder: bias-free convs with variance-scaling init, batch norm
    with momentum 0.9 and epsilon 1e-5, zero-initialised gamma on the last BN of every block,
    a projection shortcut on the first block of every stage, the stride on the 3x3 conv of
    bottleneck blocks and symmetric padding on strided convs. Images are expected with pixel
    values in [0, 255] (uint8 or float) and are multiplied by ``pixel_scale`` inside the model
    (SimCLR trains on [0, 1] inputs without mean/std normalisation).

    Bad inputs get a ValueError saying what was expected and received, before any tracing
    (``predict``, ``__call__``, ``encode``): a missing batch axis, the wrong channel count, a
    height or width other than a fixed ``image_shape``'s, non-finite pixels, and float images
    in [0, 1] where [0, 255] is expected (``pixel_scale=1/255``).

    Attributes:
        modality: ``"image"``: the kind of input, checked by `ImageClassifier`.

    Args:
        depth: 18, 34 (basic blocks) or 50 (bottleneck blocks).
        width_multiplier: scales every channel count (64/128/256/512 x width). Channel counts
            are rounded down, with at least one channel.
        stem: ``"cifar"`` (3x3 stride-1 conv, no pooling; for images of 32x32 or smaller) or
            ``"imagenet"`` (7x7 stride-2 conv then 3x3 stride-2 max-pool).
        image_shape: input shape without the batch axis; height and width may be None.
        pixel_scale: factor applied to input pixels; ``1/255`` maps [0, 255] to [0, 1].
        **kwargs: passed to `keras.Model` (``name``, ``dtype``, ``trainable``).

    Example:
        >>> import numpy as np
        >>> backbone = ResNetBackbone(depth=18, width_multiplier=0.25, stem="cifar")
        >>> images = np.random.randint(0, 256, size=(2, 32, 32, 3), dtype="uint8")
        >>> backbone.predict(images).shape  # pooled features
        (2, 128)
        >>> backbone.encode(images)["feature_map"].shape
        (2, 4, 4, 128)
    """

    modality = "image"

    def __init__(
        self,
        depth=50,
        width_multiplier=1.0,
        stem="imagenet",
        image_shape=(None, None, 3),
        pixel_scale=1.0 / 255.0,
        **kwargs,
    ):
        depth = as_int(depth, "depth")
        if depth not in RESNET_STAGES:
            raise ValueError(
                f"`depth` must be one of {sorted(RESNET_STAGES)}; received depth={depth!r}."
            )
        if stem not in STEMS:
            raise ValueError(f"`stem` must be one of {STEMS}; received stem={stem!r}.")
        if not width_multiplier > 0:
            raise ValueError(
                f"`width_multiplier` must be > 0; received width_multiplier={width_multiplier!r}."
            )
        image_shape = tuple(
            None if d is None else as_int(d, "image_shape entries", 1) for d in image_shape
        )
        if len(image_shape) != 3:
            raise ValueError(
                "`image_shape` must be (height, width, channels); "
                f"received image_shape={image_shape!r}."
            )

        def width(channels):
            return max(1, int(channels * width_multiplier))

        block_type, stage_blocks = RESNET_STAGES[depth]
        block_fn = _basic_block if block_type == "basic" else _bottleneck_block

        # === Functional model ===
        images = keras.Input(shape=image_shape, name="images")
        x = layers.Rescaling(pixel_scale, name="rescale_pixels")(images)
        if stem == "imagenet":
            x = _conv(x, width(64), 7, 2, "stem_conv")
            x = _batch_norm(x, "stem_bn")
            # TF "SAME" max-pool, as in the official code.
            x = layers.MaxPooling2D(3, strides=2, padding="same", name="stem_pool")(x)
        else:
            x = _conv(x, width(64), 3, 1, "stem_conv")
            x = _batch_norm(x, "stem_bn")
        for stage, num_blocks in enumerate(stage_blocks):
            filters = width(64 * 2**stage)
            for block in range(num_blocks):
                x = block_fn(
                    x,
                    filters,
                    strides=(1 if stage == 0 else 2) if block == 0 else 1,
                    use_projection=block == 0,
                    name=f"stage{stage + 1}_block{block + 1}",
                )
        feature_map = x
        pooled = layers.GlobalAveragePooling2D(name="pool")(feature_map)
        super().__init__(inputs=images, outputs=pooled, **kwargs)

        # === Config ===
        self.depth = depth
        self.width_multiplier = width_multiplier
        self.stem = stem
        self.image_shape = image_shape
        self.pixel_scale = pixel_scale
        self.output_dim = pooled.shape[-1]
        # A second graph over the same layers that also exposes the feature map. Set without
        # Keras attribute tracking: its weights are this model's weights, not new ones.
        object.__setattr__(
            self,
            "_encoder",
            keras.Model(inputs=images, outputs={"feature_map": feature_map, "pooled": pooled}),
        )

    def check_inputs(self, inputs, check_values=True):
        """Raise a ValueError unless ``inputs`` is a batch of images this backbone takes.

        Args:
            inputs: images (batch, height, width, channels).
            check_values: also check the pixel values (when they are concrete).
        """
        check_image_batch(inputs, self.image_shape, type(self).__name__)
        if check_values:
            check_pixel_values(inputs, self.pixel_scale, type(self).__name__)

    def encode(self, inputs, training=False):
        """All outputs: ``{"feature_map": (batch, h, w, c), "pooled": (batch, output_dim)}``."""
        return run_checked(
            self,
            inputs,
            training is not True,
            lambda: self._encoder(inputs, training=training),
        )

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "depth": self.depth,
            "width_multiplier": self.width_multiplier,
            "stem": self.stem,
            "image_shape": self.image_shape,
            "pixel_scale": self.pixel_scale,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)
