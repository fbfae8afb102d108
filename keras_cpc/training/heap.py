"""Keep freed memory in the process (glibc), for processes we own: no page faults per step.

A training step allocates and frees the same large tensors every step. glibc's malloc returns
freed memory at the top of its heap to the system once it exceeds a trim threshold, and serves
large blocks by ``mmap``; both then cost a page fault per 4 KiB page the next time that memory
is written. How often this happens depends on the order of a process's allocations, not on the
work: measured in one process on these 2-core CPUs (PyTorch, SimCLR step, ResNet-18 width 0.25,
batch 128), keras_cpc's step took 25,000-31,000 page faults (40-60 ms of system time, ~10% of
the step) where the same network in plain PyTorch took 600-900; with the thresholds fixed both
take none. PyTorch's CPU tuning guide recommends jemalloc or tcmalloc for the same reason.

`keep_freed_memory` sets glibc's ``mallopt`` so that every block comes from the main heap
(no ``mmap``: CPC's 50 MB score tensors are above glibc's largest mmap threshold, 32 MiB; and
one arena: glibc gives threads arenas of their own, whose heaps are unmapped when their blocks
are freed, whatever the trim threshold) and the heap is not trimmed below 2 GiB free, so freed
blocks are reused: the process keeps its peak heap instead of returning it between steps (what
a training process does anyway). On the CPC paper configuration
(`benchmarks/cpc_step.py --config paper`): on PyTorch the trivial-loss floor ran at 6.97
windows/s with glibc's defaults, 7.32 with a 32 MiB mmap threshold and 7.96 with no mmap; on
JAX, whose compiled steps allocate from XLA's worker threads, no mmap still took ~127,000 page
faults per step (0.22 s of system time), and one arena none: the floor 8.44 -> 9.63-9.97
windows/s. It applies to the whole process and every backend, and does nothing where the C
library is not glibc. Call it before the process starts its threads (an arena a thread already
has stays).
The same from outside a process (for your own scripts)::

    MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=2147483647 MALLOC_ARENA_MAX=1 python train.py

Example:
    >>> from keras_cpc.training.heap import keep_freed_memory
    >>> keep_freed_memory()  # True on glibc
    True
"""

import ctypes
import ctypes.util

# mallopt parameters (glibc's malloc.h).
M_TRIM_THRESHOLD = -1
M_MMAP_MAX = -4
M_ARENA_MAX = -8
# Trim the heap's top only past 2 GiB free (mallopt takes an int); no block from mmap (glibc
# then serves large blocks from the main heap, where freed ones are reused); every thread on
# the main heap's arena.
TRIM_THRESHOLD = 2**31 - 1
MMAP_MAX = 0
ARENA_MAX = 1


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
        True if the settings were made; False where the C library is not glibc or refused.

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
    mmap = libc.mallopt(M_MMAP_MAX, MMAP_MAX)
    arenas = libc.mallopt(M_ARENA_MAX, ARENA_MAX)
    return bool(trim) and bool(mmap) and bool(arenas)
