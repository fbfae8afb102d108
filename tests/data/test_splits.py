"""Splits and epoch orders: the values below were computed with the functions of
examples/common.py that made the shipped presets' held-out splits; they must not move."""

import numpy as np
import pytest

from keras_cpc.data import splits


def test_stratified_holdout_is_unchanged():
    train, holdout = splits.stratified_holdout(np.arange(30) % 3, 0.2, seed=0)
    assert holdout.tolist() == [7, 12, 14, 17, 18, 28]
    assert sorted(train.tolist() + holdout.tolist()) == list(range(30))
    labels = np.array([0] * 7 + [1] * 3 + [2] * 11)
    assert splits.stratified_holdout(labels, 0.1, seed=0)[1].tolist() == [2, 8, 12]
    assert splits.stratified_holdout(labels, 0.5, seed=7)[1].tolist() == [
        0, 2, 5, 6, 7, 9, 11, 12, 13, 18, 19, 20
    ]  # fmt: skip
    with pytest.raises(ValueError, match=r"in \(0, 1\); received 1.5"):
        splits.stratified_holdout(labels, 1.5, seed=0)


def test_subset_and_parse_range():
    assert splits.subset(np.arange(100, 150), 5, seed=0).tolist() == [113, 115, 124, 129, 139]
    assert splits.subset(np.arange(4), 10, seed=0).tolist() == [0, 1, 2, 3]
    assert splits.subset(np.arange(4), None, seed=0).tolist() == [0, 1, 2, 3]
    assert splits.parse_range("5-9") == [5, 6, 7, 8, 9]
    assert splits.parse_range("3") == [3]
    assert splits.parse_range("5-7, 12,6") == [5, 6, 7, 12]
    with pytest.raises(ValueError, match="received 'a-b'"):
        splits.parse_range("a-b")
    with pytest.raises(ValueError, match="low-high; received '9-5'"):
        splits.parse_range("9-5")


def test_epoch_orders_follow_the_old_stream_and_jump_to_any_epoch():
    rng = np.random.default_rng(0)
    first = splits.epoch_order(rng, 10, 3, 4)
    assert first.tolist()[:10] == [4, 6, 2, 7, 3, 5, 9, 0, 8, 1] and len(first) == 20
    second = splits.epoch_order(rng, 10, 3, 4)
    orders = splits.EpochOrders(10, steps=3, batch_size=4, seed=0)
    np.testing.assert_array_equal(orders.order(1), second)
    np.testing.assert_array_equal(orders.order(0), first)  # going back replays
    np.testing.assert_array_equal(orders.order(1), second)
    assert splits.full_batch_steps(10, 4, None, "items") == 2
    assert splits.full_batch_steps(10, 4, 7, "items") == 7
    with pytest.raises(ValueError, match="batch size 4 but only 3 items"):
        splits.full_batch_steps(3, 4, None, "items")
