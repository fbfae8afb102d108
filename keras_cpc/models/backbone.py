"""Base class of keras_cpc backbones (feature extractors that come with presets).

Holds no model logic: subclasses build their layers; this class adds the preset API.
"""

from keras_cpc import presets as preset_utils


class _PresetsOfClass:
    """Class attribute ``presets``: the presets whose backbone is this class (or a subclass)."""

    def __get__(self, instance, owner):
        # The base class lists every preset, including folders whose class cannot be read.
        return preset_utils.list_presets(backbone_cls=None if owner is Backbone else owner)


class Backbone:
    """A feature extractor whose ``predict`` returns pooled embeddings.

    A mixin, not a `keras.Model`: concrete backbones derive from both
    (``class ResNetBackbone(Backbone, keras.Model)``). Keras turns a functional `Model` subclass
    into a `Functional` one by rewriting the base classes up to `keras.Model`; keeping `Backbone`
    outside that chain lets functional (ResNet) and subclassed (CPC) backbones live side by
    side. Subclasses build their layers and implement ``get_config`` and ``encode``. This class
    adds the preset API: ``from_preset``, ``save_to_preset`` and the ``presets`` attribute
    (``{name: info}`` for every preset of the class, with its description).

    Example:
        >>> import keras_cpc
        >>> keras_cpc.models.Backbone.presets  # all presets, any backbone class
        >>> backbone = keras_cpc.models.Backbone.from_preset("path/to/preset_dir")
        >>> backbone.save_to_preset("my_preset")
    """

    presets = _PresetsOfClass()

    @classmethod
    def from_preset(cls, preset, load_weights=True, **kwargs):
        """Build a backbone from a preset name or a local preset directory.

        Calling it on `Backbone` returns the class named in the preset; calling it on a
        subclass also checks the preset holds that class. Nothing is downloaded; every file
        read is checked against the sha256 in ``metadata.json``, and only registered
        keras_cpc classes are deserialised.

        Args:
            preset: a name from ``keras_cpc.list_presets()`` or a directory path (a str with a
                "/" or a ``pathlib.Path``).
            load_weights: load ``model.weights.h5`` (or the shards ``model.weights.json``
                lists). With False the architecture is built with fresh weights and no
                weights file is opened.
            **kwargs: overrides for the backbone config (e.g. ``dtype``).

        Example:
            >>> backbone = ResNetBackbone.from_preset("some_preset")
            >>> embeddings = backbone.predict(images)
        """
        return preset_utils.load_backbone(cls, preset, load_weights=load_weights, **kwargs)

    def save_to_preset(self, preset_dir, overwrite=False, metadata=None, **options):
        """Save config, weights, metadata (with sha256 of each file) and a model card.

        The write is atomic: files go to a staging sibling directory that replaces
        ``preset_dir`` only when complete, so ``preset_dir`` always holds a complete preset,
        old or new.

        Args:
            preset_dir: target directory; must not exist unless ``overwrite=True``.
            overwrite: replace an existing preset directory.
            metadata: extra fields for ``metadata.json`` such as ``description``,
                ``training_data``, ``training_command``, ``preprocessing``,
                ``probe_results``.
            **options: the other arguments of `keras_cpc.presets.save_preset`: ``task`` (a
                task built on this backbone, saved alongside; what `Task.save_to_preset`
                passes), ``readme``, ``max_shard_size`` (weights above this many GiB are
                sharded; the default keeps every file under 27 MB), ``card_sections`` and
                ``name`` (the preset name the rendered card is titled with; default: the
                folder name).

        Example:
            >>> backbone.save_to_preset("runs/cpc_7", metadata={"description": "..."},
            ...                         name="cpc_gru_fsdd_8khz")
        """
        return preset_utils.save_preset(
            preset_dir, self, overwrite=overwrite, metadata=metadata, **options
        )
