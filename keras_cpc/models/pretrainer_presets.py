"""Presets for pretrainers: the backbone plus the pretraining heads, to continue pretraining.

A pretrainer preset is a backbone preset whose task files (``task.json``, ``task.weights.h5``;
see `keras_cpc.presets.layout`) hold the pretrainer's config without its backbone and the
weights of its other layers (projection head, probe, ...). Backbone loaders ignore them;
``ImageClassifier.from_preset(preset, num_classes=...)`` puts a new head on the backbone.
"""

import keras

from keras_cpc import presets as preset_utils
from keras_cpc.models.backbone import Backbone


def _is_serialized_object(value):
    return isinstance(value, dict) and "class_name" in value and "config" in value


class PretrainerPresets:
    """Mixin of a pretrainer (a `keras.Model` with a ``backbone``): ``from_preset`` and
    ``save_to_preset`` with its heads, and the ``task_config`` / ``head_variables`` hooks
    `keras_cpc.presets.save_preset` calls.

    The pretrainer's ``get_config`` must hold its constructor arguments, the backbone under
    ``"backbone"`` and nested layers as serialised Keras objects.

    Example:
        >>> pretrainer.save_to_preset("runs/simclr_heads")
        >>> pretrainer = SimCLRPretrainer.from_preset("runs/simclr_heads")  # heads restored
        >>> pretrainer.compile(optimizer="adam")
        >>> pretrainer.fit(images, epochs=1)
    """

    def task_config(self):
        """Contents of ``task.json``: the pretrainer's config without the backbone."""
        config = {k: v for k, v in self.get_config().items() if k != "backbone"}
        return {
            "module": type(self).__module__,
            "class_name": type(self).__name__,
            "registered_name": keras.saving.get_registered_name(type(self)),
            "config": config,
        }

    def head_variables(self):
        """Weights of every layer but the backbone, keyed ``layer/path`` (``task.weights.h5``)."""
        variables = {}
        for layer in self._flatten_layers(include_self=False, recursive=False):
            if layer is self.backbone:
                continue
            for variable in layer.weights:
                path = variable.path
                key = path if path.startswith(layer.name + "/") else f"{layer.name}/{path}"
                variables[key] = variable
        return variables

    @classmethod
    def from_preset(cls, preset, load_weights=True, **kwargs):
        """The pretrainer of a preset, with its saved heads; a backbone-only preset gets new
        heads (from ``kwargs`` and the class defaults).

        Args:
            preset: a preset name or directory.
            load_weights: load the backbone and head weights; False builds fresh weights.
            **kwargs: constructor arguments that replace the saved ones (e.g.
                ``temperature``, ``augmentation``).

        Example:
            >>> pretrainer = SimCLRPretrainer.from_preset("simclr_v2_r50_1x_sk0_imagenet")
        """
        parts = preset_utils.load_task_parts(cls, preset, load_weights=load_weights)
        backbone = Backbone.from_preset(parts.directory, load_weights=load_weights)
        if parts.task_config is None:
            return cls(backbone=backbone, **kwargs)
        config = dict(parts.task_config["config"])
        for key, value in config.items():
            # load_task_parts checked that nested objects are keras / keras_cpc classes.
            if _is_serialized_object(value):
                config[key] = keras.saving.deserialize_keras_object(value, safe_mode=True)
        config.update(kwargs)
        pretrainer = parts.task_class(backbone=backbone, **config)
        if parts.head_weights is not None:
            preset_utils.load_variables_h5(parts.head_weights, pretrainer.head_variables())
        return pretrainer

    def save_to_preset(self, preset_dir, **options):
        """Save the backbone and the pretrainer's heads as one preset directory, atomically.

        Args:
            preset_dir: target directory.
            **options: ``overwrite``, ``metadata``, ``readme``, ``max_shard_size``,
                ``card_sections``, ``name``: as in `keras_cpc.presets.save_preset`.

        Example:
            >>> pretrainer.save_to_preset("runs/simclr_heads", metadata={"description": "..."})
        """
        if "task" in options:
            raise TypeError(
                "Expected the options of keras_cpc.presets.save_preset; received `task`, which "
                "a pretrainer sets to itself."
            )
        return self.backbone.save_to_preset(preset_dir, task=self, **options)
