"""Flax / optax peers of keras_cpc's SimCLR and CPC steps (benchmarks/peers.py).

The same networks as Flax linen modules (``nn.Conv``, ``nn.BatchNorm``, ``nn.Dense``; the CPC
GRU as Keras' reset-after cell in ``jax.lax.scan`` over input projections computed for the
whole sequence), trained by one ``jax.jit`` step (``jax.value_and_grad``, ``optax.sgd`` with
momentum; state donated). ``mixed_bfloat16``: the modules' ``dtype`` is bfloat16, parameters
stay float32 and the loss is computed in float32. Module names are the Keras layer names, so
the keras_cpc weights map one to one. Needs the ``peers`` extra (flax, optax).

Example:
    >>> steps = simclr_steps(weights, 0.25, 2, views, "float32")  # {"flax/optax": step}
"""

import functools

import flax
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import peers_common as common


def info():
    return {"jax": jax.__version__, "flax": flax.__version__, "optax": optax.__version__}


class SimCLRNet(nn.Module):
    """ResNet-18 (CIFAR stem) + projection head of keras_cpc, NHWC."""

    width: float
    head_layers: int
    dtype: jnp.dtype = jnp.float32

    @nn.compact
    def __call__(self, images):
        conv = functools.partial(nn.Conv, use_bias=False, dtype=self.dtype)
        bn = functools.partial(
            nn.BatchNorm,
            use_running_average=False,
            momentum=common.BN_MOMENTUM,
            epsilon=common.BN_EPSILON,
            dtype=self.dtype,
        )

        def conv_bn(x, name, bn_name, features, size, stride, relu=True):
            pad = size // 2
            x = conv(features, (size, size), stride, ((pad, pad), (pad, pad)), name=name)(x)
            x = bn(name=bn_name)(x)
            return nn.relu(x) if relu else x

        x = images.astype(jnp.float32) * (1.0 / 255.0)
        x = conv_bn(x, "stem_conv", "stem_bn", common.stem_channels(self.width), 3, 1)
        for spec in common.resnet18_blocks(self.width):
            name, out, stride = spec["name"], spec["out"], spec["stride"]
            shortcut = x
            if spec["projection"]:
                shortcut = conv_bn(
                    x, f"{name}_shortcut_conv", f"{name}_shortcut_bn", out, 1, stride, relu=False
                )
            y = conv_bn(x, f"{name}_conv1", f"{name}_bn1", out, 3, stride)
            y = conv_bn(y, f"{name}_conv2", f"{name}_bn2", out, 3, 1, relu=False)
            x = nn.relu(y + shortcut)
        x = jnp.mean(x, axis=(1, 2))
        dim = x.shape[-1]
        for index in range(self.head_layers):
            last = index == self.head_layers - 1
            x = nn.Dense(
                128 if last else dim, use_bias=False, dtype=self.dtype, name=f"dense_{index}"
            )(x)
            x = bn(use_bias=not last, name=f"batch_norm_{index}")(x)
            x = x if last else nn.relu(x)
        return x


def nt_xent(z):
    z = z.astype(jnp.float32)
    z = z * jax.lax.rsqrt(jnp.maximum(jnp.sum(z * z, -1, keepdims=True), 1e-24))
    two_n = z.shape[0]
    logits = z @ z.T / common.TEMPERATURE - 1e9 * jnp.eye(two_n)
    index = jnp.arange(two_n)
    labels = jnp.where(index < two_n // 2, index + two_n // 2, index - two_n // 2)
    return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, labels))


def _bn_variables(weights, keras_name):
    params = {"scale": weights[f"{keras_name}/gamma"]}
    if f"{keras_name}/beta" in weights:
        params["bias"] = weights[f"{keras_name}/beta"]
    stats = {
        "mean": weights[f"{keras_name}/moving_mean"],
        "var": weights[f"{keras_name}/moving_variance"],
    }
    return params, stats


def simclr_variables(weights, head_layers):
    """Flax ``params`` and ``batch_stats`` trees of the Keras weights."""
    params, stats = {}, {}
    for path, value in weights.items():
        layer, _, kind = path.rpartition("/")
        if kind == "kernel" and not layer.startswith("projection_head"):
            params[layer] = {"kernel": value}
        elif kind == "gamma" and not layer.startswith("projection_head"):
            params[layer], stats[layer] = _bn_variables(weights, layer)
    for index in range(head_layers):
        params[f"dense_{index}"] = {"kernel": weights[f"projection_head/dense_{index}/kernel"]}
        name = f"batch_norm_{index}"
        params[name], stats[name] = _bn_variables(weights, f"projection_head/{name}")
    return params, stats


def _jitted_step(model, loss_of, compiled=True):
    optimizer = optax.sgd(common.LEARNING_RATE, momentum=common.MOMENTUM)

    def train(state, *args):
        params, stats, opt_state = state

        def objective(params):
            variables = {"params": params, "batch_stats": stats} if stats else {"params": params}
            outputs, updates = model.apply(variables, *args[:1], mutable=["batch_stats"])
            return loss_of(outputs, *args[1:]), updates.get("batch_stats", {})

        (loss, new_stats), grads = jax.value_and_grad(objective, has_aux=True)(params)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), new_stats, opt_state), loss

    # compiled=False: op by op, for quick checks of the math.
    return optimizer, jax.jit(train, donate_argnums=0) if compiled else train


def _stateful(optimizer, train, params, stats):
    params = jax.tree_util.tree_map(jnp.asarray, params)
    state = [(params, jax.tree_util.tree_map(jnp.asarray, stats), optimizer.init(params))]

    def run(*args):
        state[0], loss = train(state[0], *args)
        return float(loss)

    return run


def simclr_steps(weights, width, head_layers, views, policy, compiled=True):
    """``{"flax/optax": step}``; ``step()`` returns the loss."""
    dtype = jnp.bfloat16 if common.is_mixed(policy) else jnp.float32
    model = SimCLRNet(width, head_layers, dtype)
    optimizer, train = _jitted_step(model, nt_xent, compiled)
    images = jnp.asarray(np.concatenate(views))
    run = _stateful(optimizer, train, *simclr_variables(weights, head_layers))
    return {"flax/optax": lambda: run(images)}


class CPCNet(nn.Module):
    """CPC encoder (Conv1D stack), Keras' GRU and linear predictor of keras_cpc."""

    config: dict
    prediction_steps: int
    dtype: jnp.dtype = jnp.float32

    @nn.compact
    def __call__(self, waveform):
        config = self.config
        x = waveform[..., None]
        paddings = common.cpc_paddings(config["kernel_sizes"], config["strides"])
        dim = config["encoder_dim"]
        for i, (k, s, p) in enumerate(zip(config["kernel_sizes"], config["strides"], paddings)):
            x = nn.Conv(dim, (k,), (s,), ((p, p),), dtype=self.dtype, name=f"conv{i}")(x)
            if config["normalization"] == "channel":
                mean = jnp.mean(x, -1, keepdims=True)
                var = jnp.sum(jnp.square(x - mean), -1, keepdims=True) / (dim - 1)
                x = (x - mean) * jax.lax.rsqrt(var + common.CHANNEL_NORM_EPSILON)
                gamma = self.param(f"norm{i}_gamma", nn.initializers.ones, (dim,))
                beta = self.param(f"norm{i}_beta", nn.initializers.zeros, (dim,))
                x = x * gamma.astype(self.dtype) + beta.astype(self.dtype)
            x = nn.relu(x)
        z = x
        units = config["context_dim"]
        kernel = self.param("gru_kernel", nn.initializers.zeros, (dim, 3 * units)).astype(
            self.dtype
        )
        recurrent = self.param("gru_recurrent_kernel", nn.initializers.zeros, (units, 3 * units))
        bias = self.param("gru_bias", nn.initializers.zeros, (2, 3 * units)).astype(self.dtype)
        recurrent = recurrent.astype(self.dtype)
        inputs = jnp.einsum("btc,cu->tbu", z, kernel) + bias[0]

        def cell(h, x_t):  # Keras' GRU (reset_after=True): gates [z, r, h]
            x_z, x_r, x_h = jnp.split(x_t, 3, axis=-1)
            h_z, h_r, h_h = jnp.split(h @ recurrent + bias[1], 3, axis=-1)
            update, reset = jax.nn.sigmoid(x_z + h_z), jax.nn.sigmoid(x_r + h_r)
            h = update * h + (1 - update) * jnp.tanh(x_h + reset * h_h)
            return h, h

        h0 = jnp.zeros((z.shape[0], units), self.dtype)
        c = jnp.swapaxes(jax.lax.scan(cell, h0, inputs)[1], 0, 1)
        p = nn.Dense(
            self.prediction_steps * dim, use_bias=False, dtype=self.dtype, name="predictor"
        )(c)
        return z, p.reshape(z.shape[0], z.shape[1], self.prediction_steps, dim)


def cpc_variables(weights, config):
    params = {"predictor": {"kernel": weights["predictor_linear/kernel"]}}
    for i in range(len(config["kernel_sizes"])):
        params[f"conv{i}"] = {
            "kernel": weights[f"encoder/conv{i}/kernel"],
            "bias": weights[f"encoder/conv{i}/bias"],
        }
        if config["normalization"] == "channel":
            params[f"norm{i}_gamma"] = weights[f"encoder/norm{i}/gamma"]
            params[f"norm{i}_beta"] = weights[f"encoder/norm{i}/beta"]
    for name in ("kernel", "recurrent_kernel", "bias"):
        params[f"gru_{name}"] = weights[f"context0/gru_cell/{name}"]
    return params, {}


def cpc_loss(outputs, indices, dense):
    """CPC's InfoNCE with per-anchor negatives ``indices`` (B, T, N) into the B*T frames."""
    z, p = (x.astype(jnp.float32) for x in outputs)
    batch, frames, K, dim = p.shape
    padded = jnp.pad(z, ((0, 0), (0, K), (0, 0)))
    positives = jnp.stack([padded[:, k : k + frames] for k in range(1, K + 1)], 2)
    positive = jnp.sum(p * positives, -1, keepdims=True)
    flat = z.reshape(-1, dim)
    if dense:
        scores = jnp.einsum("btkc,mc->btkm", p, flat)
        negative = jnp.take_along_axis(scores, indices[:, :, None, :], axis=-1)
    else:
        negative = jnp.einsum("btkc,btnc->btkn", p, flat[indices])
    future = jnp.arange(frames)[:, None] + jnp.arange(1, K + 1)[None, :]
    target = jnp.arange(batch)[:, None, None] * frames + jnp.minimum(future, frames - 1)[None]
    negative = jnp.where(indices[:, :, None, :] == target[..., None], common.MASKED_SCORE, negative)
    scores = jnp.concatenate([positive, negative], -1)
    per_pair = jax.nn.logsumexp(scores, -1) - scores[..., 0]
    valid = jnp.broadcast_to((future < frames).astype(jnp.float32)[None], (batch, frames, K))
    return jnp.sum(jnp.sum(per_pair * valid, (0, 1)) / jnp.sum(valid, (0, 1)))


def cpc_steps(
    weights, config, prediction_steps, num_negatives, waveform, policy, scorings, compiled=True
):
    """``{"flax/optax (<scoring>)": step}``; ``step(indices=None)`` draws negatives unless given."""
    dtype = jnp.bfloat16 if common.is_mixed(policy) else jnp.float32
    model = CPCNet(config, prediction_steps, dtype)
    data = jnp.asarray(waveform)
    shape = (waveform.shape[0], common.cpc_frames(waveform.shape[1], config), num_negatives)
    sample = jax.jit(lambda key: jax.random.randint(key, shape, 0, shape[0] * shape[1]))
    steps = {}
    for scoring in scorings:
        loss_of = functools.partial(cpc_loss, dense=scoring == "dense")
        run = _stateful(*_jitted_step(model, loss_of, compiled), *cpc_variables(weights, config))
        keys = [jax.random.key(0)]

        def step(indices=None, run=run, keys=keys):
            if indices is None:
                keys[0], key = jax.random.split(keys[0])
                indices = sample(key)
            return run(data, jnp.asarray(indices, jnp.int32))

        steps[f"flax/optax ({scoring})"] = step
    return steps
