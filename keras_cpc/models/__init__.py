"""Backbones, pretrainers and task models."""

from keras_cpc.models.backbone import Backbone

__all__ = ["Backbone"]
