"""Keep freed memory in the process (glibc), for processes we own: no page faults per step.

A training step allocates and frees the same large tensors every step. glibc's malloc returns
freed memory at the top of its heap to the system once it exceeds a trim threshold, and serves
large blocks by ``mmap``; both then cost a page fault per 4 KiB page the next time that memory
is written. How often this happens depends on the order of a process's allocations, not on the
work: measured in one process on these 2-core CPUs (PyTorch, SimCLR step, ResNet-18 width 0.25,
batch 128), keras_cpc's step took 25,000-31,000 page faults (40-60 ms of system time, ~10% of
the step) where the same network in plain PyTorch took 600-900; with the thresholds fixed both
take none. PyTorch's CPU tuning guide recommends jemalloc or tcmalloc for the same reason.

`keep_freed_memory` fixes the two thresholds with ``mallopt`` so that freed blocks are reused:
the process keeps its peak heap instead of returning it between steps (what a training process
does anyway). It applies to the whole process and every backend, and does nothing where the C
library is not glibc. The same from outside a process (for your own scripts)::

    MALLOC_TRIM_THRESHOLD_=2147483647 MALLOC_MMAP_THRESHOLD_=33554432 python train.py

Example:
    >>> from keras_cpc.training.heap import keep_freed_memory
    >>> keep_freed_memory()  # True on glibc
    True
"""

import ctypes
import ctypes.util

# mallopt parameters (glibc's malloc.h).
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
# Trim the heap's top only past 2 GiB free (mallopt takes an int); serve blocks up to 32 MiB
# (glibc's largest mmap threshold on 64-bit systems) from the heap, where freed ones are reused.
TRIM_THRESHOLD = 2**31 - 1
MMAP_THRESHOLD = 32 * 2**20


def _glibc():
    name = ctypes.util.find_library("c")
    if not name:
        return None
    try:
        libc = ctypes.CDLL(name)
    except OSError:
        return None
    # Only glibc has gnu_get_libc_version (musl and others have another mallopt or none).
    if not hasattr(libc, "gnu_get_libc_version") or not hasattr(libc, "mallopt"):
        return None
    return libc


def keep_freed_memory():
    """Make glibc's malloc keep and reuse freed memory instead of returning it each step.

    Returns:
        True if both thresholds were set; False where the C library is not glibc or refused.

    Example:
        >>> keep_freed_memory()
        True
    """
    libc = _glibc()
    if libc is None:
        return False
    libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    libc.mallopt.restype = ctypes.c_int
    trim = libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    mmap = libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)
    return bool(trim) and bool(mmap)
