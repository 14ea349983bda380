"""Writes test/golden/frechet.json: two feature sets and their Fréchet distance computed by
PyTorch through the eigenvalues of S1 S2 (a different route from Loom's symmetric one).

Run with Debian's PyTorch: /usr/bin/python3 test/golden/make_gan_golden.py
"""
import json
import os

import torch

torch.manual_seed(11)
f1 = torch.randn(50, 4, dtype=torch.float64)
f2 = torch.randn(40, 4, dtype=torch.float64) @ torch.randn(4, 4, dtype=torch.float64) * 0.7 + 0.3


def stats(f):
    mu = f.mean(0)
    c = f - mu
    return mu, c.T @ c / (f.shape[0] - 1)


m1, s1 = stats(f1)
m2, s2 = stats(f2)
tr_sqrt = torch.linalg.eigvals(s1 @ s2).real.clamp(min=0).sqrt().sum()
fd = ((m1 - m2) ** 2).sum() + torch.trace(s1) + torch.trace(s2) - 2 * tr_sqrt
path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "frechet.json")
with open(path, "w") as f:
    json.dump({"f1": {"shape": [50, 4], "data": f1.flatten().tolist()},
               "f2": {"shape": [40, 4], "data": f2.flatten().tolist()},
               "fd": fd.item()}, f)
print("wrote", path, fd.item())
