"""JAX wiring: `keras.distribution.DataParallel` over every device of one or several processes.

Under DataParallel the training step is one jitted program over the *global* batch, sharded
on its first axis: the NT-Xent logits, CPC's negatives and batch-norm statistics are global by
construction (XLA inserts the collectives), so a step sees one replica and nothing here
gathers. What is left: the clear error for a batch that does not divide over the devices,
and starting the run (`keras.distribution.initialize` for several processes).
"""

import os

import jax
import keras

# Each process feeds its own rows of the global batch (jax.make_array_from_process_local_data).
SPLITS_GLOBAL_BATCH = False
# What `keras.distribution.initialize` reads when its arguments are not given.
MULTI_PROCESS_ENV = "KERAS_DISTRIBUTION_NUM_PROCESSES"


def _not_a_replica_step(*args):
    raise RuntimeError("Under JAX the data-parallel step is one program: one replica.")


def replicas():
    return 1, 0  # the step is one program over the global batch


all_gather = all_sum = replica_loss = replica_seed = step_logs = _not_a_replica_step
check_equal_shards = _not_a_replica_step


def prepare(model, sync_batch_norm):
    # Batch statistics are those of the global batch the program sees; per-device statistics
    # would need a different program (shard_map), which this wiring does not offer.
    if not sync_batch_norm and keras.distribution.distribution() is not None:
        raise ValueError(
            "Under JAX DataParallel batch norm always uses the global batch's statistics; "
            "received sync_batch_norm=False, which only the TensorFlow and torch engines offer."
        )


def symbolic_build(model, iterator=None, data_batch=None):
    return False  # only Keras' TF trainer builds from a distributed batch


def process_count():
    return jax.process_count()


def process_index():
    return jax.process_index()


def _batch_error(total, devices, processes):
    per = f" ({total / processes:g} per process x {processes} processes)" if processes > 1 else ""
    return ValueError(
        f"The global batch of {total} examples{per} does not divide over the {devices} "
        f"devices of keras.distribution.DataParallel; use a global batch size that is a "
        f"multiple of {devices}."
    )


class DataParallel(keras.distribution.DataParallel):
    """`keras.distribution.DataParallel` that names both numbers when a batch does not divide.

    Plain DataParallel fails deep inside JAX (``IndivisibleError: ... implies that array axis
    0 is partitioned 8 times, but the dimension size is 12``); this one raises a ValueError
    saying which global batch and how many devices, before any array is placed.

    Example:
        >>> keras.distribution.set_distribution(DataParallel())
    """

    def get_data_layout(self, data_shape):
        rows = data_shape[0] if data_shape else None
        local = jax.local_device_count()
        if rows is not None and rows % local:
            raise _batch_error(rows * jax.process_count(), jax.device_count(), jax.process_count())
        return super().get_data_layout(data_shape)


def start():
    if int(os.environ.get(MULTI_PROCESS_ENV, "1")) > 1:
        # Reads KERAS_DISTRIBUTION_JOB_ADDRESSES / _NUM_PROCESSES / _PROCESS_ID.
        keras.distribution.initialize()
    # Each process feeds its own rows (keras_cpc.distribute.shard_batches), already sharded:
    # Keras' auto-sharding only takes tf.data input.
    keras.distribution.set_distribution(DataParallel(auto_shard_dataset=False))
    return f"DataParallel: {jax.device_count()} devices, {jax.process_count()} processes"


def per_process_batch(global_batch):
    devices, processes = jax.device_count(), jax.process_count()
    if global_batch % devices:
        raise _batch_error(global_batch, devices, processes)
    return global_batch // processes
