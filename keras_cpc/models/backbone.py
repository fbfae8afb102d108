"""Base class of keras_cpc backbones (feature extractors that come with presets).

Holds no model logic: subclasses build their layers; this class adds the preset API.
"""

import keras


class Backbone(keras.Model):
    """A feature extractor whose ``predict`` returns pooled embeddings.

    Subclasses set ``presets`` (a dict of shipped preset names to metadata) and implement
    ``get_config``. The preset methods (``from_preset``, ``save_to_preset``) live here.
    """

    presets = {}
