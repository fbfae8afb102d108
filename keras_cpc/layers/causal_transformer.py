"""A small causal Transformer for autoregressive context over frame sequences."""

import math

import keras
from keras import ops

from keras_cpc.layers.arguments import as_int


def sinusoidal_positions(length, dim, dtype="float32"):
    """(length, dim) sinusoidal position codes (Vaswani et al. 2017), any length."""
    positions = ops.cast(ops.arange(length), "float32")[:, None]
    half = dim // 2
    freqs = ops.exp(ops.cast(ops.arange(half), "float32") * (-math.log(10000.0) / max(half, 1)))
    angles = positions * freqs[None, :]
    codes = ops.concatenate([ops.sin(angles), ops.cos(angles)], axis=-1)
    if dim % 2:
        codes = ops.pad(codes, [[0, 0], [0, 1]])
    return ops.cast(codes, dtype)


@keras.saving.register_keras_serializable(package="keras_cpc")
class CausalTransformer(keras.layers.Layer):
    """Pre-LayerNorm Transformer whose output at step t only sees inputs at steps <= t.

    Inputs (batch, time, features) are projected to ``dim``, get sinusoidal positions, then go
    through ``num_layers`` blocks of causal multi-head self-attention and a ReLU feed-forward
    network, and a final LayerNorm. Because attention is causally masked, right-padding never
    changes the outputs of real steps.

    Args:
        dim: model width (output features).
        num_layers: number of blocks.
        num_heads: attention heads (``dim`` must be divisible by it).
        ffn_dim: hidden width of the feed-forward network; default ``4 * dim``.
        dropout: dropout rate inside the blocks (training only).

    Example:
        >>> layer = CausalTransformer(dim=32, num_layers=1, num_heads=4)
        >>> y = layer(np.zeros((2, 10, 16), "float32"))  # (2, 10, 32)
    """

    def __init__(self, dim, num_layers=2, num_heads=4, ffn_dim=None, dropout=0.0, **kwargs):
        super().__init__(**kwargs)
        dim, num_layers = as_int(dim, "dim", 1), as_int(num_layers, "num_layers", 0)
        num_heads = as_int(num_heads, "num_heads", 1)
        ffn_dim = None if ffn_dim is None else as_int(ffn_dim, "ffn_dim", 0)
        if dim % num_heads:
            raise ValueError(
                f"`dim` must be divisible by `num_heads`; received dim={dim}, "
                f"num_heads={num_heads}."
            )
        self.dim = int(dim)
        self.num_layers = int(num_layers)
        self.num_heads = int(num_heads)
        self.ffn_dim = ffn_dim if ffn_dim else 4 * self.dim
        self.dropout = float(dropout)
        self.input_projection = keras.layers.Dense(self.dim, name="input_projection")
        self.attention_norms, self.attentions = [], []
        self.ffn_norms, self.ffn_hidden, self.ffn_out = [], [], []
        for i in range(self.num_layers):
            self.attention_norms.append(
                keras.layers.LayerNormalization(epsilon=1e-5, name=f"block{i}_attention_norm")
            )
            self.attentions.append(
                keras.layers.MultiHeadAttention(
                    self.num_heads,
                    self.dim // self.num_heads,
                    dropout=self.dropout,
                    name=f"block{i}_attention",
                )
            )
            self.ffn_norms.append(
                keras.layers.LayerNormalization(epsilon=1e-5, name=f"block{i}_ffn_norm")
            )
            self.ffn_hidden.append(
                keras.layers.Dense(self.ffn_dim, activation="relu", name=f"block{i}_ffn_hidden")
            )
            self.ffn_out.append(keras.layers.Dense(self.dim, name=f"block{i}_ffn_out"))
        self.final_norm = keras.layers.LayerNormalization(epsilon=1e-5, name="final_norm")
        self.drop = keras.layers.Dropout(self.dropout)

    def build(self, input_shape):
        self.input_projection.build(input_shape)
        shape = tuple(input_shape[:-1]) + (self.dim,)
        for i in range(self.num_layers):
            self.attention_norms[i].build(shape)
            self.attentions[i].build(shape, shape)
            self.ffn_norms[i].build(shape)
            self.ffn_hidden[i].build(shape)
            self.ffn_out[i].build(tuple(input_shape[:-1]) + (self.ffn_dim,))
        self.final_norm.build(shape)
        self.built = True

    def call(self, inputs, training=None):
        x = self.input_projection(inputs)
        x = x + sinusoidal_positions(ops.shape(x)[1], self.dim, x.dtype)[None]
        for i in range(self.num_layers):
            h = self.attention_norms[i](x)
            h = self.attentions[i](h, h, use_causal_mask=True, training=training)
            x = x + self.drop(h, training=training)
            h = self.ffn_out[i](self.ffn_hidden[i](self.ffn_norms[i](x)))
            x = x + self.drop(h, training=training)
        return self.final_norm(x)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.dim,)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "dim": self.dim,
                "num_layers": self.num_layers,
                "num_heads": self.num_heads,
                "ffn_dim": self.ffn_dim,
                "dropout": self.dropout,
            }
        )
        return config
