"""Kill-and-resume is exact: a run killed mid-epoch and rerun ends bit-identical to one run.

Toy sizes: 3 epochs of 2 steps; a tiny SimCLR (with its augmentation's seed generator) and a
tiny CPC (with its negative sampler's seed generator) on each backend.
"""

import json
import warnings

import keras
import numpy as np
import pytest

from keras_cpc.layers import ProjectionHead, SimCLRAugmentation
from keras_cpc.models import SimCLRPretrainer
from keras_cpc.models.cpc.cpc_pretrainer import CPCPretrainer
from keras_cpc.training import fit_resumable, read_csv, training_state_variables
from tests.fixtures.backbones import tiny_audio_backbone

EPOCHS = 3
STEPS = 2
BATCH = 4
# Eager steps keep each test seconds; JAX compiles CPC and the toy model faster than it runs
# them eagerly (the SimCLR augmentation is the reverse).
EAGER = {"simclr": True, "cpc": keras.backend.backend() != "jax", "toy": False}


class EpochBatches(keras.utils.PyDataset):
    """Batches whose order and content are a function of (seed, epoch), like keras_cpc.data's."""

    def __init__(self, make_batch, count, seed=0):
        super().__init__()
        self.make_batch = make_batch
        self.count = count
        self.seed = seed
        self.set_epoch(0)

    def set_epoch(self, epoch):
        self.order = np.random.default_rng([self.seed, epoch]).permutation(self.count)

    def __len__(self):
        return STEPS

    def __getitem__(self, index):
        return self.make_batch(self.order[index * BATCH : (index + 1) * BATCH])


def small_image_backbone():
    # Two conv + batch-norm layers: what matters here is state (batch-norm statistics, the
    # augmentation's seed generator), and a ResNet's compile/eager time would dominate.
    images = keras.Input((8, 8, 3))
    x = keras.layers.Rescaling(1.0 / 255.0)(images)
    for filters in (4, 8):
        x = keras.layers.Conv2D(filters, 3, strides=2, padding="same", use_bias=False)(x)
        x = keras.layers.ReLU()(keras.layers.BatchNormalization()(x))
    backbone = keras.Model(images, keras.layers.GlobalAveragePooling2D()(x))
    backbone.output_dim = 8
    return backbone


def simclr_setup():
    images = np.random.default_rng(1).integers(0, 256, (BATCH * STEPS, 8, 8, 3), dtype="uint8")
    model = SimCLRPretrainer(
        small_image_backbone(),
        projection_head=ProjectionHead(num_layers=2, output_dim=4),
        augmentation=SimCLRAugmentation(jitter_strength=0.5, seed=3),
    )
    return model, EpochBatches(lambda rows: (images[rows],), len(images))


def cpc_setup():
    rng = np.random.default_rng(2)
    clips = (0.1 * rng.standard_normal((BATCH * STEPS, 400))).astype("float32")
    model = CPCPretrainer(tiny_audio_backbone(), prediction_steps=2, num_negatives=3, seed=5)
    return model, EpochBatches(lambda rows: (clips[rows],), len(clips))


def toy_setup():
    # For the checkpoint-file tests: a model that compiles in a blink, with a seed generator.
    model = keras.Sequential(
        [keras.Input((3,)), keras.layers.Dense(4), keras.layers.Dropout(0.5, seed=7)]
    )
    x = np.random.default_rng(3).normal(size=(BATCH * STEPS, 3)).astype("float32")
    return model, EpochBatches(lambda rows: (x[rows], x[rows, :1] * np.ones((1, 4))), len(x))


SETUPS = {"simclr": simclr_setup, "cpc": cpc_setup, "toy": toy_setup}


def build(name):
    keras.utils.set_random_seed(0)
    model, dataset = SETUPS[name]()
    loss = "mse" if name == "toy" else None
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss=loss, run_eagerly=EAGER[name])
    return model, dataset


def state(model):
    return [np.array(keras.ops.convert_to_numpy(v)) for v in training_state_variables(model)]


class Kill(keras.callbacks.Callback):
    """Raises after ``at_step`` steps, as a SIGKILL mid-epoch would stop the run."""

    def __init__(self, at_step):
        super().__init__()
        self.at_step = at_step
        self.steps = 0

    def on_train_batch_end(self, batch, logs=None):
        self.steps += 1
        if self.steps == self.at_step:
            raise KeyboardInterrupt("killed")


@pytest.mark.parametrize("name", ["simclr", "cpc"])
def test_killed_mid_epoch_and_rerun_is_bit_identical(name, tmp_path):
    model, dataset = build(name)
    start = state(model)
    fit_resumable(model, dataset, EPOCHS, checkpoint_dir=tmp_path / "once", verbose=0)
    expected = state(model)
    # A seed generator moved on: a resume that restarted it from its seed would differ.
    variables = training_state_variables(model)
    seeds = [i for i, v in enumerate(variables) if "seed_generator" in v.path]
    assert any(not np.array_equal(start[i], expected[i]) for i in seeds)

    killed, dataset = build(name)
    with pytest.raises(KeyboardInterrupt):
        # Step 3 is the middle of the second epoch: the newest checkpoint is after epoch 1.
        fit_resumable(killed, dataset, EPOCHS, tmp_path / "killed", 0, callbacks=[Kill(3)])
    with open(tmp_path / "killed" / "steps.csv", "a") as handle:
        handle.write("1")  # a row cut short by the kill
    rerun, dataset = build(name)
    summary = fit_resumable(rerun, dataset, EPOCHS, checkpoint_dir=tmp_path / "killed", verbose=0)

    assert summary["initial_epoch"] == 1 and summary["steps"] == EPOCHS * STEPS
    for variable, want, got in zip(training_state_variables(rerun), expected, state(rerun)):
        np.testing.assert_array_equal(got, want, err_msg=variable.path)
    # The logs read as one run: each step and epoch once, the killed step's row replaced.
    steps = read_csv(tmp_path / "killed" / "steps.csv")
    assert [int(r["step"]) for r in steps] == list(range(1, EPOCHS * STEPS + 1))
    assert [int(r["epoch"]) for r in read_csv(tmp_path / "killed" / "epochs.csv")] == [0, 1, 2]
    once = read_csv(tmp_path / "once" / "steps.csv")
    assert [r["loss"] for r in steps] == [r["loss"] for r in once]


def test_damaged_newest_checkpoint_falls_back_with_a_warning(tmp_path):
    model, dataset = build("toy")
    fit_resumable(model, dataset, 2, checkpoint_dir=tmp_path, verbose=0)
    folders = sorted(p.name for p in (tmp_path / "checkpoints").iterdir())
    assert folders == ["epoch-000001", "epoch-000002"]
    arrays = tmp_path / "checkpoints" / "epoch-000002" / "variables.npz"
    arrays.write_bytes(arrays.read_bytes()[: arrays.stat().st_size // 2])  # killed mid-write

    rerun, dataset = build("toy")
    with pytest.warns(UserWarning, match="epoch-000002.*falling back to epoch-000001"):
        summary = fit_resumable(rerun, dataset, 2, checkpoint_dir=tmp_path, verbose=0)
    assert summary["initial_epoch"] == 1 and summary["steps"] == 2 * STEPS
    np.testing.assert_array_equal(state(rerun)[0], state(model)[0])
    # The redone epoch replaced the damaged checkpoint.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        finished = fit_resumable(build("toy")[0], dataset, 2, checkpoint_dir=tmp_path, verbose=0)
    assert finished["initial_epoch"] == 2
    assert not [w for w in caught if "damaged" in str(w.message)]


def test_rerun_of_a_finished_run_keeps_its_final_metrics(tmp_path):
    model, dataset = build("toy")
    first = fit_resumable(model, dataset, 1, checkpoint_dir=tmp_path, verbose=0)
    again = fit_resumable(build("toy")[0], dataset, 1, checkpoint_dir=tmp_path, verbose=0)
    assert again["initial_epoch"] == 1 and again["steps"] == STEPS
    assert again["final_epoch_metrics"] == first["final_epoch_metrics"] != {}
    written = json.loads((tmp_path / "summary.json").read_text())
    assert written["final_epoch_metrics"] == first["final_epoch_metrics"]


def test_refuses_more_finished_epochs_than_asked_and_a_wrong_step_count(tmp_path):
    model, dataset = build("toy")
    fit_resumable(model, dataset, 2, checkpoint_dir=tmp_path, verbose=0)
    with pytest.raises(ValueError, match="at most `epochs`=1 finished epochs"):
        fit_resumable(build("toy")[0], dataset, 1, checkpoint_dir=tmp_path, verbose=0)
    with pytest.raises(ValueError, match="dataset's length, 2 batches.*steps_per_epoch=5"):
        fit_resumable(model, dataset, 1, steps_per_epoch=5)
