"""Clear errors for bad inputs to the backbones and tasks, raised before any tracing.

A failed check inside a traced ``call`` poisons a model on JAX: the trainer has taken the
variables' values out for the jitted function, the exception skips putting them back, and
every later call raises ``TypeError: 'NoneType' object is not callable``. So the models run
these checks at their entry points (``__call__``, ``predict``, ``encode``) on the inputs the
user gave, once, outermost first (`InputChecks`). Shape and dtype checks run on any input;
value checks (finite samples, pixel range) only on concrete values (NumPy arrays or eager
tensors), never on symbolic or traced tensors, and not in training calls (``training=True``):
a training step is the trainer's business (`keras.callbacks.TerminateOnNaN`).
"""

import contextlib
import threading

import keras
import numpy as np
from keras import ops

# One reader of static shapes for losses and models (models may import losses, not back).
from keras_cpc.losses.contrastive import static_shape  # noqa: F401

# int16 / int32 PCM samples are full-scale integers; dividing by these maps them to [-1, 1).
PCM_SCALES = {"int16": 32768.0, "int32": 2147483648.0}

_state = threading.local()


@contextlib.contextmanager
def _inputs_checked():
    # Calls nested inside a checked entry point (Task.call -> backbone.encode, the traced
    # predict step -> __call__) skip their own checks: the outermost call has done them.
    previous = getattr(_state, "checked", False)
    _state.checked = True
    try:
        yield
    finally:
        _state.checked = previous


def checking_inputs():
    """True unless an enclosing entry point has already checked these inputs."""
    return not getattr(_state, "checked", False)


def dtype_name(x):
    """Standard dtype name (``"float32"``, ``"int16"``, ...) of an array or tensor."""
    dtype = x.dtype if hasattr(x, "dtype") else np.asarray(x).dtype
    return keras.backend.standardize_dtype(dtype)


def value_summary(x):
    """``{"finite", "min", "max"}`` of concrete values, or None for symbolic / traced tensors.

    NumPy input is summarised with NumPy (no device copy); backend tensors with keras.ops,
    reduced to three scalars before leaving the device.
    """
    if isinstance(x, keras.KerasTensor):
        return None
    if not hasattr(x, "shape") or isinstance(x, np.ndarray):
        x = np.asarray(x)
        if x.size == 0:
            return None
        floating = np.issubdtype(x.dtype, np.floating)
        finite = bool(np.isfinite(x).all()) if floating else True
        if not finite:
            x = x[np.isfinite(x)]
            if x.size == 0:
                return {"finite": False, "min": float("nan"), "max": float("nan")}
        return {"finite": finite, "min": float(x.min()), "max": float(x.max())}
    try:
        values = ops.cast(ops.reshape(x, (-1,)), "float32")
        finite = ops.isfinite(values)
        kept = ops.where(finite, values, 0.0)
        summary = ops.stack([ops.cast(ops.all(finite), "float32"), ops.min(kept), ops.max(kept)])
        summary = ops.convert_to_numpy(summary)
    except Exception:
        # Traced (jax.jit, tf.function) or symbolic values cannot be read: no value checks.
        return None
    return {"finite": bool(summary[0]), "min": float(summary[1]), "max": float(summary[2])}


def is_array_like(x):
    """True for NumPy arrays, backend tensors and dicts of them (what predict can check)."""
    if isinstance(x, dict):
        return all(is_array_like(v) for v in x.values())
    return isinstance(x, np.ndarray) or (
        hasattr(x, "shape") and hasattr(x, "dtype") and not hasattr(x, "__next__")
    )


class InputChecks:
    """Mixin running ``self.check_inputs(inputs, check_values)`` before the model's entry points.

    Put it first among the bases (``class X(InputChecks, Backbone, keras.Model)``). Checks run
    once, at the outermost entry point: ``predict`` checks the whole array before tracing
    (datasets and generators are not inspected), ``__call__`` checks eager or symbolic inputs
    (value checks skipped when ``training=True``), and nested calls skip theirs.

    Example:
        >>> class MyBackbone(InputChecks, Backbone, keras.Model):
        ...     def check_inputs(self, inputs, check_values=True):
        ...         if len(inputs.shape) != 2:
        ...             raise ValueError(f"expected rank 2; received {inputs.shape}")
    """

    def check_inputs(self, inputs, check_values=True):
        """Raise a ValueError saying what was expected and received; subclasses implement."""
        raise NotImplementedError

    def __call__(self, *args, sample_rate=None, **kwargs):
        if sample_rate is not None:
            check_sample_rate(self, sample_rate)
        if not checking_inputs():
            return super().__call__(*args, **kwargs)
        inputs = args[0] if args else kwargs.get("inputs")
        self.check_inputs(inputs, check_values=kwargs.get("training") is not True)
        with _inputs_checked():
            return super().__call__(*args, **kwargs)

    def predict(self, x, *args, sample_rate=None, **kwargs):
        """`keras.Model.predict` after the input checks.

        Args:
            x: the inputs (checked when they are arrays or tensors, not datasets).
            sample_rate: audio models only: the rate of ``x`` in Hz, refused unless it is the
                model's (a raw array carries no rate, so this is the only way to catch
                audio at the wrong rate). ``None`` skips the check.
            *args, **kwargs: passed to `keras.Model.predict`.
        """
        if sample_rate is not None:
            check_sample_rate(self, sample_rate)
        if checking_inputs() and is_array_like(x):
            self.check_inputs(x, check_values=True)
            with _inputs_checked():
                return super().predict(x, *args, **kwargs)
        return super().predict(x, *args, **kwargs)


def run_checked(model, inputs, check_values, fn):
    """``fn()`` after ``model.check_inputs`` unless an enclosing call has checked already.

    For entry points other than ``__call__`` / ``predict``, such as a backbone's ``encode``.
    """
    if not checking_inputs():
        return fn()
    model.check_inputs(inputs, check_values=check_values)
    with _inputs_checked():
        return fn()


def check_backbone_modality(backbone, modality, owner):
    """Refuse a backbone declaring another kind of input (``backbone.modality``).

    Backbones that declare no ``modality`` are let through (user-defined backbones).

    Example:
        >>> check_backbone_modality(CPCBackbone(), "image", "ImageClassifier")  # ValueError
    """
    found = getattr(backbone, "modality", None)
    if found is not None and found != modality:
        raise ValueError(
            f"{owner} expected an {modality} backbone (modality {modality!r}); received "
            f"{type(backbone).__name__}, an {found} backbone (modality {found!r})."
        )


# ---- audio --------------------------------------------------------------------------------


def check_sample_rate(model, sample_rate):
    """Refuse audio at a rate other than the model's (``model.sample_rate`` or its backbone's).

    Example:
        >>> check_sample_rate(CPCBackbone(sample_rate=16000), 44100)  # ValueError
    """
    owner = type(model).__name__
    expected = getattr(model, "sample_rate", None)
    if expected is None:
        expected = getattr(getattr(model, "backbone", None), "sample_rate", None)
    if expected is None:
        raise ValueError(
            f"{owner} takes images, not audio: `sample_rate` applies to audio models only; "
            f"received sample_rate={sample_rate!r}."
        )
    if isinstance(sample_rate, bool) or not float(sample_rate) == int(expected):
        raise ValueError(
            f"This {owner} expects audio at {int(expected)} Hz; received audio at "
            f"{sample_rate} Hz. Resample it first (keras_cpc.data.resample)."
        )


def check_waveform_values(waveform, owner):
    """Non-finite samples are refused (they would give a NaN embedding without a word)."""
    summary = value_summary(waveform)
    if summary is not None and not summary["finite"]:
        raise ValueError(
            f"{owner} expects finite audio samples; received a waveform with NaN or infinite "
            "values. Check the decoder / resampler output (e.g. np.isfinite(waveform).all())."
        )


def check_waveform_dtype(waveform, owner):
    """Float samples in [-1, 1], or int16 / int32 PCM (converted by `pcm_to_float`)."""
    dtype = dtype_name(waveform)
    if "float" in dtype or dtype in PCM_SCALES:
        return
    raise ValueError(
        f"{owner} expects float audio samples in [-1, 1], or int16 / int32 PCM (divided by "
        f"2**15 / 2**31 inside the model); received dtype {dtype}. Convert first, e.g. "
        "waveform.astype('float32') / 32768 for 16-bit samples held in a wider int."
    )


def pcm_to_float(waveform):
    """int16 / int32 PCM -> float32 in [-1, 1) (x / 2**15, x / 2**31); floats pass through.

    The dtype is static, so this runs inside traced calls too.
    """
    dtype = dtype_name(waveform)
    if dtype in PCM_SCALES:
        return ops.cast(waveform, "float32") / PCM_SCALES[dtype]
    return waveform


# ---- images -------------------------------------------------------------------------------


def check_image_batch(images, image_shape, owner):
    """Rank 4, the expected channels, and the height and width fixed by ``image_shape``."""
    shape = static_shape(images)
    expected = "(batch, " + ", ".join("any" if d is None else str(d) for d in image_shape) + ")"
    if len(shape) != 4:
        hint = " Add a batch axis, e.g. images[None]." if len(shape) == 3 else ""
        raise ValueError(
            f"{owner} expects a batch of images of shape (batch, height, width, channels) = "
            f"{expected}; received rank {len(shape)} with shape {shape}.{hint}"
        )
    for axis, what in ((3, "channels"), (1, "height"), (2, "width")):
        want, got = image_shape[axis - 1], shape[axis]
        if want is not None and got is not None and want != got:
            raise ValueError(
                f"{owner} expects images of shape {expected} ({what} {want}); received "
                f"{what} {got} (shape {shape})."
            )


def check_pixel_values(images, pixel_scale, owner):
    """Finite pixels; and no float images in [0, 1] where [0, 1 / pixel_scale] is expected."""
    if "float" not in dtype_name(images):
        return
    summary = value_summary(images)
    if summary is None:
        return
    if not summary["finite"]:
        raise ValueError(f"{owner} expects finite pixel values; received NaN or infinite values.")
    top = 1.0 / pixel_scale if pixel_scale else float("inf")
    # A whole batch with max <= 1 in a model expecting [0, 255] is [0, 1] data, not dark images.
    if top > 1.5 and summary["min"] >= 0.0 and 0.0 < summary["max"] <= 1.0:
        raise ValueError(
            f"{owner} expects pixel values in [0, {top:g}] (it multiplies them by pixel_scale="
            f"{pixel_scale:g}); received float images with values in [0, 1] (max "
            f"{summary['max']:.3g}). Pass uint8 images or multiply by {top:g} first."
        )
