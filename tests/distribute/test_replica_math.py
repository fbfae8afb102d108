"""In-process checks of the data-parallel pieces (every backend, one device, no processes).

The per-replica losses are exact slices of the single-device computation: a replica's
NT-Xent logits and CPC scores are rows of the global batch's, and the replicas' CPC losses add
up to the global loss. On one device every `keras_cpc.distribute` function is the identity.
"""

import keras
import numpy as np
import pytest

from keras_cpc import distribute
from keras_cpc.distribute import ShardedBatches
from keras_cpc.losses import cpc_info_nce, cpc_scores, nt_xent_logits


def _np(x):
    return keras.ops.convert_to_numpy(x)


def test_one_device_is_the_identity():
    x = keras.ops.convert_to_tensor(np.arange(6.0, dtype="float32").reshape(3, 2))
    assert distribute.replicas() == (1, 0)
    assert distribute.all_gather(x) is x and distribute.all_sum(x) is x
    assert distribute.replica_loss(x) is x
    generator = keras.random.SeedGenerator(0)
    assert distribute.replica_seed(generator) is generator
    assert distribute.shard_start(3) == 0
    logs = {"loss": x[0, 0]}
    assert distribute.step_logs(logs) is logs
    assert distribute.process_count() == 1 and distribute.is_chief()


@pytest.mark.parametrize("replicas", [2, 3])
def test_replica_logits_are_rows_of_the_global_logits(replicas):
    rng = np.random.default_rng(0)
    n = 2 * replicas
    z_a, z_b = rng.normal(size=(2, n * replicas, 5)).astype("float32")
    logits, labels = (_np(t) for t in nt_xent_logits(z_a, z_b, 0.5))
    total = n * replicas
    for r in range(replicas):
        rows = list(range(r * n, (r + 1) * n)) + list(range(total + r * n, total + (r + 1) * n))
        local = slice(r * n, (r + 1) * n)
        mine, my_labels = nt_xent_logits(
            z_a[local], z_b[local], 0.5, candidates=(z_a, z_b), first=r * n
        )
        np.testing.assert_allclose(_np(mine), logits[rows], rtol=1e-6, atol=1e-6)
        np.testing.assert_array_equal(_np(my_labels), labels[rows])


def test_replica_cpc_scores_and_losses_add_up_to_the_global_ones():
    rng = np.random.default_rng(1)
    batch, frames, steps, dim, negatives = 4, 6, 2, 3, 5
    predictions = rng.normal(size=(batch, frames, steps, dim)).astype("float32")
    z = rng.normal(size=(batch, frames, dim)).astype("float32")
    mask = np.ones((batch, frames), bool)
    mask[3, 4:] = False  # a padded clip: fewer valid pairs on the second replica
    indices = rng.integers(0, batch * frames, (batch, frames, negatives)).astype("int32")
    full = cpc_scores(predictions, z, mask, indices)
    loss, _, weights = cpc_info_nce(full["scores"], full["pair_mask"])
    per_step_total = _np(weights).sum(axis=(0, 1))

    shares = []
    for first in (0, 2):  # two replicas of two clips
        rows = slice(first, first + 2)
        mine = cpc_scores(
            predictions[rows], z[rows], mask[rows], indices[rows],
            negatives_from=(z, mask), first_clip=first,
        )  # fmt: skip
        for key in ("scores", "pair_mask", "candidate_mask"):
            np.testing.assert_allclose(_np(mine[key]), _np(full[key])[rows], rtol=1e-6)
        share, _, _ = cpc_info_nce(
            mine["scores"], mine["pair_mask"], global_sum=lambda _: per_step_total
        )
        shares.append(float(_np(share)))
    assert sum(shares) == pytest.approx(float(_np(loss)), rel=1e-6)


def _batches(rows):
    class Batches(keras.utils.PyDataset):
        epochs = []

        def __len__(self):
            return 3

        def __getitem__(self, index):
            x = np.arange(rows * 2).reshape(rows, 2) + 100 * index
            return {"x": x, "mask": x > 3}, np.arange(rows)

        def set_epoch(self, epoch):
            self.epochs.append(epoch)

    return Batches()


def test_sharded_batches_keep_each_process_rows_and_pass_epochs_through():
    dataset = _batches(6)
    shards = [ShardedBatches(dataset, index, 3) for index in range(3)]
    assert len(shards[1]) == 3
    parts = [shard[1] for shard in shards]
    np.testing.assert_array_equal(np.concatenate([p[0]["x"] for p in parts]), dataset[1][0]["x"])
    np.testing.assert_array_equal(parts[2][1], [4, 5])
    shards[0].set_epoch(4)
    assert dataset.epochs == [4]
    assert distribute.shard_batches(dataset) is dataset  # one process: nothing to shard


def test_sharded_batches_refuse_a_batch_that_does_not_divide():
    with pytest.raises(ValueError, match="global batch of 5 examples does not divide over 2"):
        ShardedBatches(_batches(5), 0, 2)[0]
    with pytest.raises(ValueError, match="0 <= index < count"):
        ShardedBatches(_batches(4), 2, 2)
