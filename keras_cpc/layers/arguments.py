"""Checks of constructor arguments shared by the layers and models.

NumPy integers (``np.int64(10)``, what ``len``-free array code and ``np.unique`` give) are
accepted wherever Python ints are, and stored as Python ints so configs stay JSON-serialisable.
Booleans are refused: ``True`` is an ``int`` subclass but never a meaningful size.
"""

import numbers


def as_int(value, name, minimum=None):
    """``value`` as a Python int, or a ValueError saying what was expected and received.

    Args:
        value: a Python or NumPy integer (``numbers.Integral``, not bool).
        name: the argument's name, for the message.
        minimum: smallest accepted value, or None.

    Returns:
        int.

    Example:
        >>> import numpy as np
        >>> as_int(np.int64(10), "num_classes", minimum=1)
        10
    """
    if not isinstance(value, numbers.Integral) or isinstance(value, bool):
        expected = "an int" if minimum is None else f"an int >= {minimum}"
        raise ValueError(
            f"`{name}` must be {expected} (Python or NumPy integer); received {value!r} "
            f"of type {type(value).__name__}."
        )
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"`{name}` must be an int >= {minimum}; received {value!r}.")
    return value


def as_int_tuple(values, name, minimum=None):
    """A sequence of integers as a tuple of Python ints (each checked by `as_int`).

    Example:
        >>> as_int_tuple([5, 4, 2], "strides", minimum=1)
        (5, 4, 2)
    """
    try:
        items = list(values)
    except TypeError:
        raise ValueError(
            f"`{name}` must be a sequence of ints; received {values!r} of type "
            f"{type(values).__name__}."
        ) from None
    return tuple(as_int(v, f"{name}[{i}]", minimum) for i, v in enumerate(items))
