"""Backbones, pretrainers and task models."""

from keras_cpc.models.audio_classifier import AudioClassifier
from keras_cpc.models.backbone import Backbone

# Also lets remote presets find their converters (keras_cpc.presets never imports models).
from keras_cpc.models.convert import convert_checkpoint, detect_format
from keras_cpc.models.cpc.cpc_backbone import CPCBackbone
from keras_cpc.models.cpc.cpc_pretrainer import CPCPretrainer
from keras_cpc.models.image_classifier import ImageClassifier
from keras_cpc.models.resnet.resnet_backbone import ResNetBackbone
from keras_cpc.models.simclr.simclr_pretrainer import SimCLRPretrainer
from keras_cpc.models.task import Task

__all__ = [
    "AudioClassifier",
    "Backbone",
    "CPCBackbone",
    "CPCPretrainer",
    "ImageClassifier",
    "ResNetBackbone",
    "SimCLRPretrainer",
    "Task",
    "convert_checkpoint",
    "detect_format",
]
