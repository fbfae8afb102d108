"""Data-parallel pretraining on each engine's own primitives: tf.distribute, torch, JAX.

The pretrainers compute, on each replica, that replica's *share* of the global batch's loss
(the shares add up to the loss of the same batch on one device) from its local anchors scored
against the *global* candidates (`all_gather`, which carries gradients), and hand the share to
`replica_loss`, which turns it into what the engine's training step expects. One small module
per backend does the wiring, picked by ``keras.backend.backend()``:

* ``tensorflow``: ``tf.distribute`` replica context (``MirroredStrategy``,
  ``MultiWorkerMirroredStrategy``): ``all_gather`` / ``all_reduce`` of the replica context,
  synchronised batch norm (Keras' ``synchronized=True``), per-replica augmentation seeds.
* ``torch``: ``torch.distributed`` under ``torchrun`` (gloo on CPU, nccl on GPU): weights
  broadcast from rank 0, gradients summed over ranks before the optimizer applies them,
  ``torch.distributed.nn.functional.all_gather`` for the negatives, synchronised batch norm.
* ``jax``: ``keras.distribution.DataParallel``: the step is one program over the global batch
  (negatives and batch norm are global by construction), so there is nothing to gather; this
  package only checks that the batch divides over the devices.

On a single device every function here is the identity (the pretrainers' results are then
bit-for-bit what they were without this package).

Example:
    >>> from keras_cpc import distribute
    >>> distribute.replicas()  # one device: Replicas(count=1, index=0)
"""

import importlib
from typing import Any, NamedTuple

import keras

from keras_cpc.distribute.batches import ShardedBatches

ENGINES = {
    "tensorflow": "keras_cpc.distribute.tensorflow",
    "jax": "keras_cpc.distribute.jax",
    "torch": "keras_cpc.distribute.torch",
}


class Replicas(NamedTuple):
    """How many replicas compute this step, and which one this is (an int or a tensor)."""

    count: int
    index: Any


def engine():
    """The module wiring the current backend's engine (`keras.backend.backend()`)."""
    backend = keras.backend.backend()
    if backend not in ENGINES:
        raise ValueError(
            f"keras_cpc.distribute supports the backends {sorted(ENGINES)}; the current "
            f"backend is {backend!r}."
        )
    return importlib.import_module(ENGINES[backend])


def replicas():
    """`Replicas` of the step being traced or run: (1, 0) outside a data-parallel step.

    Under JAX's DataParallel the step is one program over the global batch: one replica.
    """
    count, index = engine().replicas()
    return Replicas(int(count), index)


def all_gather(x):
    """``x`` of every replica concatenated on axis 0 in replica order (gradients flow back).

    Boolean and integer tensors are gathered too (without gradient). The identity on one
    replica.
    """
    return engine().all_gather(x) if replicas().count > 1 else x


def shard_start(rows):
    """The global index of this replica's first row, for a shard of ``rows`` rows.

    Shards must be equal (the global batch divides over the replicas): the replicas' losses
    are then equal shares of the global mean. Raises an error naming the shard sizes
    otherwise (TensorFlow: when the step runs; Keras splits a partial last batch of
    ``fit(x, batch_size=...)`` unevenly, so use a number of examples that divides, or
    `keras_cpc.data`'s datasets, which give full batches only).
    """
    count, index = replicas()
    if count == 1:
        return 0
    engine().check_equal_shards(rows, count)
    return index * rows


def all_sum(x):
    """``x`` summed over the replicas (no gradient: counts and normalisers). Identity on one."""
    return engine().all_sum(x) if replicas().count > 1 else x


def replica_loss(share):
    """What ``compute_loss`` returns for this replica, given its share of the global loss.

    The shares of the replicas add up to the global batch's loss. The engine's step then
    reports the global loss and applies the gradient of the global loss:
    ``tf.distribute`` sums the replicas' gradients and reports the mean of the replicas' losses
    times their count; the torch wiring (`prepare`) sums the gradients over the ranks.
    """
    return engine().replica_loss(share) if replicas().count > 1 else share


def replica_seed(seed_generator):
    """A seed generator that draws different numbers on each replica (augmentation).

    On one replica (and under JAX, whose step draws for the global batch) it is
    ``seed_generator`` itself.
    """
    return engine().replica_seed(seed_generator) if replicas().count > 1 else seed_generator


def prepare(model, sync_batch_norm=True):
    """Wire a compiled pretrainer to the engine's data-parallel run, if one is active.

    TensorFlow under a strategy with several replicas: batch norm layers synchronise their
    statistics over the replicas (unless ``sync_batch_norm=False``). Torch with an initialised
    process group of several ranks: every variable is broadcast from rank 0, gradients are
    summed over the ranks before each update, batch norm is synchronised likewise. Otherwise
    (JAX, one device) nothing changes.

    Args:
        model: a compiled `keras.Model`.
        sync_batch_norm: True: global batch statistics (as the official SimCLR's
            ``global_bn``); False: each replica normalises with its own batch's statistics.
    """
    engine().prepare(model, bool(sync_batch_norm))


def symbolic_build(model, iterator=None, data_batch=None):
    """Build a model under the TF trainer's strategy from the first replica's batch.

    Keras' own build first averages a distributed batch over the replicas, which fails on
    boolean inputs such as a padding mask ("AddN bool"); shapes are all a build needs.

    Returns:
        True when done; False when the trainer's own build must run (no strategy).
    """
    return bool(engine().symbolic_build(model, iterator, data_batch))


def step_logs(logs):
    """The logs a train or test step returns, shaped for the engine's reduction over replicas.

    The identity except under TensorFlow with several workers, where Keras reduces scalars
    along an axis they lack (tensorflow#72388).
    """
    return engine().step_logs(logs) if replicas().count > 1 else logs


def process_count():
    """Number of processes of the run (workers, ranks); 1 when not multi-process."""
    return int(engine().process_count())


def process_index():
    """This process's index in the run (0 is the chief)."""
    return int(engine().process_index())


def is_chief():
    """True in the one process that logs, checkpoints and saves presets (index 0)."""
    return process_index() == 0


def start():
    """Start the engine's usual data-parallel run, for everything built and fit afterwards.

    TensorFlow: ``MultiWorkerMirroredStrategy`` when ``TF_CONFIG`` is set, else
    ``MirroredStrategy`` over the local devices, made the current strategy
    (``tf.distribute.experimental_set_strategy``). Torch: ``init_process_group`` from the
    ``torchrun`` environment (gloo on CPU, nccl on GPU). JAX: ``keras.distribution.initialize``
    when ``KERAS_DISTRIBUTION_NUM_PROCESSES`` > 1, then `jax.DataParallel` over every device
    as the global distribution. Call it first, before building anything (JAX refuses to start
    several processes after its first computation).

    Returns:
        A one-line description of the run, e.g. ``"MirroredStrategy: 2 replicas"``.

    Example:
        >>> print(distribute.start())
        >>> pretrainer = SimCLRPretrainer(backbone)  # built and fit data-parallel
    """
    return engine().start()


def per_process_batch(global_batch):
    """The batch each process loads, for a global batch of ``global_batch`` examples.

    Raises ValueError, naming both numbers, when the global batch does not divide over the
    processes and devices of the run.
    """
    return engine().per_process_batch(int(global_batch))


def shard_batches(dataset):
    """This process's rows of every batch of ``dataset`` (see `ShardedBatches`).

    The dataset itself when the run has one process, or when the engine splits global
    batches itself (TensorFlow's strategies).
    """
    if process_count() == 1 or engine().SPLITS_GLOBAL_BATCH:
        return dataset
    return ShardedBatches(dataset, process_index(), process_count())


__all__ = [
    "Replicas",
    "ShardedBatches",
    "all_gather",
    "all_sum",
    "engine",
    "is_chief",
    "per_process_batch",
    "prepare",
    "process_count",
    "process_index",
    "replica_loss",
    "replica_seed",
    "replicas",
    "shard_batches",
    "shard_start",
    "start",
    "step_logs",
    "symbolic_build",
]
