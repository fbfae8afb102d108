"""Settings a process that trains, extracts or probes makes first, in one call.

`prepare_process` caps the backends' CPU threads (`set_threads`: ``--threads`` /
``$KERAS_CPC_THREADS``) and makes glibc keep freed memory (`keep_freed_memory`). The example
scripts, the run flags and ``keras-cpc extract`` / ``probe`` call it before any model exists:
TensorFlow and JAX fix their thread pools at first use, and glibc's arena limit holds only for
threads that have no arena yet.
"""

from keras_cpc.training.heap import keep_freed_memory
from keras_cpc.training.threads import set_threads


def prepare_process(threads=None):
    """Keep freed memory, then cap the CPU threads of every backend at ``threads``.

    Args:
        threads: compute threads (>= 1), or None for ``$KERAS_CPC_THREADS`` when set, else the
            backends' defaults (one thread per core).

    Returns:
        The thread count applied, or None.

    Example:
        >>> prepare_process(threads=None)  # before any model is built
    """
    keep_freed_memory()
    return set_threads(threads)
