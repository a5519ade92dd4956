"""Pausing Python's cyclic garbage collector around allocation-heavy builds.

Owns `gc_paused`: building a grammar from a large schema or compiling one allocates millions
of small objects (items, automaton states, tuples) that live until the build ends; the
collector would scan them over and over (half of a large schema's compile time). Nested and
concurrent pauses are counted: the collector resumes when the last one ends, if it was on.
"""
from __future__ import annotations

import contextlib
import gc
import threading
from typing import Iterator

_lock = threading.Lock()
_depth = 0
_was_enabled = False


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """The collector off for the duration of the block (back to how it was after the last)."""
    global _depth, _was_enabled
    with _lock:
        if _depth == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _was_enabled:
                gc.enable()
