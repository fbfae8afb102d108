"""`EpochBatches`: the epoch bookkeeping that every resumable training dataset shares."""

import keras

from keras_cpc.data.splits import EpochOrders, full_batch_steps


class EpochBatches(keras.utils.PyDataset):
    """Full batches of rows in an order that is a pure function of ``(seed, epoch)``.

    The base of `ImageBatches` and `RandomWindows`: it owns the step count, the order of the
    current epoch, `set_epoch` (a resumed run jumps to its epoch) and ``on_epoch_end``
    (advances); a subclass only turns ``batch_rows(index)`` into a batch in ``__getitem__``.

    Args:
        count: number of items (images, clips).
        batch_size: items per batch (the last partial batch is dropped).
        steps_per_epoch: batches per epoch; None for one pass over the items.
        seed: seed of the orders (`keras_cpc.data.EpochOrders`).
        what: what the items are called in the error for too few of them ("images").
        **kwargs: `PyDataset` arguments (workers, use_multiprocessing, max_queue_size).

    Example:
        >>> class Rows(EpochBatches):
        ...     def __getitem__(self, index):
        ...         return (self.batch_rows(index),)
        >>> len(Rows(10, batch_size=4, seed=0))
        2
    """

    def __init__(self, count, batch_size, steps_per_epoch=None, seed=0, what="items", **kwargs):
        super().__init__(**kwargs)
        self.batch_size, self.seed = int(batch_size), seed
        self.steps = full_batch_steps(count, self.batch_size, steps_per_epoch, what)
        self._orders = EpochOrders(count, self.steps, self.batch_size, seed)
        self.set_epoch(0)

    def set_epoch(self, epoch):
        """Make the next batches those of epoch ``epoch`` (0-based)."""
        self.epoch = int(epoch)
        self.order = self._orders.order(self.epoch)

    def batch_rows(self, index):
        """The item indices of batch ``index`` of the current epoch."""
        return self.order[index * self.batch_size : (index + 1) * self.batch_size]

    def __len__(self):
        return self.steps

    def on_epoch_end(self):
        self.set_epoch(self.epoch + 1)
