"""Stems and residual blocks of SimCLR's ResNets (google-research/simclr ``resnet.py``).

Functional builders used by `ResNetBackbone`. Layer names are part of the saved weights and of
the checkpoint converter's name mapping: the defaults (``sk_ratio=0``) keep the names and the
creation order of the first release, and the selective-kernel (SimCLR v2 ``*_sk1``) variants
only add layers of their own.
"""

import keras
from keras import layers

from keras_cpc.layers import native_layout
from keras_cpc.layers.selective_kernel import SelectiveKernelConv2D

# Blocks per stage and block type, as in the official code.
RESNET_STAGES = {
    18: ("basic", (2, 2, 2, 2)),
    34: ("basic", (3, 4, 6, 3)),
    50: ("bottleneck", (3, 4, 6, 3)),
    101: ("bottleneck", (3, 4, 23, 3)),
    152: ("bottleneck", (3, 8, 36, 3)),
    200: ("bottleneck", (3, 24, 36, 3)),
}
# SimCLR uses batch-norm decay 0.9 and epsilon 1e-5 (Keras defaults are 0.99 / 1e-3).
BN_MOMENTUM = 0.9
BN_EPSILON = 1e-5


def conv(x, filters, kernel_size, strides, name):
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
    return native_layout.Conv2D(
        filters,
        kernel_size,
        strides=strides,
        padding=padding,
        use_bias=False,
        kernel_initializer=keras.initializers.VarianceScaling(),
        name=name,
    )(x)


def batch_norm(x, name, zero_gamma=False, relu=True):
    x = native_layout.BatchNormalization(
        momentum=BN_MOMENTUM,
        epsilon=BN_EPSILON,
        gamma_initializer="zeros" if zero_gamma else "ones",
        name=name,
    )(x)
    if relu:
        x = layers.ReLU(name=name + "_relu")(x)
    return x


def build_stem(x, stem_type, channels, sk_ratio):
    """The stem; returns ``(x, initial_conv)`` (``initial_conv``: last stem conv, before BN).

    ImageNet: 7x7/2 conv, or with selective kernels the ResNet-D stem (3x3/2 conv to
    channels // 2, 3x3 conv to channels // 2, 3x3 conv to channels, each with BN-ReLU), then a
    3x3/2 max-pool with TF "SAME" padding. CIFAR: one 3x3 stride-1 conv, no pooling.
    """
    if stem_type == "cifar":
        x = initial_conv = conv(x, channels, 3, 1, "stem_conv")
        return batch_norm(x, "stem_bn"), initial_conv
    if sk_ratio > 0:
        x = conv(x, max(1, channels // 2), 3, 2, "stem_conv1")
        x = batch_norm(x, "stem_bn1")
        x = conv(x, max(1, channels // 2), 3, 1, "stem_conv2")
        x = batch_norm(x, "stem_bn2")
        x = initial_conv = conv(x, channels, 3, 1, "stem_conv3")
        x = batch_norm(x, "stem_bn3")
    else:
        x = initial_conv = conv(x, channels, 7, 2, "stem_conv")
        x = batch_norm(x, "stem_bn")
    # TF "SAME" max-pool, as in the official code (Keras gives the same on every backend).
    return layers.MaxPooling2D(3, strides=2, padding="same", name="stem_pool")(x), initial_conv


def _projection_shortcut(x, filters, strides, name, resnet_d):
    if resnet_d:
        # ResNet-D (the official *_sk1 models): average-pool, then a stride-1 1x1 conv.
        if strides > 1:
            x = layers.ZeroPadding2D(((0, 1), (0, 1)), name=name + "_shortcut_pad")(x)
            x = layers.AveragePooling2D(2, strides, padding="valid", name=name + "_shortcut_pool")(
                x
            )
        else:
            x = layers.AveragePooling2D(2, 1, padding="same", name=name + "_shortcut_pool")(x)
        x = conv(x, filters, 1, 1, name + "_shortcut_conv")
    else:
        x = conv(x, filters, 1, strides, name + "_shortcut_conv")
    return batch_norm(x, name + "_shortcut_bn", relu=False)


def basic_block(x, filters, strides, use_projection, name, sk_ratio=0.0):
    # sk_ratio: accepted for a common signature; the backbone refuses it for basic blocks.
    del sk_ratio
    shortcut = x
    if use_projection:
        shortcut = _projection_shortcut(x, filters, strides, name, resnet_d=False)
    x = conv(x, filters, 3, strides, name + "_conv1")
    x = batch_norm(x, name + "_bn1")
    x = conv(x, filters, 3, 1, name + "_conv2")
    # Zero gamma on the last BN: each residual block starts as the identity.
    x = batch_norm(x, name + "_bn2", zero_gamma=True, relu=False)
    x = layers.Add(name=name + "_add")([x, shortcut])
    return layers.ReLU(name=name + "_out")(x)


def bottleneck_block(x, filters, strides, use_projection, name, sk_ratio=0.0):
    shortcut = x
    if use_projection:
        shortcut = _projection_shortcut(x, 4 * filters, strides, name, resnet_d=sk_ratio > 0)
    x = conv(x, filters, 1, 1, name + "_conv1")
    x = batch_norm(x, name + "_bn1")
    # Stride on the 3x3 conv ("v1.5"), as in the official SimCLR code.
    if sk_ratio > 0:
        x = SelectiveKernelConv2D(
            filters,
            strides=strides,
            sk_ratio=sk_ratio,
            momentum=BN_MOMENTUM,
            epsilon=BN_EPSILON,
            name=name + "_sk_conv2",
        )(x)
    else:
        x = conv(x, filters, 3, strides, name + "_conv2")
        x = batch_norm(x, name + "_bn2")
    x = conv(x, 4 * filters, 1, 1, name + "_conv3")
    x = batch_norm(x, name + "_bn3", zero_gamma=True, relu=False)
    x = layers.Add(name=name + "_add")([x, shortcut])
    return layers.ReLU(name=name + "_out")(x)


BLOCKS = {"basic": basic_block, "bottleneck": bottleneck_block}
