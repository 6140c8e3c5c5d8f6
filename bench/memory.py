"""Step 7 of ``python -m bench.run``: memory across two create runs (tracemalloc, the emulator's own state, RSS),
and the check that the second run's app growth stays under a leak's size."""
from __future__ import annotations

import gc
import resource
import sys
import tracemalloc
from collections import deque
from typing import Any

from .common import meeting_body
from .steps import Checks, World, rss_kib, submit_all

# Second create run: what the app may keep. A leaked request alone is ~3 KiB of Python objects (a meeting more), so a
# leak shows as more than 0.5 KiB per meeting; one-off growth of caches, pools and dict tables is allowed up to 128 KiB.
MAX_APP_GROWTH_PER_MEETING = 512
ONE_OFF_GROWTH_ALLOWANCE = 128 * 1024


def max_rss_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


def retained_size(root: object) -> int:
    """Bytes held by root and everything it reaches through containers and localdev objects, each counted once.

    Used for the emulator's state: it runs in this process and keeps every meeting and request it saw (as Graph keeps
    them on Microsoft's side). Modules, functions, types and locks are counted but not followed."""
    seen: set[int] = set()
    stack, total = [root], 0
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        total += sys.getsizeof(obj)
        if isinstance(obj, dict):
            stack.extend(obj.keys())
            stack.extend(obj.values())
        elif isinstance(obj, (list, tuple, set, frozenset, deque)):
            stack.extend(obj)
        elif type(obj).__module__.startswith("localdev."):
            if hasattr(obj, "__dict__"):
                stack.append(obj.__dict__)
            stack.extend(getattr(obj, slot) for cls in type(obj).__mro__ for slot in getattr(cls, "__slots__", ())
                         if hasattr(obj, slot))
    return total


def bench_memory(world: World, n: int, checks: Checks) -> dict[str, Any]:
    """Two create runs of n new meetings each; what each left behind, per 1,000 meetings.

    tracemalloc (one frame: deeper tracebacks slow the run several-fold) gives the Python heap's growth and the run's
    peak; the emulator's part of the growth is its state's own size, so the app's part is the difference. RSS comes
    from getrusage (peak) and /proc (current); it includes the emulator's state and tracemalloc's bookkeeping."""
    state = world.emulator.state
    out: dict[str, Any] = {}
    app_growth = 0

    def per_1000(size: float) -> float:
        return round(size / 1024 * 1000 / n, 1)

    tracemalloc.start(1)
    try:
        for run in (1, 2):
            bodies = [meeting_body(f"bench-mem{run}-{i}", i) for i in range(n)]
            gc.collect()
            with state.lock:
                emulator0 = retained_size(state)
            heap0, _ = tracemalloc.get_traced_memory()
            overhead0 = tracemalloc.get_tracemalloc_memory()
            tracemalloc.reset_peak()
            rss0, max0 = rss_kib(), max_rss_kib()
            submit_all(world, bodies, "created", checks, f"memory run {run}")
            _, peak = tracemalloc.get_traced_memory()
            rss1, max1 = rss_kib(), max_rss_kib()
            gc.collect()
            heap1, _ = tracemalloc.get_traced_memory()
            overhead1 = tracemalloc.get_tracemalloc_memory()
            with state.lock:
                emulator1 = retained_size(state)
            heap, emulator = heap1 - heap0, emulator1 - emulator0
            app_growth = heap - emulator
            out[f"mem_run{run}_tracemalloc_peak_kib"] = round((peak - heap0) / 1024, 1)
            out[f"mem_run{run}_heap_growth_kib_per_1000"] = per_1000(heap)
            out[f"mem_run{run}_emulator_growth_kib_per_1000"] = per_1000(emulator)
            out[f"mem_run{run}_app_growth_kib_per_1000"] = per_1000(app_growth)
            out[f"mem_run{run}_tracemalloc_overhead_growth_kib_per_1000"] = per_1000(overhead1 - overhead0)
            out[f"mem_run{run}_maxrss_growth_kib_per_1000"] = per_1000((max1 - max0) * 1024)
            if rss0 is not None and rss1 is not None:
                out[f"mem_run{run}_rss_growth_kib_per_1000"] = per_1000((rss1 - rss0) * 1024)
    finally:
        tracemalloc.stop()
    limit = max(MAX_APP_GROWTH_PER_MEETING * n, ONE_OFF_GROWTH_ALLOWANCE)
    checks.expect("memory: the second run's app growth is under 0.5 KiB per meeting (128 KiB floor)",
                  app_growth < limit, f"{app_growth / 1024:.1f} KiB for {n} meetings, limit {limit / 1024:.0f} KiB")
    return out
