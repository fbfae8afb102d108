"""load_task_parts: checks what a task preset holds before anything is built."""

import os
import shutil

import numpy as np
import pytest

from keras_cpc.models import AudioClassifier, ImageClassifier
from keras_cpc.presets import TASK_WEIGHTS_FILE, load_task_parts
from tests.fixtures.backbones import tiny_audio_backbone


@pytest.fixture(scope="module")
def task_preset(tmp_path_factory):
    task = AudioClassifier(tiny_audio_backbone(seed=1), num_classes=np.int64(3))
    return task.save_to_preset(tmp_path_factory.mktemp("task") / "audio_task")


def test_task_parts_of_a_task_preset(task_preset):
    parts = load_task_parts(AudioClassifier, task_preset)
    assert parts.task_class is AudioClassifier
    assert parts.task_config["config"]["num_classes"] == 3
    assert parts.head_weights == task_preset / TASK_WEIGHTS_FILE


def test_load_weights_false_never_opens_the_head_weights(task_preset, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(task_preset, copy)
    os.remove(copy / TASK_WEIGHTS_FILE)
    parts = load_task_parts(AudioClassifier, copy, load_weights=False)
    assert parts.head_weights is None and parts.task_class is AudioClassifier
    assert AudioClassifier.from_preset(copy, load_weights=False).num_classes == 3
    with pytest.raises(FileNotFoundError, match="Expected task.weights.h5"):
        load_task_parts(AudioClassifier, copy)


def test_backbone_preset_has_no_task_parts(task_preset, tmp_path):
    path = tiny_audio_backbone(seed=1).save_to_preset(tmp_path / "backbone_only")
    parts = load_task_parts(AudioClassifier, path)
    assert parts.task_class is None and parts.task_config is None and parts.head_weights is None
    with pytest.raises(ValueError, match="expected a subclass of ImageClassifier"):
        load_task_parts(ImageClassifier, task_preset)
