"""PyTorch: Keras' own training step, once the optimizer's slots share their variables' layout.

Convolution kernels are stored in the order torch's channels-last convolution reads
(`keras_cpc.layers.native_layout_torch.prepare_conv2d`); the optimizer's slots, created later
by Keras in default order, are given the same strides so that its multi-tensor update keeps
torch's fast path (`match_slot_layouts`). The step itself is Keras'.
"""

from keras_cpc.layers.native_layout_torch import match_slot_layouts


def make_train_function(model, force=False):
    """Match the optimizer's slot layouts; return False so that Keras builds its own step.

    Only when the step is (re)built: Keras asks for it before every ``train_on_batch``, and
    the optimizer is built by then (`fit` and `train_on_batch` build it first).
    """
    optimizer = getattr(model, "optimizer", None)
    if (model.train_function is None or force) and optimizer is not None:
        match_slot_layouts(optimizer)
    return False
