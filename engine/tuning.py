"""Process-level tuning for a long-running engine (used by the command line and benchmarks).

An engine run allocates many small, short-lived objects (events, messages) while
holding a large, stable set (config, the Textual app, imported modules).  With
CPython's default thresholds the cyclic garbage collector walks that stable set
again and again; freezing it after start-up and collecting the young generation
less often removes most of that cost (the Instagram approach).
"""

from __future__ import annotations

import gc

_tuned = False


def tune_gc() -> None:
    global _tuned
    if _tuned:
        return
    _tuned = True
    gc.collect()
    gc.freeze()  # what exists now (modules, config, the app) is never scanned again
    gc.set_threshold(50_000, 20, 100)
