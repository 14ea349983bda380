"""PyTorch side of Loom's benchmarks: the same work as bench/engine.ts, printed as JSON.

Usage: python3 bench/torch_bench.py '<json config>'
"""
import json
import sys
import time

import torch
from torch_timing import median_ms

cfg = json.loads(sys.argv[1])
out = {"torch": torch.__version__}


for threads in cfg["threads"]:
    torch.set_num_threads(threads)
    r = {}
    # tiny op: per-call time of a 1-element add
    a = torch.ones(1)
    n = cfg["tiny_calls"]
    best = []
    for _ in range(5):
        t = time.perf_counter()
        for _ in range(n):
            a + a
        best.append((time.perf_counter() - t) / n)
    r["tiny_add_us"] = min(best) * 1e6
    # matmul GFLOP/s
    m = cfg["matmul_n"]
    x, y = torch.randn(m, m), torch.randn(m, m)
    for _ in range(3):
        x @ y
    r["matmul_gflops"] = 2 * m ** 3 / (median_ms(lambda: x @ y, 10, 0) / 1e3) / 1e9
    # the book's char LSTM (the keras recipe): one training step (forward, backward, RMSprop)
    c = cfg["char"]
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(c["symbols"], c["units"], batch_first=True)
    dense = torch.nn.Linear(c["units"], c["symbols"])
    params = list(lstm.parameters()) + list(dense.parameters())
    opt = torch.optim.RMSprop(params, lr=0.01)
    idx = torch.randint(0, c["symbols"], (c["batch"], c["maxlen"]))
    xs = torch.nn.functional.one_hot(idx, c["symbols"]).float()
    ys = torch.randint(0, c["symbols"], (c["batch"],))

    def step():
        out_, _ = lstm(xs)
        loss = torch.nn.functional.cross_entropy(dense(out_[:, -1]), ys)
        opt.zero_grad()
        loss.backward()
        opt.step()

    for _ in range(3):
        step()
    r["char_step_ms"] = median_ms(step, c["steps"], 0)
    out[str(threads)] = r

print(json.dumps(out))
