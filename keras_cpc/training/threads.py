"""CPU threads of the backends, for processes we own (the ``keras-cpc`` command, the examples).

On a machine shared with other processes, the backends' default of one compute thread per core
costs more than it gains: PyTorch's OpenMP threads wait at a barrier in each of the ~3,000 ops
of a training step, and one descheduled thread stalls them all (up to 10x slower steps under
load; 2.4x faster with one thread). `set_threads` caps every runtime present in the process,
each by its own knob, and must run before the backend's first computation:

    PyTorch      ``torch.set_num_threads(n)`` (intra-op; OpenMP and MKL)
    TensorFlow   ``tf.config.threading``: n intra-op threads, one inter-op thread (one op at a
                 time, so n threads compute at most); refused once TensorFlow has run an op
    JAX          ``PJRT_NPROC=n``, which XLA's CPU client reads when JAX creates it (at the
                 first computation) to size its compute pools (``xla/pjrt/utils.cc``,
                 DefaultThreadPoolSize). ``XLA_FLAGS=--xla_cpu_multi_thread_eigen=false`` did
                 not: measured on JAX 0.10.2, a matmul loop still kept 4 threads busy.

plus ``OMP_NUM_THREADS`` / ``MKL_NUM_THREADS`` for libraries imported later. Nothing here
imports a backend: a runtime not imported yet gets the environment variables only.

Example:
    >>> from keras_cpc.training.threads import set_threads
    >>> set_threads(1)  # before the first model is built
"""

import os
import sys

# The environment variable `resolve_threads` falls back on (a number of threads).
THREADS_ENV = "KERAS_CPC_THREADS"


def resolve_threads(threads=None, environ=None):
    """The thread count asked for: ``threads``, else ``$KERAS_CPC_THREADS``, else None.

    Args:
        threads: the ``--threads`` value (None: not given).
        environ: the environment to read (None: ``os.environ``).

    Returns:
        An int >= 1, or None (leave the backends' defaults).

    Example:
        >>> resolve_threads(None, {"KERAS_CPC_THREADS": "2"})
        2
    """
    environ = os.environ if environ is None else environ
    source = "--threads"
    if threads is None:
        text = environ.get(THREADS_ENV, "").strip()
        if not text:
            return None
        threads, source = text, f"${THREADS_ENV}"
    try:
        count = int(threads)
    except (TypeError, ValueError):
        count = 0
    if count < 1 or str(count) != str(threads).strip():
        raise ValueError(f"Expected {source} to be a whole number >= 1; received {threads!r}.")
    return count


def _torch(count):
    import torch

    torch.set_num_threads(count)


def _tensorflow(count):
    import tensorflow as tf

    threading = tf.config.threading
    wanted = (count, 1)
    current = (
        threading.get_intra_op_parallelism_threads(),
        threading.get_inter_op_parallelism_threads(),
    )
    if current == wanted:
        return
    try:
        threading.set_intra_op_parallelism_threads(count)
        threading.set_inter_op_parallelism_threads(1)
    except RuntimeError as error:  # TensorFlow has run an op: its pools are fixed
        raise RuntimeError(
            f"Expected to set TensorFlow's threads to {count} before its first op; received a "
            f"runtime already started with (intra-op, inter-op) = {current} ({error}). Call "
            "set_threads before building or running any model."
        ) from error


def _jax_started():
    try:
        from jax._src import xla_bridge
    except ImportError:  # a JAX without this module: nothing to check
        return False
    started = getattr(xla_bridge, "backends_are_initialized", None)
    return bool(started and started())


def _jax(count):
    if _jax_started() and os.environ.get("PJRT_NPROC") != str(count):
        raise RuntimeError(
            f"Expected to set JAX's threads to {count} before its first computation; received "
            "a JAX whose CPU client already exists. Call set_threads before building or "
            "running any model."
        )


# Applied to each runtime already imported (the environment covers those imported later).
_RUNTIMES = {"torch": _torch, "tensorflow": _tensorflow, "jax": _jax}


def set_threads(threads):
    """Cap the CPU threads of every backend runtime of this process at ``threads``.

    Call it before the first model is built or run: TensorFlow fixes its pools at its first
    op and JAX at its first computation (a clear RuntimeError says so if it is too late);
    PyTorch takes it at any time.

    Args:
        threads: the number of compute threads (>= 1); None: ``$KERAS_CPC_THREADS`` when
            set, else nothing is changed (the backends' defaults: one thread per core).

    Returns:
        The count applied, or None.

    Example:
        >>> set_threads(1)
        1
        >>> import torch; torch.get_num_threads()  # doctest: +SKIP
        1
    """
    count = resolve_threads(threads)
    if count is None:
        return None
    for module, apply in _RUNTIMES.items():
        if module in sys.modules:
            apply(count)
    # Read when each library starts: covers a runtime (or BLAS) imported after this call.
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "PJRT_NPROC"):
        os.environ[name] = str(count)
    return count


def add_threads_flag(parser):
    """Add ``--threads N`` (default ``$KERAS_CPC_THREADS``, else one per core) to a parser.

    Apply the value with ``set_threads(args.threads)`` right after parsing.

    Example:
        >>> parser = argparse.ArgumentParser()
        >>> add_threads_flag(parser)
    """
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        metavar="N",
        help=f"CPU compute threads of the backend (default: ${THREADS_ENV}, else one per "
        "core); 1 is fastest on a machine busy with other work",
    )
