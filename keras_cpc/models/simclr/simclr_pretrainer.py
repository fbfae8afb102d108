"""SimCLR pretraining (Chen et al. 2020) as a Keras model that trains with `fit` on any backend."""

import keras
from keras import ops

from keras_cpc import distribute
from keras_cpc.layers.arguments import as_int
from keras_cpc.layers.projection_head import ProjectionHead
from keras_cpc.layers.simclr_augmentation import SimCLRAugmentation, check_image_batch
from keras_cpc.losses import info_nce, nt_xent_logits
from keras_cpc.metrics import ContrastiveAccuracy, MILowerBound
from keras_cpc.models import train_function
from keras_cpc.models.pretrainer_presets import PretrainerPresets

VIEW_KEYS = ("view_a", "view_b")


def _default_augmentation(backbone):
    # The paper's two settings: CIFAR (s = 0.5, no blur) and ImageNet (s = 1.0, blur).
    if getattr(backbone, "stem", None) == "cifar":
        return SimCLRAugmentation(jitter_strength=0.5, blur=False)
    return SimCLRAugmentation(jitter_strength=1.0, blur=True)


@keras.saving.register_keras_serializable(package="keras_cpc")
class SimCLRPretrainer(PretrainerPresets, keras.Model):
    """SimCLR: two augmented views per image, a shared encoder and head, and NT-Xent.

    The forward pass (``call``) makes the two views, encodes both in one backbone pass of 2N
    images (batch-norm statistics over both views, as in the official code) and projects them;
    the objective lives in ``compute_loss``, the portable Keras hook, so ``fit`` runs unchanged
    on TensorFlow, JAX and PyTorch, with NumPy arrays, `tf.data` or a torch ``DataLoader``.
    `nt_xent_logits` is computed once per step and feeds the loss and the metrics
    ``contrastive_accuracy`` and ``mi_lower_bound`` (= ln(2N - 1) - loss, never above
    ln(2N - 1)). The loss is on the paper's scale (mean over the 2N anchors, initial value
    about ln(2N - 1)); the official TF code reports twice this.

    With ``entropy_weight=beta > 0`` the projections pass through a
    `keras_cpc.layers.StochasticCode` (reparameterised Gaussian codes with a learned mixture
    prior) and ``beta * (H_a + H_b)`` is added to the loss, with a ``code_entropy`` metric.
    With ``num_classes``, a linear probe on stop-gradient backbone features trains alongside
    when labels are given (``fit(images, labels)``) and ``probe_accuracy`` is reported.

    Inputs: a batch of images (batch, height, width, 3) with pixel values in the
    augmentation's ``value_range`` (uint8 or float), or a dict ``{"view_a": ..., "view_b":
    ...}`` of two given views, which bypasses the augmentation (for tests and for pipelines
    that augment elsewhere). With ``augmentation=None`` an image batch is used as both views.

    Distribution (`keras_cpc.distribute`; the README's "Scaling out"): on every engine the
    loss reported and the update applied are those of one device on the same global batch of
    N images; negatives are the 2N - 2 other views of the *global* batch; batch norm uses
    global statistics (``sync_batch_norm=False``: each replica's own); each replica draws its
    own augmentation.

        * JAX, ``keras.distribution.DataParallel`` (one or several processes): the step is one
          program over the global batch, sharded on the batch axis, so the logits, negatives
          and batch statistics are global by construction.
        * TensorFlow, ``MirroredStrategy`` / ``MultiWorkerMirroredStrategy``: each replica
          scores its own 2n anchors against the 2N views all-gathered from the replicas (the
          gather carries gradients, as the official code's cross-replica mode) and returns
          its share of the global loss; Keras sums the replicas' gradients.
        * PyTorch under ``torchrun``: the same, with ``torch.distributed`` (gradient-carrying
          all-gather; gradients summed over ranks before each update, weights broadcast from
          rank 0 at ``compile``).

    Args:
        backbone: a `keras_cpc.models.ResNetBackbone` (any model mapping images to (batch, dim)
            with an ``output_dim`` attribute).
        projection_head: a layer mapping features to projections; None builds
            `ProjectionHead(num_layers=2, output_dim=128)`, the SimCLR v1 head every shipped
            preset was trained with (pass ``ProjectionHead(num_layers=3)`` for the v2 head).
        temperature: NT-Xent temperature (0.5 for CIFAR, 0.1 for ImageNet).
        augmentation: a layer producing one random view of an image batch per call, None for
            no augmentation, or ``"default"``: `SimCLRAugmentation` with the CIFAR setting for
            a ``"cifar"``-stem backbone and the ImageNet setting otherwise.
        entropy_weight: beta of the entropy-regularised objective; 0 disables it (and creates
            no extra layer).
        num_classes: number of classes of the online linear probe, or None for no probe.
        code_components: mixture components of the code prior when ``entropy_weight > 0``.
        sync_batch_norm: in a data-parallel run, True (default) normalises with the global
            batch's statistics (the official ``global_bn``), False with each replica's own.
            Nothing changes on one device, nor under JAX (one global program).
        **kwargs: passed to `keras.Model`.

    Example:
        >>> import numpy as np
        >>> from keras_cpc.models import ResNetBackbone
        >>> from keras_cpc.optimizers import LARS
        >>> backbone = ResNetBackbone(depth=18, width_multiplier=0.25, stem="cifar")
        >>> pretrainer = SimCLRPretrainer(backbone, temperature=0.5, num_classes=10)
        >>> pretrainer.compile(optimizer=LARS(1.0, weight_decay=1e-6))
        >>> images = np.random.randint(0, 256, (64, 32, 32, 3), dtype="uint8")
        >>> labels = np.random.randint(0, 10, (64,))
        >>> history = pretrainer.fit(images, labels, batch_size=32, epochs=1)
    """

    def __init__(
        self,
        backbone,
        projection_head=None,
        temperature=0.5,
        augmentation="default",
        entropy_weight=0.0,
        num_classes=None,
        code_components=4,
        sync_batch_norm=True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not temperature > 0:
            raise ValueError(f"`temperature` must be > 0; received temperature={temperature!r}.")
        if entropy_weight < 0:
            raise ValueError(f"`entropy_weight` must be >= 0; received {entropy_weight!r}.")
        if isinstance(augmentation, str):
            if augmentation != "default":
                raise ValueError(
                    f'`augmentation` must be a layer, None or "default"; received {augmentation!r}.'
                )
            augmentation = _default_augmentation(backbone)
        self.backbone = backbone
        self.projection_head = projection_head or ProjectionHead(num_layers=2, output_dim=128)
        self.augmentation = augmentation
        self.temperature = float(temperature)
        self.entropy_weight = float(entropy_weight)
        self.num_classes = None if num_classes is None else as_int(num_classes, "num_classes", 1)
        self.code_components = as_int(code_components, "code_components", 1)
        self.sync_batch_norm = bool(sync_batch_norm)

        feature_dim = int(backbone.output_dim)
        if not self.projection_head.built:
            self.projection_head.build((None, feature_dim))
        projection_dim = int(self.projection_head.compute_output_shape((None, feature_dim))[-1])
        # Build everything now: the JAX trainer needs all variables before its first trace.
        self.stochastic_code = None
        if self.entropy_weight > 0:
            from keras_cpc.layers import StochasticCode

            self.stochastic_code = StochasticCode(
                projection_dim, num_components=self.code_components, name="stochastic_code"
            )
            self.stochastic_code.build((None, projection_dim))
        self.probe = None
        if num_classes is not None:
            self.probe = keras.layers.Dense(
                self.num_classes,
                kernel_initializer=keras.initializers.RandomNormal(stddev=0.01),
                name="probe",
            )
            self.probe.build((None, feature_dim))

        self.mi_lower_bound = MILowerBound(name="mi_lower_bound")
        self.contrastive_accuracy = ContrastiveAccuracy(name="contrastive_accuracy")
        self.code_entropy = (
            keras.metrics.Mean(name="code_entropy") if self.stochastic_code else None
        )
        self.probe_accuracy = (
            keras.metrics.SparseCategoricalAccuracy(name="probe_accuracy") if self.probe else None
        )
        self.built = True

    # --- Forward pass -------------------------------------------------------------------------

    def make_views(self, inputs, training=False):
        """The two views ``(view_a, view_b)`` of a batch (see the class docstring)."""
        if isinstance(inputs, dict):
            missing = [key for key in VIEW_KEYS if key not in inputs]
            if missing:
                raise ValueError(
                    f"A dict input must have the keys {VIEW_KEYS}; missing {missing}, received "
                    f"keys {sorted(inputs)}."
                )
            view_a = ops.convert_to_tensor(inputs["view_a"])
            view_b = ops.convert_to_tensor(inputs["view_b"])
            check_image_batch(view_a, "SimCLRPretrainer", "view_a")
            check_image_batch(view_b, "SimCLRPretrainer", "view_b")
            if tuple(view_a.shape) != tuple(view_b.shape):
                raise ValueError(
                    "`view_a` and `view_b` must have the same shape; received "
                    f"{tuple(view_a.shape)} and {tuple(view_b.shape)}."
                )
            return ops.cast(view_a, "float32"), ops.cast(view_b, "float32")
        images = ops.convert_to_tensor(inputs)
        check_image_batch(images, "SimCLRPretrainer")
        if self.augmentation is None:
            images = ops.cast(images, "float32")
            return images, images
        return (
            self.augmentation(images, training=training),
            self.augmentation(images, training=training),
        )

    def call(self, inputs, training=None):
        """Returns ``{"features": (2N, dim), "projections": (2N, proj_dim)[, "probe_logits"]}``.

        Rows 0..N-1 are the first views, rows N..2N-1 the second views.
        """
        view_a, view_b = self.make_views(inputs, training=training)
        # One pass over both views: batch-norm statistics over all 2N images.
        features = self.backbone(ops.concatenate([view_a, view_b], axis=0), training=training)
        outputs = {
            "features": features,
            "projections": self.projection_head(features, training=training),
        }
        if self.probe is not None:
            outputs["probe_logits"] = self.probe(ops.stop_gradient(features))
        return outputs

    # --- Objective ----------------------------------------------------------------------------

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """NT-Xent (+ beta * code entropy) (+ the probe's cross-entropy when labels are given).

        ``sample_weight`` is not supported (each anchor's negatives are the whole batch).
        """
        if y_pred is None:
            y_pred = self(x, training=training)
        projections = y_pred["projections"]
        z_a, z_b = ops.split(projections, 2, axis=0)
        code_entropy = None
        if self.stochastic_code is not None:
            z_a, entropy_a = self.stochastic_code(z_a, training=training)
            z_b, entropy_b = self.stochastic_code(z_b, training=training)
            code_entropy = entropy_a + entropy_b

        # The logits are computed once: the loss and both metrics read them. In a
        # data-parallel step the rows are this replica's anchors and the columns the global
        # batch's views (gathered with their gradients).
        replicas = distribute.replicas()
        first = distribute.shard_start(ops.shape(z_a)[0])
        global_views = None
        if replicas.count > 1:
            global_views = (distribute.all_gather(z_a), distribute.all_gather(z_b))
        logits, labels = nt_xent_logits(z_a, z_b, self.temperature, global_views, first)
        per_anchor_loss = info_nce(logits, positive_index=labels)
        loss = ops.mean(per_anchor_loss)
        num_candidates = ops.shape(logits)[1] - 1  # the positive and 2N - 2 negatives
        self.mi_lower_bound.update_state(per_anchor_loss, num_candidates=num_candidates)
        self.contrastive_accuracy.update_state(logits, labels)

        if code_entropy is not None:
            loss = loss + self.entropy_weight * code_entropy
            self.code_entropy.update_state(0.5 * code_entropy)
        if self.probe is not None and y is not None:
            probe_labels = ops.concatenate([y, y], axis=0)
            probe_logits = ops.cast(y_pred["probe_logits"], "float32")
            loss = loss + ops.mean(
                keras.losses.sparse_categorical_crossentropy(
                    probe_labels, probe_logits, from_logits=True
                )
            )
            self.probe_accuracy.update_state(probe_labels, probe_logits)
        # Regularisation losses of the layers (none by default).
        if self.losses:
            loss = loss + ops.sum(ops.stack([ops.cast(extra, "float32") for extra in self.losses]))
        # Equal shards: this replica's share of the global mean is its mean / replicas.
        return distribute.replica_loss(loss / replicas.count if replicas.count > 1 else loss)

    def make_train_function(self, force=False):
        # JAX: the same step, compiled with the variables in path order (train_function_jax).
        if not train_function.make_train_function(self, force):
            super().make_train_function(force)

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        # Our metrics are updated in `compute_loss`, from the same logits as the loss.
        return distribute.step_logs(self.get_metrics_result())

    # --- Data-parallel wiring (keras_cpc.distribute) --------------------------------------------

    def compile(self, *args, **kwargs):
        """`keras.Model.compile`, then the engine's data-parallel wiring if a run is active."""
        super().compile(*args, **kwargs)
        distribute.prepare(self, self.sync_batch_norm)

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        # Only the TF trainer calls this. Under a strategy its own version builds from a
        # first batch averaged over the replicas, which fails on a boolean padding mask
        # ("AddN bool"); ours builds from the first replica's batch.
        if not distribute.symbolic_build(self, iterator, data_batch):
            super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)

    # --- Serialisation ------------------------------------------------------------------------

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "backbone": keras.saving.serialize_keras_object(self.backbone),
                "projection_head": keras.saving.serialize_keras_object(self.projection_head),
                "temperature": self.temperature,
                "augmentation": (
                    None
                    if self.augmentation is None
                    else keras.saving.serialize_keras_object(self.augmentation)
                ),
                "entropy_weight": self.entropy_weight,
                "num_classes": self.num_classes,
                "code_components": self.code_components,
                "sync_batch_norm": self.sync_batch_norm,
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("backbone", "projection_head", "augmentation"):
            if config.get(key) is not None:
                config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)
