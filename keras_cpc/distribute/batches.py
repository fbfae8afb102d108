"""`ShardedBatches`: one process's rows of every global batch (the distributed sampler)."""

import keras
import numpy as np


def _rows(structure, start, stop):
    if isinstance(structure, dict):
        return {key: _rows(value, start, stop) for key, value in structure.items()}
    if isinstance(structure, (list, tuple)):
        return type(structure)(_rows(value, start, stop) for value in structure)
    if structure is None:
        return None
    return structure[start:stop]


def _batch_size(structure):
    leaves = [structure]
    while leaves:
        leaf = leaves.pop(0)
        if isinstance(leaf, dict):
            leaves.extend(leaf.values())
        elif isinstance(leaf, (list, tuple)):
            leaves.extend(leaf)
        elif leaf is not None:
            return int(np.shape(leaf)[0])
    raise ValueError("Expected a batch holding at least one array; received only None.")


class ShardedBatches(keras.utils.PyDataset):
    """Process ``index`` of ``count`` gets rows ``[index * n, (index + 1) * n)`` of each batch.

    The wrapped dataset yields *global* batches (all processes build the same one, a pure
    function of its seed and epoch, as `keras_cpc.data`'s datasets do); each process keeps its
    contiguous ``n = global / count`` rows. The processes' shards then make up exactly the
    batch one device would see, so a data-parallel step matches the single-device step; and
    ``set_epoch`` (resumable runs) and ``on_epoch_end`` pass through. A torch
    ``DistributedSampler`` gives each rank a strided slice instead; contiguous shards keep
    the global batch in the single-device order.

    Args:
        dataset: a `keras.utils.PyDataset` of full global batches.
        index: this process's index (rank).
        count: number of processes.

    Example:
        >>> shard = ShardedBatches(batches, index=1, count=2)  # rank 1 of 2
        >>> x = shard[0]  # rows n..2n-1 of batches[0]
    """

    def __init__(self, dataset, index, count):
        super().__init__()
        if not 0 <= int(index) < int(count):
            raise ValueError(f"Expected 0 <= index < count; received index={index}, count={count}.")
        self.dataset, self.index, self.count = dataset, int(index), int(count)

    def __len__(self):
        return len(self.dataset)

    def __getitem__(self, position):
        batch = self.dataset[position]
        size = _batch_size(batch)
        if size % self.count:
            raise ValueError(
                f"The global batch of {size} examples does not divide over {self.count} "
                f"processes; use a global batch size that is a multiple of {self.count}."
            )
        rows = size // self.count
        return _rows(batch, self.index * rows, (self.index + 1) * rows)

    def set_epoch(self, epoch):
        """Forwarded to the wrapped dataset (the same epoch's order on every process)."""
        self.dataset.set_epoch(epoch)

    def on_epoch_end(self):
        self.dataset.on_epoch_end()
