"""The keras_cpc side of benchmarks/peers.py: the library's steps, its weights, its presets.

SimCLR: `SimCLRPretrainer` (ResNet-18 CIFAR stem, `ProjectionHead`, NT-Xent) fed two given
views (the dict input, so no augmentation runs and every step sees the same 2N images as the
peers). CPC: `CPCPretrainer` (linear predictor, per-anchor negatives drawn from the batch)
around a `CPCBackbone`. Both train with Keras' SGD with momentum, through ``train_on_batch``
as ``fit`` does.

Example:
    >>> model = simclr_model(width=0.25, jit_compile="auto")
    >>> weights = export_weights(model)  # {"stem_conv/kernel": array, ...}
"""

import time
import warnings

import keras
import numpy as np
import peers_common as common

from keras_cpc.layers import ProjectionHead
from keras_cpc.models import CPCBackbone, CPCPretrainer, ResNetBackbone, SimCLRPretrainer

JIT = {"auto": "auto", "true": True, "false": False}
INFERENCE_PRESETS = (
    "simclr_resnet18_cifar10_cpu",
    "simclr_resnet18_cifar10",
    "cpc_gru_fsdd_8khz",
)


def _optimizer():
    return keras.optimizers.SGD(common.LEARNING_RATE, momentum=common.MOMENTUM)


def simclr_model(width, jit_compile="auto", head_layers=2, image_size=32):
    """SimCLRPretrainer on a ResNet-18 CIFAR-stem backbone, compiled with SGD + momentum.

    Args:
        width: ResNet width multiplier.
        jit_compile: "auto", "true", "false" (Keras' compile argument), or "eager"
            (``run_eagerly=True``: no tracing, for quick checks).
        head_layers: Dense layers of the projection head (2: SimCLR v1, the presets' head).
        image_size: height and width of the images.
    """
    # Fresh layer names (the peers map weights by path, e.g. "projection_head/dense_0/...").
    keras.backend.clear_session()
    backbone = ResNetBackbone(
        depth=18, width_multiplier=width, stem="cifar", image_shape=(image_size, image_size, 3)
    )
    head = ProjectionHead(num_layers=head_layers, output_dim=128)
    model = SimCLRPretrainer(backbone, head, temperature=common.TEMPERATURE, augmentation=None)
    _compile(model, jit_compile)
    return model


def cpc_model(arch, prediction_steps, num_negatives, jit_compile="auto"):
    """CPCPretrainer (per-anchor negatives, linear predictor, dot scores) with SGD + momentum.

    Args:
        arch: a key of ``peers_common.CPC_ARCHITECTURES``.
        prediction_steps: K.
        num_negatives: negatives per anchor.
        jit_compile: as for `simclr_model`.
    """
    config = common.CPC_ARCHITECTURES[arch]
    keras.backend.clear_session()
    backbone = CPCBackbone(
        kernel_sizes=config["kernel_sizes"],
        strides=config["strides"],
        encoder_dim=config["encoder_dim"],
        normalization=config["normalization"],
        context_network="gru",
        context_dim=config["context_dim"],
    )
    model = CPCPretrainer(
        backbone, prediction_steps=prediction_steps, num_negatives=num_negatives, seed=0
    )
    _compile(model, jit_compile)
    return model


def _compile(model, jit_compile):
    if jit_compile == "eager":
        model.compile(optimizer=_optimizer(), run_eagerly=True)
    else:
        model.compile(optimizer=_optimizer(), jit_compile=JIT[jit_compile])


def export_weights(model):
    """Every weight of ``model`` as NumPy, keyed by its Keras path (``"stem_bn/gamma"``)."""
    with warnings.catch_warnings():
        # Keras' torch backend warns once per variable about NumPy 2's copy keyword.
        warnings.simplefilter("ignore", DeprecationWarning)
        return {w.path: np.array(keras.ops.convert_to_numpy(w.value)) for w in model.weights}


def copy_weights(source, target):
    """Give ``target`` (same architecture) the weights of ``source``, before any training."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        target.set_weights(source.get_weights())


def simclr_views(batch, image_size=32, seed=0):
    """Two uint8 views (batch, size, size, 3) of random pixels: the data of every step."""
    rng = np.random.default_rng(seed)
    shape = (batch, image_size, image_size, 3)
    return rng.integers(0, 256, shape, dtype="uint8"), rng.integers(0, 256, shape, dtype="uint8")


def cpc_waveform(batch, samples, seed=0):
    """Float32 noise-like clips (batch, samples) in [-1, 1]: the data of every CPC step."""
    rng = np.random.default_rng(seed)
    return np.clip(0.1 * rng.normal(size=(batch, samples)), -1, 1).astype("float32")


def cpc_check_indices(batch, frames, num_negatives, seed=1):
    """Fixed negative indices (batch, frames, N) into the batch's frames, for the loss check."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, batch * frames, (batch, frames, num_negatives)).astype("int32")


def simclr_step(model, views):
    """One keras_cpc SimCLR training step on ``views``; returns the loss as a float."""
    inputs = {"view_a": views[0], "view_b": views[1]}

    def step():
        return float(model.train_on_batch(inputs, return_dict=True)["loss"])

    return step


def cpc_step(model, waveform):
    """One keras_cpc CPC step; ``step(indices)`` uses fixed negatives, ``step()`` draws them."""

    def step(indices=None):
        inputs = (
            waveform if indices is None else {"waveform": waveform, "negative_indices": indices}
        )
        return float(model.train_on_batch(inputs, return_dict=True)["loss"])

    return step


def inference_rates(batch_sizes, items, rounds, clip_seconds, policy):
    """Features/s of ``predict`` for each shipped preset and batch size (interleaved rounds).

    Args:
        batch_sizes: ``predict`` batch sizes.
        items: images or clips per timed ``predict`` call.
        rounds: rounds; each times every batch size once.
        clip_seconds: length of the audio clips.
        policy: dtype policy the presets are loaded with.

    Returns:
        list of ``{"preset", "batch_size", "rates"}``.
    """
    from keras_cpc.models import Backbone

    results = []
    rng = np.random.default_rng(0)
    for name in INFERENCE_PRESETS:
        backbone = Backbone.from_preset(name, dtype=policy)
        if getattr(backbone, "modality", "") == "audio":
            samples = int(clip_seconds * backbone.sample_rate)
            inputs = np.clip(0.1 * rng.normal(size=(items, samples)), -1, 1).astype("float32")
        else:
            inputs = rng.integers(0, 256, (items, 32, 32, 3), dtype="uint8")
        for size in batch_sizes:  # compile every batch shape before timing
            backbone.predict(inputs[: 2 * size], batch_size=size, verbose=0)
        rates = {size: [] for size in batch_sizes}
        for _ in range(rounds):
            for size in batch_sizes:
                start = time.perf_counter()
                features = backbone.predict(inputs, batch_size=size, verbose=0)
                rates[size].append(items / (time.perf_counter() - start))
        if not np.all(np.isfinite(features)):
            raise FloatingPointError(f"{name}: non-finite features")
        for size in batch_sizes:
            results.append({"preset": name, "batch_size": size, "rates": rates[size]})
        del backbone
        keras.backend.clear_session()
    return results
