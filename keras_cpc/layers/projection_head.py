"""SimCLR's nonlinear projection head g(h)."""

import keras

from keras_cpc.layers import native_layout
from keras_cpc.layers.arguments import as_int

# Same batch-norm settings as the SimCLR encoder.
BN_MOMENTUM = 0.9
BN_EPSILON = 1e-5


@keras.saving.register_keras_serializable(package="keras_cpc")
class ProjectionHead(keras.layers.Layer):
    """MLP projection head of SimCLR, as in the official code's ``head_contrastive``.

    Every hidden layer is Dense (no bias, N(0, 0.01) init) -> BatchNorm (with beta) -> ReLU;
    the output layer is Dense -> BatchNorm without beta and no ReLU. ``num_layers=2`` is the
    SimCLR v1 head ("MLP with one hidden layer"), ``num_layers=3`` the SimCLR v2 / TF2 default:
    with the settings of the official code (BN momentum 0.9, epsilon 1e-5, no beta on the last
    BN), ``ProjectionHead(num_layers=3)`` is the head of the released v2 checkpoints and takes
    their ``head_contrastive/nl_{0,1,2}`` weights unchanged.

    The default is 2 (v1), deliberately: it is the head of the paper `SimCLRPretrainer`
    implements, the CIFAR-scale recipe, and the head every shipped SimCLR preset of this
    library was trained and measured with. Pass ``num_layers=3`` for the v2 head (a deeper head
    mostly helps fine-tuning from a middle layer of the head, which these presets do not use).

    Args:
        num_layers: number of Dense layers, >= 1 (2 for v1, the default; 3 for v2). 1 gives a
            linear head.
        hidden_dim: width of the hidden layers; None uses the input width (the official rule:
            512 for ResNet-18, 2048 for ResNet-50).
        output_dim: width of the projection z (128 in SimCLR).
        use_batch_norm: whether to use the batch norms (the paper's text omits them, the code
            has them).
        **kwargs: passed to `keras.layers.Layer`.

    Example:
        >>> import numpy as np
        >>> head = ProjectionHead(num_layers=2, output_dim=128)  # SimCLR v1
        >>> z = head(np.random.normal(size=(8, 512)).astype("float32"))  # (8, 128)
    """

    def __init__(
        self, num_layers=2, hidden_dim=None, output_dim=128, use_batch_norm=True, **kwargs
    ):
        super().__init__(**kwargs)
        self.num_layers = as_int(num_layers, "num_layers", 1)
        self.hidden_dim = None if hidden_dim is None else as_int(hidden_dim, "hidden_dim", 1)
        self.output_dim = as_int(output_dim, "output_dim", 1)
        self.use_batch_norm = use_batch_norm
        self.dense_layers = []
        self.norm_layers = []

    def build(self, input_shape):
        if input_shape[-1] is None:
            raise ValueError(
                f"ProjectionHead needs a known feature size; received input shape {input_shape}."
            )
        hidden_dim = self.hidden_dim or int(input_shape[-1])
        shape = tuple(input_shape)
        for index in range(self.num_layers):
            last = index == self.num_layers - 1
            dense = keras.layers.Dense(
                self.output_dim if last else hidden_dim,
                use_bias=not self.use_batch_norm,
                kernel_initializer=keras.initializers.RandomNormal(stddev=0.01),
                dtype=self.dtype_policy,
                name=f"dense_{index}",
            )
            dense.build(shape)
            shape = dense.compute_output_shape(shape)
            self.dense_layers.append(dense)
            if self.use_batch_norm:
                norm = native_layout.BatchNormalization(
                    momentum=BN_MOMENTUM,
                    epsilon=BN_EPSILON,
                    center=not last,
                    dtype=self.dtype_policy,
                    name=f"batch_norm_{index}",
                )
                norm.build(shape)
                self.norm_layers.append(norm)

    def call(self, inputs, training=None):
        return self.layer_outputs(inputs, training=training)[-1]

    def layer_outputs(self, inputs, training=None):
        """The output of every layer (Dense, then BN), before its ReLU: the official
        ``head_contrastive/nl_i`` outputs; the last one is the projection.

        Args:
            inputs: features (batch, dim).
            training: batch-norm mode.
        """
        outputs = []
        x = inputs
        for index, dense in enumerate(self.dense_layers):
            x = dense(x)
            if self.use_batch_norm:
                x = self.norm_layers[index](x, training=training)
            outputs.append(x)
            if index < self.num_layers - 1:
                x = keras.ops.relu(x)
        return outputs

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.output_dim)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_layers": self.num_layers,
                "hidden_dim": self.hidden_dim,
                "output_dim": self.output_dim,
                "use_batch_norm": self.use_batch_norm,
            }
        )
        return config
