"""One data-parallel training step of tiny SimCLR and CPC pretrainers, run as its own process.

``python -m tests.distribute.replica_run MODE OUT.json`` (KERAS_BACKEND set by the caller):

* ``mirrored``: TensorFlow, 2 logical CPU devices, ``MirroredStrategy``; also a global batch
  of 5 that does not divide, a 3-step fit with random augmentation, and whether the two
  replicas augment one image alike.
* ``worker``: TensorFlow ``MultiWorkerMirroredStrategy`` (TF_CONFIG set by the caller).
* ``rank``: torch under a torchrun-like environment (RANK, WORLD_SIZE, MASTER_ADDR/PORT);
  also a 3-step fit with random augmentation, whose final weights every rank writes, and
  whether the two ranks augment one image alike.
* ``devices``: JAX DataParallel over 8 virtual CPU devices; also a batch of 12 (no divide).
* ``process``: JAX DataParallel over 2 processes (KERAS_DISTRIBUTION_* set by the caller).

Each writes, per model, the loss of one SGD step on the fixed global batch and the weights
after it; ``single_step`` gives the single-device values to compare with.
"""

import json
import os
import sys


def _configure_devices(mode):
    # Before any backend computation: the device layout is fixed at initialisation.
    if mode == "mirrored":
        import tensorflow as tf

        cpu = tf.config.list_physical_devices("CPU")[0]
        devices = [tf.config.LogicalDeviceConfiguration()] * 2
        tf.config.set_logical_device_configuration(cpu, devices)


GLOBAL_BATCH = 8
SGD_RATE = 0.5


def build(name):
    """A tiny pretrainer with seeded weights (the same on every process and engine)."""
    import keras

    from keras_cpc.layers import ProjectionHead
    from keras_cpc.models import CPCBackbone, CPCPretrainer, SimCLRPretrainer
    from tests.helpers import set_deterministic_weights

    if name == "simclr":
        images = keras.Input((8, 8, 3))
        x = keras.layers.Rescaling(1.0 / 255.0)(images)
        x = keras.layers.Conv2D(8, 3, strides=2, padding="same", use_bias=False)(x)
        x = keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-5)(x)
        x = keras.layers.ReLU()(x)
        backbone = keras.Model(images, keras.layers.GlobalAveragePooling2D()(x))
        backbone.output_dim = 8
        model = SimCLRPretrainer(
            backbone, projection_head=ProjectionHead(2, output_dim=8), augmentation=None
        )
    else:
        backbone = CPCBackbone(
            kernel_sizes=(10, 8), strides=(5, 8), encoder_dim=8, context_dim=8,
            normalization="layer", sample_rate=8000,
        )  # fmt: skip
        model = CPCPretrainer(backbone, prediction_steps=2, num_negatives=4, seed=3)
    set_deterministic_weights(model, seed=1)
    return model


def global_batch(name, size=GLOBAL_BATCH):
    """The fixed global batch: two views of 8x8 images, or 400-sample clips (one padded)."""
    import numpy as np

    rng = np.random.default_rng(5)
    if name == "simclr":
        shape = (size, 8, 8, 3)
        return {
            "view_a": rng.integers(0, 256, shape).astype("uint8"),
            "view_b": rng.integers(0, 256, shape).astype("uint8"),
        }
    waveform = rng.uniform(-0.5, 0.5, (size, 400)).astype("float32")
    mask = np.ones((size, 400), bool)
    mask[size - 3, 250:] = False  # a padded clip: boolean mask, fewer valid pairs
    waveform[size - 3, 250:] = 0.0
    return {"waveform": waveform, "padding_mask": mask}


def step(model, data, batch_size=None):
    """Compile with SGD and fit one step; the loss reported and the weights after it.

    ``data``: arrays of the global batch (fit with ``batch_size``), or a dataset.
    """
    import keras

    model.compile(optimizer=keras.optimizers.SGD(SGD_RATE))
    history = model.fit(data, batch_size=batch_size, epochs=1, shuffle=False, verbose=0)
    weights = [keras.ops.convert_to_numpy(v).tolist() for v in model.trainable_variables]
    return {"loss": float(history.history["loss"][0]), "weights": weights}


def single_step(name):
    return step(build(name), global_batch(name), GLOBAL_BATCH)


def batches(data, steps):
    """A keras PyDataset of ``steps`` copies of the global batch ``data``."""
    import keras

    class Batches(keras.utils.PyDataset):
        def __len__(self):
            return steps

        def __getitem__(self, index):
            return (data,)

    return Batches()


def _error(fit):
    try:
        fit()
    except Exception as error:  # noqa: BLE001 - the message is what the test checks
        return f"{type(error).__name__}: {error}"
    return None


def run(mode):
    from keras_cpc import distribute

    distribute.start()  # first: JAX's multi-process start precedes any computation
    out = {"process": distribute.process_index(), "processes": distribute.process_count()}
    for name in ("simclr", "cpc"):
        # What the example scripts do: every process builds the global batch and keeps its
        # rows (or lets tf.distribute split it).
        out[name] = step(build(name), distribute.shard_batches(batches(global_batch(name), 1)))
    if mode == "mirrored":  # Keras splits a batch of 5 into 3 + 2 rows
        out["indivisible"] = _error(lambda: step(build("simclr"), global_batch("simclr", 5), 5))
    if mode == "devices":
        out["indivisible"] = _error(lambda: step(build("simclr"), global_batch("simclr", 12), 12))
    if mode in ("rank", "mirrored"):
        out["fit"] = _augmented_fit()
        out["same_views"] = _replicas_draw_the_same_views(mode)
    return out


def _replicas_draw_the_same_views(mode):
    # One image on every replica: the views must differ (each replica its own draws).
    import keras
    import numpy as np

    from keras_cpc import distribute
    from keras_cpc.layers import SimCLRAugmentation

    augmentation = SimCLRAugmentation(jitter_strength=0.5, blur=False, seed=0)
    image = global_batch("simclr")["view_a"][:1]
    if mode == "rank":
        views = keras.ops.convert_to_numpy(distribute.all_gather(augmentation(image)))
    else:
        import tensorflow as tf

        strategy = tf.distribute.get_strategy()
        inputs = strategy.experimental_distribute_values_from_function(lambda _: image)
        views = strategy.run(lambda x: augmentation(x, training=True), args=(inputs,))
        views = [v.numpy() for v in strategy.experimental_local_results(views)]
    return bool(np.allclose(views[0], views[1]))


def _augmented_fit():
    # A few steps with random augmentation (per-rank draws) from different initial weights on
    # each rank: the broadcast and the summed gradients must keep every rank's weights equal.
    import keras
    import numpy as np

    from keras_cpc import distribute
    from keras_cpc.layers import SimCLRAugmentation

    model = build("simclr")
    model.augmentation = SimCLRAugmentation(jitter_strength=0.5, blur=False, seed=0)
    keras.utils.set_random_seed(distribute.process_index())
    for variable in model.trainable_variables:  # a different start on every rank
        variable.assign(variable + keras.random.normal(variable.shape, stddev=0.1))
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    images = global_batch("simclr")["view_a"]
    history = model.fit(distribute.shard_batches(batches(images, 3)), epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"]).all(), history.history
    return [np.asarray(keras.ops.convert_to_numpy(v)).tolist() for v in model.weights]


if __name__ == "__main__":
    _configure_devices(sys.argv[1])
    result = run(sys.argv[1])
    with open(sys.argv[2], "w") as file:
        json.dump(result, file)
    print("done", sys.argv[1], os.environ.get("RANK", ""), flush=True)
