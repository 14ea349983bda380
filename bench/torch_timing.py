"""Timing for the PyTorch sides of the benchmarks: one helper, so every script measures alike."""
import time


def median_ms(fn, runs, warmup):
    """Median wall time of fn() in milliseconds over `runs` calls, after `warmup` untimed ones."""
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        ts.append((time.perf_counter() - t) * 1000)
    return sorted(ts)[len(ts) // 2]
