"""Linear warmup then cosine decay, SimCLR's `WarmUpAndCosineDecay`."""

import math

import keras
from keras import ops


def scale_learning_rate(base_learning_rate, batch_size, scaling="linear"):
    """SimCLR's learning-rate scaling rule.

    Args:
        base_learning_rate: the flag value (0.3 with "linear", 0.075 with "sqrt" in the paper).
        batch_size: global batch size (number of images, not views).
        scaling: ``"linear"`` gives ``lr * batch_size / 256``, ``"sqrt"`` gives
            ``lr * sqrt(batch_size)`` (better for small batches, paper appendix B.1).

    Returns:
        float learning rate.
    """
    if scaling == "linear":
        return base_learning_rate * batch_size / 256.0
    if scaling == "sqrt":
        return base_learning_rate * math.sqrt(batch_size)
    raise ValueError(f'`scaling` must be "linear" or "sqrt"; received {scaling!r}.')


@keras.saving.register_keras_serializable(package="keras_cpc")
class WarmupCosineDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warmup from 0 to ``peak_learning_rate``, then cosine decay to ``final_learning_rate``.

    Args:
        peak_learning_rate: learning rate reached after warmup (already batch-scaled, see
            `scale_learning_rate`).
        warmup_steps: number of warmup steps (10 epochs in SimCLR).
        total_steps: total number of training steps; the rate is ``final_learning_rate``
            from then on.
        final_learning_rate: end of the cosine (0 in SimCLR).

    Example:
        >>> schedule = WarmupCosineDecay(peak_learning_rate=2.0, warmup_steps=10, total_steps=100)
        >>> float(schedule(10))
        2.0
    """

    def __init__(self, peak_learning_rate, warmup_steps, total_steps, final_learning_rate=0.0):
        if warmup_steps < 0 or total_steps <= 0 or warmup_steps > total_steps:
            raise ValueError(
                "Need 0 <= warmup_steps <= total_steps and total_steps > 0; received "
                f"warmup_steps={warmup_steps!r}, total_steps={total_steps!r}."
            )
        self.peak_learning_rate = float(peak_learning_rate)
        self.warmup_steps = int(warmup_steps)
        self.total_steps = int(total_steps)
        self.final_learning_rate = float(final_learning_rate)

    def __call__(self, step):
        step = ops.cast(step, "float32")
        peak, final = self.peak_learning_rate, self.final_learning_rate
        warmup = peak * step / max(self.warmup_steps, 1)
        decay_steps = max(self.total_steps - self.warmup_steps, 1)
        progress = ops.clip((step - self.warmup_steps) / decay_steps, 0.0, 1.0)
        cosine = final + (peak - final) * 0.5 * (1.0 + ops.cos(math.pi * progress))
        return ops.where(step < self.warmup_steps, warmup, cosine)

    def get_config(self):
        return {
            "peak_learning_rate": self.peak_learning_rate,
            "warmup_steps": self.warmup_steps,
            "total_steps": self.total_steps,
            "final_learning_rate": self.final_learning_rate,
        }
