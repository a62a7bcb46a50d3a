"""Process-wide allocator setting for CPU training: keep freed memory for reuse.

PyTorch's CPU tensors come from ``malloc``. glibc serves large requests (above a threshold
that tops out at 32 MiB) with fresh ``mmap`` pages and gives them back on ``free``, so every
large activation of every step is faulted in again page by page. ST-GCN training allocates
many such tensors (one ``(128, 256, 13, 25)`` float32 map is 42 MB): on the 2-core VM of
docs/benchmarks.md a fresh 42 MB ReLU output cost 30 ms against 4.5 ms into reused memory.

:func:`retain_freed_memory` tells glibc to serve everything from its heap and not to trim it,
so a training step reuses the previous step's memory. The maths is untouched; the cost is that
the process keeps its peak heap size until it exits, which is what a training run does anyway.
Call it at the start of a training process, not from a library that others import.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

__all__ = ["retain_freed_memory"]

# glibc <malloc.h> mallopt parameters
_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4
# largest value the C ``int`` argument takes: free heap top is kept up to 2 GiB
_MAX_TRIM_THRESHOLD = 2**31 - 1


def retain_freed_memory() -> bool:
    """Make glibc ``malloc`` reuse freed memory instead of unmapping it; process-wide.

    Returns:
        ``True`` when the setting took effect; ``False`` where the C library is not glibc (macOS,
        Windows, musl) and nothing was changed.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
        gnu_get_libc_version = libc.gnu_get_libc_version  # glibc only
    except (OSError, AttributeError):
        return False
    del gnu_get_libc_version
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    # no mmap-served chunks (so nothing is unmapped on free), and no trimming of the heap top
    return bool(mallopt(_M_MMAP_MAX, 0)) and bool(mallopt(_M_TRIM_THRESHOLD, _MAX_TRIM_THRESHOLD))
