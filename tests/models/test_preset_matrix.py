"""Acceptance 1: presets saved under each backend load under this one with the same outputs.

The fixture presets in tests/fixtures/presets/<backend>/ were written by
tests/fixtures/make_fixture_presets.py under TensorFlow, JAX and torch. Each backend's test run
loads all three and compares with one golden file, so the three runs cover the 3 x 3 matrix.
"""

import keras
import numpy as np
import pytest

from keras_cpc.models import Backbone, CPCBackbone, ResNetBackbone
from tests.fixtures.backbones import audio_batch, image_batch
from tests.fixtures.make_fixture_presets import FIXTURE_DIR, make
from tests.helpers import assert_matches_golden

SAVED_UNDER = ("tensorflow", "jax", "torch")


@pytest.mark.parametrize("kind", ["resnet", "cpc"])
def test_presets_saved_under_every_backend_agree(kind):
    x = image_batch(3, seed=8) if kind == "resnet" else audio_batch(3, samples=800, seed=8)
    reference = make(kind)  # same deterministic weights, built here
    outputs = {}
    for saved_under in SAVED_UNDER:
        backbone = Backbone.from_preset(FIXTURE_DIR / saved_under / kind)
        assert isinstance(backbone, ResNetBackbone if kind == "resnet" else CPCBackbone)
        for loaded, expected in zip(backbone.weights, reference.weights):
            np.testing.assert_array_equal(
                keras.ops.convert_to_numpy(loaded), keras.ops.convert_to_numpy(expected)
            )
        outputs[saved_under] = keras.ops.convert_to_numpy(backbone.predict(x, verbose=0))
    for saved_under in SAVED_UNDER[1:]:
        np.testing.assert_array_equal(outputs[saved_under], outputs[SAVED_UNDER[0]])
    # One golden file for every backend: 1e-5 agreement across the 3 x 3 matrix.
    assert_matches_golden(f"preset_matrix_{kind}", {"pooled": outputs["tensorflow"]}, rtol=1e-5)
