"""What every step of benchmarks/peers.py agrees on: architectures, loss constants, timing.

The plain-framework peers (peers_tf.py, peers_jax.py, peers_torch.py) build their networks
from these descriptions and take their initial weights from the keras_cpc model (exported by
peers_keras.py as NumPy arrays in Keras layouts, keyed by Keras layer names), so every step of
a run starts from the same weights and sees the same data.

Example:
    >>> resnet18_blocks(0.25)[0]
    {'name': 'stage1_block1', 'in': 16, 'out': 16, 'stride': 1, 'projection': True}
"""

import time

import numpy as np

# SimCLR's NT-Xent temperature on CIFAR and the batch-norm settings of its ResNet and head.
TEMPERATURE = 0.5
BN_MOMENTUM = 0.9
BN_EPSILON = 1e-5
# The optimizer of every step: SGD with momentum, the same update on every side
# (v = m v + g; w -= lr v, which equals Keras' form for a constant rate).
LEARNING_RATE = 0.05
MOMENTUM = 0.9
# CPC: masked candidates hold this score (exp underflows to 0), as keras_cpc.losses.cpc.
MASKED_SCORE = -1e9
# ChannelNorm (CPC_audio): unbiased variance over the channels, this epsilon.
CHANNEL_NORM_EPSILON = 1e-5

# CPC architectures. "preset": the shipped cpc_gru_fsdd_8khz (4 conv layers, 256 channels,
# channel norm, GRU 256, 80 samples per frame); "paper": van den Oord et al. (5 conv layers,
# 512 channels, no norm, GRU 256, 160 samples per frame).
CPC_ARCHITECTURES = {
    "preset": dict(
        kernel_sizes=(10, 8, 4, 4),
        strides=(5, 4, 2, 2),
        encoder_dim=256,
        normalization="channel",
        context_dim=256,
    ),
    "paper": dict(
        kernel_sizes=(10, 8, 4, 4, 4),
        strides=(5, 4, 2, 2, 2),
        encoder_dim=512,
        normalization="none",
        context_dim=256,
    ),
}


def resnet18_blocks(width):
    """The basic blocks of SimCLR's ResNet-18 at ``width``: name, channels in/out, stride.

    Every stage's first block has a projection shortcut (also stage 1's, as the official code);
    the others add their input unchanged.

    Args:
        width: the width multiplier (channels 64/128/256/512 x width, at least 1).
    """
    blocks, channels = [], stem_channels(width)
    for stage in range(4):
        filters = max(1, int(64 * 2**stage * width))
        for block in range(2):
            stride = 2 if stage > 0 and block == 0 else 1
            name = f"stage{stage + 1}_block{block + 1}"
            blocks.append(
                {
                    "name": name,
                    "in": channels,
                    "out": filters,
                    "stride": stride,
                    "projection": block == 0,
                }
            )
            channels = filters
    return blocks


def stem_channels(width):
    """Channels of the CIFAR stem conv at ``width``."""
    return max(1, int(64 * width))


def cpc_paddings(kernel_sizes, strides):
    """Zero padding on each side of every encoder conv (CPCEncoder's "symmetric")."""
    return tuple((k - s + 1) // 2 for k, s in zip(kernel_sizes, strides))


def cpc_frames(samples, config):
    """Frames the CPC encoder of ``config`` gives for clips of ``samples`` samples."""
    n = samples
    paddings = cpc_paddings(config["kernel_sizes"], config["strides"])
    for k, s, p in zip(config["kernel_sizes"], config["strides"], paddings):
        n = (n + 2 * p - k) // s + 1
    return n


def is_mixed(policy):
    """True for "mixed_bfloat16": bfloat16 compute, float32 variables and loss."""
    return policy == "mixed_bfloat16"


def time_steps(step, count):
    """Seconds for ``count`` calls of ``step`` (each returns a Python float: synchronised)."""
    start = time.perf_counter()
    loss = None
    for _ in range(count):
        loss = step()
    elapsed = time.perf_counter() - start
    if loss is not None and not np.isfinite(loss):
        raise FloatingPointError(f"non-finite loss {loss} while timing")
    return elapsed


def interleaved_rates(steps, items, count, rounds):
    """Items/s of every step, timed in interleaved rounds (A B C A B C ...).

    Args:
        steps: ``{name: step}``, each ``step()`` runs one training step and returns its loss.
        items: items (pairs, clips) per step.
        count: steps per round and variant.
        rounds: rounds.

    Returns:
        ``{name: [rate of each round]}``.
    """
    rates = {name: [] for name in steps}
    for _ in range(rounds):
        for name, step in steps.items():
            rates[name].append(items * count / time_steps(step, count))
    return rates
