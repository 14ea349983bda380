"""Writes test/golden/vae_small.pth (a seed-architecture VAE on 6x6 images, latent 3) and
vae.json (inputs, a fixed eps, and PyTorch's -ELBO terms per image), and the Gaussian
quantiles of the book's latent grid.

Run with Debian's PyTorch: /usr/bin/python3 test/golden/make_vae_golden.py
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench"))
from torch_models import VAE  # noqa: E402

torch.manual_seed(5)
C, H, W, D = 1, 6, 6, 3

m = VAE(C, H, W, D)
x = torch.rand(4, C, H, W)
eps = torch.randn(4, D)
with torch.no_grad():
    rec, kl, mean, log_var = m.terms(x, eps)
here = os.path.dirname(os.path.abspath(__file__))
torch.save(m.state_dict(), os.path.join(here, "vae_small.pth"))
p = torch.linspace(0.05, 0.95, 15, dtype=torch.float64)
quantiles = torch.distributions.Normal(torch.tensor(0.0, dtype=torch.float64), 1.0).icdf(p).tolist()
with open(os.path.join(here, "vae.json"), "w") as f:
    json.dump({"x": {"shape": list(x.shape), "data": x.flatten().tolist()},
               "eps": {"shape": list(eps.shape), "data": eps.flatten().tolist()},
               "mean": {"shape": list(mean.shape), "data": mean.flatten().tolist()},
               "log_var": {"shape": list(log_var.shape), "data": log_var.flatten().tolist()},
               "rec": rec.tolist(), "kl": kl.tolist(), "grid_quantiles_15": quantiles}, f)
print("wrote vae_small.pth and vae.json")
