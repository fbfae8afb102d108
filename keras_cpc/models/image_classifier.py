"""ImageClassifier: image backbone + global pooling + dropout + Dense head."""

import keras
from keras import ops

from keras_cpc.models.task import Task


@keras.saving.register_keras_serializable(package="keras_cpc")
class ImageClassifier(Task):
    """Classify images with a preset backbone (e.g. `ResNetBackbone`).

    The backbone's feature map is pooled over height and width (``pooling="avg"`` or
    ``"max"``), then dropout and a Dense layer give ``num_classes`` logits (or probabilities
    with ``activation="softmax"``). Images go in raw, pixel values in [0, 255]: scaling is part
    of the backbone. ``freeze_backbone=True`` trains only the head (a linear probe), False
    fine-tunes everything.

    The backbone must be an image backbone (``modality == "image"``, e.g. `ResNetBackbone`):
    an audio backbone such as `CPCBackbone` is refused with a ValueError, also through
    ``from_preset``. Inputs are checked by the backbone's ``check_inputs`` before any tracing.

    Args:
        backbone: a `Backbone` whose ``encode`` returns ``"feature_map"`` (batch, h, w, c).
        num_classes: number of classes (a Python or NumPy integer).
        pooling: ``"avg"`` or ``"max"``.
        dropout: dropout rate before the Dense head.
        activation: activation of the head; None gives logits.
        freeze_backbone: keep the backbone's weights (incl. batch-norm statistics) fixed.

    Example:
        >>> classifier = ImageClassifier.from_preset("my_resnet", num_classes=10)
        >>> classifier.compile()
        >>> classifier.fit(images_uint8, labels, epochs=2)
    """

    modality = "image"

    def pool(self, outputs):
        feature_map = outputs["feature_map"]
        if self.pooling == "max":
            return ops.max(feature_map, axis=(1, 2))
        return ops.mean(feature_map, axis=(1, 2))
