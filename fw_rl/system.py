"""Process-level settings for fast CPU training."""

from __future__ import annotations

import ctypes
import sys

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3


def tune_malloc(threshold: int = 256 * 2**20) -> bool:
    """Let glibc reuse freed blocks up to ``threshold`` bytes instead of mapping fresh pages.

    A fast-weights core allocates a ``[B, H, H]`` memory per step; above glibc's default
    mmap threshold each one is mapped and page-faulted anew, which measured 4x slower per
    acting step at B=16, H=256 (benchmarks/RESULTS.md). Returns whether it applied (Linux
    with glibc only; elsewhere a no-op).
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        return bool(libc.mallopt(M_MMAP_THRESHOLD, threshold)) and bool(
            libc.mallopt(M_TRIM_THRESHOLD, 2 * threshold)
        )
    except (OSError, AttributeError):
        return False
