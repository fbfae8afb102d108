"""tf.distribute wiring: replica-context all-gather, loss convention, synchronised batch norm.

Keras' TensorFlow trainer runs ``train_step`` once per replica (``strategy.run``) on the
replica's shard of the global batch, sums the replicas' gradients (all-reduce) and reports the
replicas' losses times their count, averaged. A replica that returns its share of the global
loss (the shares add up to the global loss) therefore reports the global loss and applies its
gradient: the single-device step on the same global batch.
"""

import json
import os

import keras
import tensorflow as tf

# tf.distribute splits each global batch over the replicas itself.
SPLITS_GLOBAL_BATCH = True


def _context():
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return None
    return context


def replicas():
    context = _context()
    if context is None:
        return 1, 0
    return context.num_replicas_in_sync, context.replica_id_in_sync_group


def all_gather(x):
    # The replica context's all_gather carries gradients: its gradient all-reduces (sums) the
    # upstream gradients of every replica and keeps this replica's rows. Collectives move
    # numbers, so booleans travel as int32.
    x = tf.convert_to_tensor(x)
    if x.dtype == tf.bool:
        return tf.cast(_context().all_gather(tf.cast(x, tf.int32), axis=0), tf.bool)
    return _context().all_gather(x, axis=0)


def all_sum(x):
    return _context().all_reduce(tf.distribute.ReduceOp.SUM, tf.stop_gradient(x))


def check_equal_shards(rows, count):
    sizes = all_gather(tf.reshape(tf.cast(rows, tf.int32), (1,)))
    tf.debugging.assert_equal(
        sizes,
        tf.fill((count,), sizes[0]),
        message=f"The global batch does not divide over {count} replicas: the replicas' "
        "batch sizes below differ. Use a global batch size that is a multiple of the number "
        "of replicas (and a number of examples that divides into full batches).",
        summarize=count,
    )


def replica_loss(share):
    return share


class _ReplicaSeed(keras.random.SeedGenerator):
    """Draws from ``base``'s state shifted by the replica id: a different stream per replica.

    A view: it owns no state variable (``__init__`` of SeedGenerator is not called), so the
    model's variables and checkpoints do not change.
    """

    def __init__(self, base, index):  # noqa: D107 - no super().__init__: no new variable
        self.base, self.index = base, index

    def next(self, ordered=True):
        seed = self.base.next(ordered=ordered)
        # A golden-ratio step in the key: streams that never meet in practice.
        step = tf.cast(self.index, seed.dtype) * tf.constant(0x9E3779B9, seed.dtype)
        shift = tf.stack([step, tf.zeros((), seed.dtype)])
        return seed + shift


def replica_seed(seed_generator):
    return _ReplicaSeed(seed_generator, _context().replica_id_in_sync_group)


def _strategy():
    if not tf.distribute.has_strategy():
        return None
    strategy = tf.distribute.get_strategy()
    return strategy if strategy.num_replicas_in_sync > 1 else None


def prepare(model, sync_batch_norm):
    if _strategy() is None:
        return
    for layer in model._flatten_layers(include_self=False, recursive=True):
        if isinstance(layer, keras.layers.BatchNormalization):
            # Read at call time: global batch statistics, all-reduced over the replicas.
            layer.synchronized = sync_batch_norm


def symbolic_build(model, iterator=None, data_batch=None):
    # Keras' TF trainer builds under a strategy from a first batch averaged over the replicas
    # (strategy.reduce "MEAN"), which fails on a boolean padding mask ("AddN bool"). The
    # shapes are all the build needs: take the first replica's values instead.
    strategy = getattr(model, "_distribute_strategy", None)
    if strategy is None:
        return False
    if iterator is not None:
        for _, _, batches in iterator:
            data_batch = keras.tree.map_structure(_first_replica, next(batches))
            break
    with strategy.scope():
        model._symbolic_build(data_batch=data_batch)
    return True


def _first_replica(value):
    if isinstance(value, tf.distribute.DistributedValues):
        return tf.distribute.get_strategy().experimental_local_results(value)[0]
    return value


def process_count():
    config = json.loads(os.environ.get("TF_CONFIG") or "{}")
    return max(1, sum(len(v) for k, v in config.get("cluster", {}).items() if k != "ps"))


def process_index():
    config = json.loads(os.environ.get("TF_CONFIG") or "{}")
    task = config.get("task", {})
    # The chief, when the cluster names one, is process 0; workers follow.
    offset = 1 if "chief" in config.get("cluster", {}) and task.get("type") == "worker" else 0
    return offset + int(task.get("index", 0))


def start():
    if tf.distribute.has_strategy():
        strategy = tf.distribute.get_strategy()
    elif os.environ.get("TF_CONFIG"):
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
    else:
        strategy = tf.distribute.MirroredStrategy()
    tf.distribute.experimental_set_strategy(strategy)
    name = type(strategy).__name__
    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        name = "MultiWorkerMirroredStrategy"  # whose class is CollectiveAllReduceStrategy
    return f"{name}: {strategy.num_replicas_in_sync} replicas"


def per_process_batch(global_batch):
    # tf.distribute splits the global batch itself; it must divide over every replica.
    strategy = _strategy() or tf.distribute.get_strategy()
    replicas = strategy.num_replicas_in_sync
    if global_batch % replicas:
        raise ValueError(
            f"The global batch of {global_batch} examples does not divide over {replicas} "
            f"replicas; use a multiple of {replicas}."
        )
    return global_batch


def step_logs(logs):
    # Keras' TF trainer reduces a step's logs with strategy.reduce("MEAN", axis=0) when the
    # strategy spans several workers, which fails on scalars ("Invalid reduction dimension 0",
    # tensorflow#72388). The logs are already global (metric variables sync on read): a
    # leading axis of 1 makes that mean the value itself.
    strategy = _strategy()
    multi_worker = getattr(getattr(strategy, "extended", None), "_in_multi_worker_mode", None)
    if strategy is None or not (multi_worker and multi_worker()):
        return logs
    return {key: tf.reshape(value, (1,)) for key, value in logs.items()}
