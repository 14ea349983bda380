"""Writes test/golden/vae_small.pth (a seed-architecture VAE on 6x6 images, latent 3) and
vae.json (inputs, a fixed eps, and PyTorch's -ELBO terms per image), and the Gaussian
quantiles of the seed's latent grid.

Run with Debian's PyTorch: /usr/bin/python3 test/golden/make_vae_golden.py
"""
import json
import os

import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(5)
C, H, W, D = 1, 6, 6, 3
h2, w2 = (H + 1) // 2, (W + 1) // 2
flat = 64 * h2 * w2


class VAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(C, 32, 3, padding=1)
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1, stride=2)
        self.conv3 = nn.Conv2d(64, 64, 3, padding=1)
        self.conv4 = nn.Conv2d(64, 64, 3, padding=1)
        self.fc = nn.Linear(flat, 32)
        self.z_mean = nn.Linear(32, D)
        self.z_log_var = nn.Linear(32, D)
        self.dec_fc = nn.Linear(D, flat)
        self.deconv = nn.ConvTranspose2d(64, 32, 3, stride=2, padding=1, output_padding=(1 - H % 2, 1 - W % 2))
        self.dec_out = nn.Conv2d(32, C, 3, padding=1)

    def terms(self, x, eps):
        y = F.relu(self.conv1(x))
        y = F.relu(self.conv2(y))
        y = F.relu(self.conv3(y))
        y = F.relu(self.conv4(y))
        y = F.relu(self.fc(y.flatten(1)))
        mean, log_var = self.z_mean(y), self.z_log_var(y)
        z = mean + torch.exp(log_var / 2) * eps
        d = F.relu(self.dec_fc(z)).reshape(-1, 64, h2, w2)
        logits = self.dec_out(F.relu(self.deconv(d)))
        rec = F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)
        kl = -0.5 * torch.sum(1 + log_var - mean ** 2 - log_var.exp(), dim=1)
        return rec, kl, mean, log_var


m = VAE()
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
