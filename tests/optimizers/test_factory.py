"""make_optimizer: each name builds what it says; unknown names and Adam with decay refused."""

import keras
import pytest

from keras_cpc.optimizers import (
    LARS,
    OPTIMIZERS,
    MomentumSGD,
    WarmupCosineDecay,
    default_learning_rate,
    make_optimizer,
)


def test_each_name_builds_the_optimizer_it_names():
    schedule = WarmupCosineDecay(1e-3, 1, 10)
    adamw = make_optimizer("adamw", schedule, weight_decay=1e-4)
    # isinstance: the torch backend builds its own subclasses.
    assert isinstance(adamw, keras.optimizers.AdamW) and adamw.weight_decay == 1e-4
    adam = make_optimizer("adam", schedule)
    assert isinstance(adam, keras.optimizers.Adam) and not adam.weight_decay
    assert not isinstance(adam, keras.optimizers.AdamW)
    lars = make_optimizer("lars", 0.1, weight_decay=1e-6)
    assert isinstance(lars, LARS) and lars.lars_weight_decay == 1e-6 and lars.momentum == 0.9
    sgd = make_optimizer("sgd", 0.1, weight_decay=0.0)
    assert isinstance(sgd, MomentumSGD) and sgd.momentum == 0.9 and not sgd.l2_weight_decay
    assert make_optimizer("sgd", 0.1).l2_weight_decay == 5e-4  # the SGD recipe's
    assert make_optimizer("adamw", 1e-3).weight_decay == 1e-6  # the shipped recipes' default


def test_bad_names_and_values_are_refused_clearly():
    with pytest.raises(ValueError, match=r"optimizer name in \('adamw'.*received 'rmsprop'"):
        make_optimizer("rmsprop", 1e-3)
    with pytest.raises(ValueError, match="no weight decay for plain Adam.*'adamw'"):
        make_optimizer("adam", 1e-3, weight_decay=1e-6)
    with pytest.raises(ValueError, match="weight decay >= 0; received -1"):
        make_optimizer("sgd", 1e-3, weight_decay=-1)


def test_default_learning_rates_follow_the_scaling_rules():
    assert default_learning_rate("adamw", 256) == pytest.approx(1e-3)
    assert default_learning_rate("adam", 128) == pytest.approx(5e-4)
    assert default_learning_rate("lars", 512) == pytest.approx(0.075 * 512**0.5)
    assert default_learning_rate("sgd", 512) == pytest.approx(0.06 * 2)
    assert set(OPTIMIZERS) == {"adamw", "adam", "lars", "sgd"}
