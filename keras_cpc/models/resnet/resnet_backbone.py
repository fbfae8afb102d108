"""ResNet-18 to 200 backbone with SimCLR's details (google-research/simclr ``resnet.py``)."""

import keras
from keras import layers

from keras_cpc.layers.arguments import as_int
from keras_cpc.models.backbone import Backbone
from keras_cpc.models.graph_runner import compile_graph
from keras_cpc.models.input_checks import (
    InputChecks,
    check_image_batch,
    check_pixel_values,
    run_checked,
)
from keras_cpc.models.resnet.resnet_blocks import BLOCKS, RESNET_STAGES, build_stem

STEMS = ("cifar", "imagenet")


@keras.saving.register_keras_serializable(package="keras_cpc")
class ResNetBackbone(InputChecks, Backbone, keras.Model):
    """ResNet-18/34/50/101/152/200 as used by SimCLR, returning globally pooled features.

    Matches the official SimCLR encoder: bias-free convs with variance-scaling init, batch norm
    with momentum 0.9 and epsilon 1e-5, zero-initialised gamma on the last BN of every block,
    a projection shortcut on the first block of every stage, the stride on the 3x3 conv of
    bottleneck blocks and symmetric padding on strided convs. With ``sk_ratio > 0`` it is the
    SimCLR v2 ``*_sk1`` network: selective-kernel 3x3 convs (`SelectiveKernelConv2D`), the
    ResNet-D stem (three 3x3 convs) and ResNet-D average-pool projection shortcuts. Images are
    expected with pixel
    values in [0, 255] (uint8 or float) and are multiplied by ``pixel_scale`` inside the model
    (SimCLR trains on [0, 1] inputs without mean/std normalisation).

    Bad inputs get a ValueError saying what was expected and received, before any tracing
    (``predict``, ``__call__``, ``encode``): a missing batch axis, the wrong channel count, a
    height or width other than a fixed ``image_shape``'s, non-finite pixels, and float images
    in [0, 1] where [0, 255] is expected (``pixel_scale=1/255``).

    Attributes:
        modality: ``"image"``: the kind of input, checked by `ImageClassifier`.

    Args:
        depth: 18, 34 (basic blocks), 50, 101, 152 or 200 (bottleneck blocks).
        width_multiplier: scales every channel count (64/128/256/512 x width; 2 and 3 for the
            SimCLR v2 "2x" / "3x" models). Channel counts are rounded down, with at least one
            channel.
        stem: ``"cifar"`` (3x3 stride-1 conv, no pooling; for images of 32x32 or smaller) or
            ``"imagenet"`` (7x7 stride-2 conv, or the ResNet-D stem with ``sk_ratio > 0``,
            then a 3x3 stride-2 max-pool with TF "SAME" padding).
        image_shape: input shape without the batch axis; height and width may be None.
        pixel_scale: factor applied to input pixels; ``1/255`` maps [0, 255] to [0, 1].
        sk_ratio: 0 for plain ResNets; > 0 (SimCLR v2 uses 0.0625) for selective kernels with
            that reduction ratio (bottleneck depths only).
        **kwargs: passed to `keras.Model` (``name``, ``dtype``, ``trainable``).

    Example:
        >>> import numpy as np
        >>> backbone = ResNetBackbone(depth=18, width_multiplier=0.25, stem="cifar")
        >>> images = np.random.randint(0, 256, size=(2, 32, 32, 3), dtype="uint8")
        >>> backbone.predict(images).shape  # pooled features
        (2, 128)
        >>> backbone.encode(images)["feature_map"].shape
        (2, 4, 4, 128)
        >>> backbone.encode(images)["block_group3"].shape  # the official named endpoints
        (2, 8, 8, 64)
    """

    modality = "image"

    def __init__(
        self,
        depth=50,
        width_multiplier=1.0,
        stem="imagenet",
        image_shape=(None, None, 3),
        pixel_scale=1.0 / 255.0,
        sk_ratio=0.0,
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
        if not sk_ratio >= 0:
            raise ValueError(f"`sk_ratio` must be >= 0; received sk_ratio={sk_ratio!r}.")
        sk_ratio = float(sk_ratio)
        block_type, stage_blocks = RESNET_STAGES[depth]
        if sk_ratio > 0 and block_type != "bottleneck":
            raise ValueError(
                "Selective kernels (`sk_ratio` > 0) are defined for bottleneck ResNets, as in "
                f"the official SimCLR v2 models: depth 50, 101, 152 or 200; received "
                f"depth={depth} with sk_ratio={sk_ratio!r}."
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

        block_fn = BLOCKS[block_type]

        # === Functional model ===
        images = keras.Input(shape=image_shape, name="images")
        x = layers.Rescaling(pixel_scale, name="rescale_pixels")(images)
        x, initial_conv = build_stem(x, stem, width(64), sk_ratio)
        # The official code's named endpoints (its hub module / SavedModel outputs).
        endpoints = {"initial_conv": initial_conv, "initial_max_pool": x}
        for stage, num_blocks in enumerate(stage_blocks):
            filters = width(64 * 2**stage)
            for block in range(num_blocks):
                x = block_fn(
                    x,
                    filters,
                    strides=(1 if stage == 0 else 2) if block == 0 else 1,
                    use_projection=block == 0,
                    name=f"stage{stage + 1}_block{block + 1}",
                    sk_ratio=sk_ratio,
                )
            endpoints[f"block_group{stage + 1}"] = x
        feature_map = x
        pooled = layers.GlobalAveragePooling2D(name="pool")(feature_map)
        super().__init__(inputs=images, outputs=pooled, **kwargs)

        # === Config ===
        self.depth = depth
        self.width_multiplier = width_multiplier
        self.stem = stem
        self.image_shape = image_shape
        self.pixel_scale = pixel_scale
        self.sk_ratio = sk_ratio
        self.output_dim = pooled.shape[-1]
        # A second graph over the same layers that also exposes the feature map. Set without
        # Keras attribute tracking: its weights are this model's weights, not new ones.
        encoder = keras.Model(
            inputs=images, outputs={"feature_map": feature_map, "pooled": pooled, **endpoints}
        )
        object.__setattr__(self, "_encoder", encoder)
        # The same graph as a flat list of layer calls where that is faster (graph_runner:
        # PyTorch, which runs `call` eagerly every step, and JAX, where the strided
        # convolutions' ZeroPadding2D is folded into them); None on TensorFlow.
        object.__setattr__(self, "_graph_runner", compile_graph(encoder))

    def call(self, inputs, training=None, mask=None):
        if self._graph_runner is None:
            return super().call(inputs, training=training, mask=mask)
        return self._graph_runner(inputs, training)["pooled"]

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
        """All outputs: ``"feature_map"`` (batch, h, w, c), ``"pooled"`` (batch, output_dim),
        and the official SimCLR endpoints: ``"initial_conv"`` (last stem conv, before its BN),
        ``"initial_max_pool"`` (stem output), ``"block_group1"`` .. ``"block_group4"`` (each
        stage's output; ``block_group4`` is ``feature_map``)."""
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
            "sk_ratio": self.sk_ratio,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)
