"""librosa as homage calls it: loaded once per process, its compiled kernels kept in numba's on-disk cache,
and loaded by one process of the machine at a time.

librosa compiles numba kernels when its modules load, several as cached gufuncs. Two processes that
compile the same cached gufuncs at once can leave a cache whose halves come from different compilations,
and every later process that loads it crashes (numba issue #10128) — as the two workers of a first
``index -j 2`` on a fresh install would. So the first process compiles and writes, the others wait and
then load what it wrote.
"""

from __future__ import annotations

import functools
import sys

from homage.locks import machine_lock


@functools.cache
def librosa():
    """The ``librosa`` module with every submodule homage uses loaded (under the machine-wide lock)."""
    import librosa

    with machine_lock("librosa"):
        for name in ("cqt", "estimate_tuning", "amplitude_to_db", "power_to_db", "note_to_hz"):
            getattr(librosa, name)  # librosa loads its submodules lazily: this loads (and compiles) them
        import librosa.feature
        import librosa.onset
        import librosa.util

        _import_beat_cached()
    return librosa


def _import_beat_cached() -> None:
    """Import ``librosa.beat`` with every numba function it compiles kept in the on-disk cache: librosa
    0.11 compiles one of them (``__beat_local_score``) with ``cache=False``, ≈ 3 s at every start of a
    process that tracks beats. The same code, cached, loads in milliseconds."""
    if "librosa.beat" in sys.modules:
        return
    import numba

    original = numba.guvectorize

    def cached(*args, **kwargs):
        return original(*args, **{**kwargs, "cache": True})

    numba.guvectorize = cached
    try:
        import librosa.beat  # noqa: F401
    finally:
        numba.guvectorize = original
