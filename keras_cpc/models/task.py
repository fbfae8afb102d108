"""Task base: a `Backbone` plus a pooling + dropout + Dense head, saved to presets.

`ImageClassifier` and `AudioClassifier` are thin subclasses that only say how to pool the
backbone's outputs. Presets of a task hold the backbone files plus ``task.json`` (head config)
and ``task.weights.h5`` (head weights only, so the backbone weights are stored once).
"""

import numbers

import keras

from keras_cpc import presets as preset_utils
from keras_cpc.models import train_function
from keras_cpc.models.backbone import Backbone
from keras_cpc.models.input_checks import InputChecks, check_backbone_modality

POOLINGS = ("avg", "max")


class Task(InputChecks, keras.Model):
    """Backbone + pooling + dropout + Dense(num_classes); see subclasses for the pooling.

    A subclass sets ``modality`` ("image", "audio") to refuse backbones of another kind, and
    implements ``pool``. Inputs are checked by the backbone's ``check_inputs`` before tracing.
    """

    backbone_cls = Backbone
    # The kind of backbone this task takes (its ``modality``); None takes any.
    modality = None

    def __init__(
        self,
        backbone,
        num_classes,
        pooling="avg",
        dropout=0.0,
        activation=None,
        freeze_backbone=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not isinstance(backbone, self.backbone_cls):
            raise ValueError(
                f"`backbone` must be a {self.backbone_cls.__name__}; received "
                f"{type(backbone).__name__}."
            )
        if self.modality is not None:
            check_backbone_modality(backbone, self.modality, type(self).__name__)
        # numbers.Integral takes numpy integers too (np.int64 from a label array's max + 1).
        integral = isinstance(num_classes, numbers.Integral) and not isinstance(num_classes, bool)
        if not integral or num_classes < 1:
            raise ValueError(f"`num_classes` must be an int >= 1; received {num_classes!r}.")
        num_classes = int(num_classes)
        if pooling not in POOLINGS:
            raise ValueError(f"`pooling` must be one of {POOLINGS}; received {pooling!r}.")
        if not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"`dropout` must be in [0, 1); received {dropout!r}.")
        self.backbone = backbone
        self.num_classes = num_classes
        self.pooling = pooling
        self.dropout = float(dropout)
        self.activation = activation
        self.freeze_backbone = bool(freeze_backbone)
        # trainable=False also puts batch norm in inference mode (Keras 3), so a frozen
        # backbone keeps its moving statistics: a true linear probe.
        self.backbone.trainable = not self.freeze_backbone
        self.head_dropout = keras.layers.Dropout(self.dropout, name="head_dropout")
        self.predictions = keras.layers.Dense(
            num_classes, activation=activation, name="predictions"
        )
        self.predictions.build((None, backbone.output_dim))
        self.built = True

    def check_inputs(self, inputs, check_values=True):
        """The backbone's input checks (ValueError saying what was expected and received)."""
        check = getattr(self.backbone, "check_inputs", None)
        if check is not None:  # a user-defined backbone may have none
            check(inputs, check_values=check_values)

    def pool(self, outputs):
        """Pooled (batch, dim) features from ``backbone.encode`` outputs."""
        raise NotImplementedError

    def call(self, inputs, training=None):
        backbone_training = training if self.backbone.trainable else False
        outputs = self.backbone.encode(inputs, training=backbone_training)
        features = self.pool(outputs)
        features = self.head_dropout(features, training=training)
        return self.predictions(features)

    def compile(self, optimizer="auto", loss="auto", metrics="auto", **kwargs):
        """`keras.Model.compile` with defaults: Adam(1e-3), sparse cross-entropy, accuracy."""
        if optimizer == "auto":
            optimizer = keras.optimizers.Adam(1e-3)
        if loss == "auto":
            loss = keras.losses.SparseCategoricalCrossentropy(from_logits=self.activation is None)
        if metrics == "auto":
            metrics = [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
        super().compile(optimizer=optimizer, loss=loss, metrics=metrics, **kwargs)

    def make_train_function(self, force=False):
        # The backend's compiled step where it has one (JAX: variables in path order; torch:
        # optimizer slots in the kernels' memory order), else Keras' own (train_function).
        if not train_function.make_train_function(self, force):
            super().make_train_function(force)

    # ---- serialisation -------------------------------------------------------------------
    def head_config(self):
        return {
            "num_classes": self.num_classes,
            "pooling": self.pooling,
            "dropout": self.dropout,
            "activation": keras.activations.serialize(keras.activations.get(self.activation))
            if self.activation is not None
            else None,
            "freeze_backbone": self.freeze_backbone,
        }

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "backbone": preset_utils.serialize(self.backbone),
            **self.head_config(),
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["backbone"] = preset_utils.deserialize(
            config["backbone"], Backbone, f"{cls.__name__} config 'backbone'"
        )
        return cls(**config)

    def task_config(self):
        """Contents of ``task.json``: this task's serialised config without the backbone."""
        return {
            "module": type(self).__module__,
            "class_name": type(self).__name__,
            "registered_name": keras.saving.get_registered_name(type(self)),
            "config": {"name": self.name, **self.head_config()},
        }

    def head_variables(self):
        """The head's variables keyed ``layer/variable`` (what ``task.weights.h5`` stores)."""
        return {f"{self.predictions.name}/{v.name}": v for v in self.predictions.weights}

    # ---- presets -------------------------------------------------------------------------
    @classmethod
    def from_preset(
        cls, preset, num_classes=None, freeze_backbone=None, load_weights=True, **kwargs
    ):
        """Build the task from a preset name or directory.

        With ``num_classes`` the head is new (randomly initialised) on top of the preset's
        backbone. Without it the preset must be a task preset (saved by ``save_to_preset`` of
        this task class): its head config and head weights are restored.

        Args:
            preset: preset name or directory (see `Backbone.from_preset`).
            num_classes: classes of a new head; None restores the saved head.
            freeze_backbone: True trains only the head (linear probe); False fine-tunes end
                to end. None keeps the saved setting (False for a new head).
            load_weights: load backbone (and head) weights; False gives fresh weights and
                opens no weights file.
            **kwargs: head options (``pooling``, ``dropout``, ``activation``, ``name``).

        Example:
            >>> classifier = ImageClassifier.from_preset("my_preset", num_classes=10,
            ...                                          freeze_backbone=True)
            >>> classifier.compile()
            >>> classifier.fit(images, labels, epochs=3)
        """
        if num_classes is not None:
            # A new head on the backbone: the preset's own task files (of this class or
            # another, e.g. a pretrainer's heads) are not read.
            backbone = cls.backbone_cls.from_preset(preset, load_weights=load_weights)
            head = {"num_classes": num_classes, "freeze_backbone": bool(freeze_backbone)}
            head.update(kwargs)
            return cls(backbone=backbone, **head)
        parts = preset_utils.load_task_parts(cls, preset, load_weights=load_weights)
        if parts.task_config is None:
            raise ValueError(
                f"Preset {preset!r} holds a backbone only, so pass `num_classes` for a new head; "
                "received num_classes=None."
            )
        backbone = cls.backbone_cls.from_preset(parts.directory, load_weights=load_weights)
        head = dict(parts.task_config["config"])
        if freeze_backbone is not None:
            head["freeze_backbone"] = freeze_backbone
        head.update(kwargs)
        task = parts.task_class(backbone=backbone, **head)
        if parts.head_weights is not None:
            preset_utils.load_variables_h5(parts.head_weights, task.head_variables())
        return task

    def save_to_preset(self, preset_dir, **options):
        """Save backbone and head (config and weights) as one preset directory, atomically.

        Args:
            preset_dir: target directory.
            **options: ``overwrite``, ``metadata``, ``readme``, ``max_shard_size``,
                ``card_sections``, ``name``: as in `keras_cpc.presets.save_preset`.

        Example:
            >>> classifier.save_to_preset("presets/my_classifier")
        """
        if "task" in options:
            raise TypeError(
                "Expected the options of keras_cpc.presets.save_preset; received `task`, which a "
                "task sets to itself."
            )
        return self.backbone.save_to_preset(preset_dir, task=self, **options)
