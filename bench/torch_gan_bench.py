"""PyTorch side of the GAN benchmark (bench/gan.ts): the book's Keras recipe's networks
(bench/torch_models.py) on 32x32x3 images, one training step (discriminator update, then
generator update through the frozen discriminator) at batch 20.

Usage: python3 bench/torch_gan_bench.py '<json config>'  -> JSON: {"ms_per_step": ...}
With LOOM_BENCH_PRECISION=bf16 each update's forward passes and loss run in an autocast region
of their own, as Loom's GanTrainer runs them, and bench/torch_paired_worker.py leaves the step
unwrapped (AUTOCAST_INSIDE). One region around the whole step would not train the generator:
libtorch 1.13's autocast caches the bf16 copies of weights cast under no_grad (the generator's
pass that makes the discriminator's fakes), and the generator update would reuse those copies,
which lead back to no parameter, so most of its gradients would be missing.
"""
import contextlib
import json
import os
import sys

import torch
import torch.nn.functional as F
from torch_models import KerasDiscriminator, KerasGenerator
from torch_timing import median_ms

cfg = json.loads(sys.argv[1])
torch.set_num_threads(cfg["threads"])
torch.manual_seed(0)
L, B, C, S = cfg["latent"], cfg["batch"], 3, 32

g, d = KerasGenerator(L, C), KerasDiscriminator(C)
opt_d = torch.optim.RMSprop(d.parameters(), lr=8e-4, alpha=0.9, eps=1e-7)
opt_g = torch.optim.RMSprop(g.parameters(), lr=4e-4, alpha=0.9, eps=1e-7)
real = torch.rand(B, C, S, S) * 2 - 1

AUTOCAST_INSIDE = True
if os.environ.get("LOOM_BENCH_PRECISION") == "bf16":

    def forwards():
        return torch.autocast("cpu", dtype=torch.bfloat16)

else:
    forwards = contextlib.nullcontext


def step():
    with forwards():
        with torch.no_grad():
            fake = g(torch.randn(B, L))
        labels = torch.cat([torch.ones(B, 1), torch.zeros(B, 1)]) + 0.05 * torch.rand(2 * B, 1)
        loss = F.binary_cross_entropy_with_logits(d(torch.cat([fake, real])), labels)
    opt_d.zero_grad()
    loss.backward()
    for p in d.parameters():
        p.grad.clamp_(-1, 1)
    opt_d.step()
    for p in d.parameters():
        p.requires_grad_(False)
    with forwards():
        a = F.binary_cross_entropy_with_logits(d(g(torch.randn(B, L))), torch.zeros(B, 1))
    opt_g.zero_grad()
    a.backward()
    for p in g.parameters():
        p.grad.clamp_(-1, 1)
    opt_g.step()
    for p in d.parameters():
        p.requires_grad_(True)


if __name__ == "__main__":  # bench/torch_paired_worker.py imports the step functions above
    print(json.dumps({"ms_per_step": median_ms(step, cfg["steps"], 1)}))
