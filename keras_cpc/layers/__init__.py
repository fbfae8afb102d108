"""keras_cpc.layers"""

from keras_cpc.layers.projection_head import ProjectionHead
from keras_cpc.layers.simclr_augmentation import SimCLRAugmentation

__all__ = ["ProjectionHead", "SimCLRAugmentation"]
