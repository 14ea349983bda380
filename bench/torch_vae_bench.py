"""PyTorch side of the VAE benchmark (bench/vae.ts): the book's VAE (bench/torch_models.py) on 28x28x1 images.

Usage: python3 bench/torch_vae_bench.py '<json config>'  -> JSON: images/s per batch size.
"""
import json
import sys
import time

import torch

from torch_models import VAE

cfg = json.loads(sys.argv[1])
torch.set_num_threads(cfg["threads"])
torch.manual_seed(0)


def make_step(batch):
    m = VAE(1, 28, 28, 2)
    opt = torch.optim.RMSprop(m.parameters(), lr=1e-3)
    x = torch.rand(batch, 1, 28, 28)

    def step():
        loss = m.loss(x)
        opt.zero_grad()
        loss.backward()
        opt.step()

    return step


# One training step at cfg["batch"], for bench/torch_paired_worker.py.
step = make_step(cfg["batch"]) if "batch" in cfg else None

if __name__ == "__main__":
    out = {}
    for batch in cfg["batches"]:
        step = make_step(batch)
        for _ in range(3):
            step()
        n = max(3, cfg["images"] // batch)
        t = time.perf_counter()
        for _ in range(n):
            step()
        out[str(batch)] = n * batch / (time.perf_counter() - t)
    print(json.dumps(out))
