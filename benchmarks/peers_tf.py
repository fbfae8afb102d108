"""Plain TensorFlow peers of keras_cpc's SimCLR and CPC steps (benchmarks/peers.py).

The same networks written with ``tf.Variable``, ``tf.nn`` ops (fused batch norm on the
feature maps) and a ``tf.GradientTape`` step in a ``tf.function``, with XLA
(``jit_compile=True``) and without; SGD with momentum by hand. ``mixed_bfloat16`` casts the
float32 variables and the inputs to bfloat16 and computes the loss in float32, as Keras does.

Example:
    >>> steps = simclr_steps(weights, 0.25, 2, views, "float32")  # {"tf XLA": step, ...}
"""

import numpy as np
import peers_common as common
import tensorflow as tf

VARIANTS = (("tf GradientTape XLA", True), ("tf GradientTape graph", False))
EAGER = (("tf GradientTape eager", None),)  # quick checks: no tf.function
# One tf.function per variant from the same Python function: TF warns about "retracing".
tf.get_logger().setLevel("ERROR")


def info():
    return {
        "tensorflow": tf.__version__,
        "tf_intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
        "tf_inter_op_threads": tf.config.threading.get_inter_op_parallelism_threads(),
    }


class Net:
    """Variables named as the Keras weights; ``train`` / ``frozen`` / ``stats`` by role."""

    def __init__(self, weights, policy):
        self.vars = {name: tf.Variable(value) for name, value in weights.items()}
        self.trainable = [
            v
            for name, v in self.vars.items()
            if not name.endswith(("moving_mean", "moving_variance"))
        ]
        self.velocity = [tf.Variable(tf.zeros_like(v)) for v in self.trainable]
        self.dtype = tf.bfloat16 if common.is_mixed(policy) else tf.float32

    def w(self, name):
        return tf.cast(self.vars[name], self.dtype)

    def update_stats(self, name, mean, var):
        m = common.BN_MOMENTUM
        self.vars[f"{name}/moving_mean"].assign(
            m * self.vars[f"{name}/moving_mean"] + (1 - m) * mean
        )
        self.vars[f"{name}/moving_variance"].assign(
            m * self.vars[f"{name}/moving_variance"] + (1 - m) * var
        )

    def apply_gradients(self, grads):
        for v, g, velocity in zip(self.trainable, grads, self.velocity):
            velocity.assign(common.MOMENTUM * velocity + g)
            v.assign_sub(common.LEARNING_RATE * velocity)


def _batch_norm(net, x, name, relu=True):
    y, mean, var = tf.compat.v1.nn.fused_batch_norm(
        x,
        net.vars[f"{name}/gamma"],
        net.vars[f"{name}/beta"],
        epsilon=common.BN_EPSILON,
        is_training=True,
    )
    net.update_stats(name, mean, var)
    return tf.nn.relu(y) if relu else y


def _conv(net, x, name, stride):
    kernel = net.w(f"{name}/kernel")
    pad = kernel.shape[0] // 2
    return tf.nn.conv2d(x, kernel, stride, [[0, 0], [pad, pad], [pad, pad], [0, 0]])


def simclr_forward(net, images, width, head_layers):
    x = tf.cast(tf.cast(images, tf.float32) * (1.0 / 255.0), net.dtype)
    x = _batch_norm(net, _conv(net, x, "stem_conv", 1), "stem_bn")
    for spec in common.resnet18_blocks(width):
        name, stride = spec["name"], spec["stride"]
        shortcut = x
        if spec["projection"]:
            shortcut = _conv(net, x, f"{name}_shortcut_conv", stride)
            shortcut = _batch_norm(net, shortcut, f"{name}_shortcut_bn", relu=False)
        y = _batch_norm(net, _conv(net, x, f"{name}_conv1", stride), f"{name}_bn1")
        y = _batch_norm(net, _conv(net, y, f"{name}_conv2", 1), f"{name}_bn2", relu=False)
        x = tf.nn.relu(y + shortcut)
    x = tf.reduce_mean(x, axis=(1, 2))
    for index in range(head_layers):
        x = tf.matmul(x, net.w(f"projection_head/dense_{index}/kernel"))
        name = f"projection_head/batch_norm_{index}"
        mean, var = tf.nn.moments(tf.cast(x, tf.float32), axes=[0])
        beta = net.vars.get(f"{name}/beta")
        x = tf.nn.batch_normalization(
            tf.cast(x, tf.float32), mean, var, beta, net.vars[f"{name}/gamma"], common.BN_EPSILON
        )
        net.update_stats(name, mean, var)
        x = tf.cast(tf.nn.relu(x) if index < head_layers - 1 else x, net.dtype)
    return x


def nt_xent(z):
    z = tf.cast(z, tf.float32)
    z = z * tf.math.rsqrt(tf.maximum(tf.reduce_sum(z * z, -1, keepdims=True), 1e-24))
    logits = tf.matmul(z, z, transpose_b=True) / common.TEMPERATURE
    two_n = tf.shape(logits)[0]
    logits = logits - 1e9 * tf.eye(two_n)
    index = tf.range(two_n)
    labels = tf.where(index < two_n // 2, index + two_n // 2, index - two_n // 2)
    return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits))


def _train_function(net, loss_of, jit_compile):
    def train(*args):
        with tf.GradientTape() as tape:
            loss = loss_of(*args)
        net.apply_gradients(tape.gradient(loss, net.trainable))
        return loss

    return train if jit_compile is None else tf.function(train, jit_compile=jit_compile)


def simclr_steps(weights, width, head_layers, views, policy, compiled=True):
    """``{"tf GradientTape XLA": step, "tf GradientTape graph": step}``; ``step()`` -> loss."""
    images = tf.constant(np.concatenate(views))
    steps = {}
    for name, jit_compile in VARIANTS if compiled else EAGER:
        net = Net(weights, policy)
        train = _train_function(
            net,
            lambda net=net: nt_xent(simclr_forward(net, images, width, head_layers)),
            jit_compile,
        )
        steps[name] = lambda train=train: float(train())
    return steps


def cpc_forward(net, waveform, config, prediction_steps):
    x = tf.cast(waveform[..., None], net.dtype)
    paddings = common.cpc_paddings(config["kernel_sizes"], config["strides"])
    for i, (s, p) in enumerate(zip(config["strides"], paddings)):
        x = tf.nn.conv1d(
            tf.pad(x, [[0, 0], [p, p], [0, 0]]), net.w(f"encoder/conv{i}/kernel"), s, "VALID"
        )
        x = x + net.w(f"encoder/conv{i}/bias")
        if config["normalization"] == "channel":
            mean = tf.reduce_mean(x, -1, keepdims=True)
            centered = x - mean
            var = tf.reduce_sum(centered * centered, -1, keepdims=True) / (x.shape[-1] - 1)
            x = centered * tf.math.rsqrt(var + common.CHANNEL_NORM_EPSILON)
            x = x * net.w(f"encoder/norm{i}/gamma") + net.w(f"encoder/norm{i}/beta")
        x = tf.nn.relu(x)
    z = x
    gru = "context0/gru_cell"
    kernel, recurrent, bias = (
        net.w(f"{gru}/kernel"),
        net.w(f"{gru}/recurrent_kernel"),
        net.w(f"{gru}/bias"),
    )
    inputs = tf.einsum("btc,cu->tbu", z, kernel) + bias[0]  # time-major input projections

    def cell(h, x_t):  # Keras' GRU (reset_after=True): gates [z, r, h]
        x_z, x_r, x_h = tf.split(x_t, 3, axis=-1)
        h_z, h_r, h_h = tf.split(tf.matmul(h, recurrent) + bias[1], 3, axis=-1)
        update, reset = tf.sigmoid(x_z + h_z), tf.sigmoid(x_r + h_r)
        return update * h + (1 - update) * tf.tanh(x_h + reset * h_h)

    h0 = tf.zeros((tf.shape(z)[0], recurrent.shape[0]), net.dtype)
    c = tf.transpose(tf.scan(cell, inputs, initializer=h0), (1, 0, 2))
    p = tf.matmul(c, net.w("predictor_linear/kernel"))
    shape = tf.shape(z)
    return z, tf.reshape(p, (shape[0], shape[1], prediction_steps, z.shape[-1]))


def cpc_loss(z, p, indices, dense):
    """CPC's InfoNCE with per-anchor negatives ``indices`` (B, T, N) into the B*T frames."""
    z, p = tf.cast(z, tf.float32), tf.cast(p, tf.float32)
    batch, frames, K, dim = p.shape
    padded = tf.pad(z, [[0, 0], [0, K], [0, 0]])
    positives = tf.stack([padded[:, k : k + frames] for k in range(1, K + 1)], 2)
    positive = tf.reduce_sum(p * positives, -1, keepdims=True)
    flat = tf.reshape(z, (-1, dim))
    if dense:
        scores = tf.einsum("btkc,mc->btkm", p, flat)
        index = tf.broadcast_to(indices[:, :, None, :], (batch, frames, K, indices.shape[-1]))
        negative = tf.gather(scores, index, batch_dims=3)
    else:
        negative = tf.einsum("btkc,btnc->btkn", p, tf.gather(flat, indices))
    future = tf.range(frames)[:, None] + tf.range(1, K + 1)[None, :]
    target = tf.range(batch)[:, None, None] * frames + tf.minimum(future, frames - 1)[None]
    same = tf.equal(indices[:, :, None, :], target[..., None])
    negative = tf.where(same, common.MASKED_SCORE, negative)
    scores = tf.concat([positive, negative], -1)
    per_pair = tf.reduce_logsumexp(scores, -1) - scores[..., 0]
    valid = tf.broadcast_to(tf.cast(future < frames, tf.float32)[None], (batch, frames, K))
    return tf.reduce_sum(tf.reduce_sum(per_pair * valid, (0, 1)) / tf.reduce_sum(valid, (0, 1)))


def cpc_steps(
    weights, config, prediction_steps, num_negatives, waveform, policy, scorings, compiled=True
):
    """``{"tf ... (<scoring>)": step}``; ``step(indices=None)`` draws negatives unless given."""
    data = tf.constant(waveform)
    steps = {}
    for scoring in scorings:
        for name, jit_compile in VARIANTS if compiled else EAGER:
            net = Net(weights, policy)

            def loss_of(indices, net=net, dense=scoring == "dense"):
                z, p = cpc_forward(net, data, config, prediction_steps)
                return cpc_loss(z, p, indices, dense)

            train = _train_function(net, loss_of, jit_compile)
            frames = common.cpc_frames(waveform.shape[1], config)
            shape = (waveform.shape[0], frames, num_negatives)

            def step(indices=None, train=train, shape=shape):
                if indices is None:
                    total = shape[0] * shape[1]
                    indices = tf.random.uniform(shape, 0, total, dtype=tf.int32)
                return float(train(tf.convert_to_tensor(indices, tf.int32)))

            steps[f"{name} ({scoring})"] = step
    return steps
