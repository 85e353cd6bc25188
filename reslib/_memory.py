"""Give memory the process has freed back to the operating system.

TensorFlow builds a graph for every compiled model and frees it in many small blocks when the
model goes; glibc's allocator keeps such freed blocks in the process (about 200 MiB after a
100-layer net), so a notebook that trains one model after another grows towards Binder's 2 GB
limit although it holds little. ``release_freed_memory`` collects Python's garbage (Keras models
hold reference cycles) and asks glibc to return its free pages (``malloc_trim``).
"""

from __future__ import annotations

import ctypes
import gc
import sys


def release_freed_memory() -> bool:
    """Collect garbage and return freed heap memory to the OS.

    Returns:
        ``True`` when glibc's ``malloc_trim`` ran (Linux with glibc); ``False`` elsewhere, where
        only the garbage collection happened.
    """
    gc.collect()
    if not sys.platform.startswith("linux"):
        return False
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # musl and other C libraries have no malloc_trim
        return False
    return True
