"""Serves one step function of a PyTorch benchmark script to bench/paired.ts, one call per
request, so that Loom and PyTorch can take turns on the same machine at the same moment.

Usage: python3 bench/torch_paired_worker.py <script module> <function> '<json config>'
With LOOM_BENCH_PRECISION=bf16 each call runs under torch.autocast("cpu", torch.bfloat16),
unless the script sets AUTOCAST_INSIDE: then it reads the variable and enters autocast itself.
Prints "ready" once the module is built and warmed up, then for each line read on stdin runs
the function once and prints its milliseconds.
"""
import importlib
import os
import sys
import time

module, function, cfg = sys.argv[1:4]
sys.argv = [module, cfg]  # the scripts read their configuration from argv[1]
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
script = importlib.import_module(module)
plain = getattr(script, function)
if os.environ.get("LOOM_BENCH_PRECISION") == "bf16" and not getattr(script, "AUTOCAST_INSIDE", False):
    import torch

    def step():
        with torch.autocast("cpu", dtype=torch.bfloat16):
            plain()
else:
    step = plain
step()
print("ready", flush=True)
for _ in sys.stdin:
    t = time.perf_counter()
    step()
    print((time.perf_counter() - t) * 1000, flush=True)
