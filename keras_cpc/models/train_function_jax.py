"""JAX: the compiled training step takes and returns the model's variables in path order.

XLA's CPU compiler schedules a program, and assigns its buffers, by heuristics that depend on
the order of the program's parameters and outputs. Keras passes a model's variables to its
compiled step in layer order. For SimCLR's ResNet-18 at width 0.25, XLA then reuses the
backward's buffers so tightly that each weight-gradient convolution (one core each) waits for
the previous one; with the variables sorted by path, the order a Flax model's parameters have,
it runs them side by side on both cores, as it does for the Flax step. `benchmarks/peers.py
--backend jax --benchmarks simclr --width 0.25 --rounds 10` gave 0.95x and 0.98x of Flax's
pairs/s this way, against 0.91x and 0.93x in Keras' order the same day; at width 1.0 (where
the order made no difference) 1.03x. The step computes the same thing; only its boundary is
reordered: ``train_function`` takes and returns the state in Keras' order, as Keras' own does.
"""

import jax
import keras


def _path_order(variables):
    return sorted(range(len(variables)), key=lambda index: variables[index].path)


def _apply(values, order):
    return [values[index] for index in order]


def _restore(values, order):
    restored = [None] * len(order)
    for position, index in enumerate(order):
        restored[index] = values[position]
    return restored


def make_train_function(model, force=False):
    """Keras' ``train_function`` contract, compiled with the variables in path order.

    Returns False (nothing built) where Keras' own applies: eager or uncompiled steps, a
    `keras.distribution` (its shardings follow Keras' order), Flax NNX models.
    """
    if model.train_function is not None and not force:
        return True
    if (
        model.run_eagerly
        or not model.jit_compile
        or keras.distribution.distribution() is not None
        or keras.config.is_nnx_enabled()
        or not hasattr(model, "_make_function")
    ):
        return False
    orders = (_path_order(model.trainable_variables), _path_order(model.non_trainable_variables))

    def reorder(state, arrange):
        trainable, non_trainable, *rest = state
        return (arrange(trainable, orders[0]), arrange(non_trainable, orders[1]), *rest)

    def sorted_step(state, data):
        logs, state = model.train_step(reorder(state, _restore), data)
        return logs, reorder(state, _apply)

    compiled = jax.jit(sorted_step, donate_argnums=0)

    def train_step(state, data):
        logs, state = compiled(reorder(state, _apply), data)
        return logs, reorder(state, _restore)

    model.train_function = model._make_function(train_step)
    return True
