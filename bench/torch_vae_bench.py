"""PyTorch side of the VAE benchmark (bench/vae.ts): the seed's VAE on 28x28x1 images.

Usage: python3 bench/torch_vae_bench.py '<json config>'  -> JSON: images/s per batch size.
"""
import json
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

cfg = json.loads(sys.argv[1])
torch.set_num_threads(cfg["threads"])
torch.manual_seed(0)
D = 2


class VAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, padding=1)
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1, stride=2)
        self.conv3 = nn.Conv2d(64, 64, 3, padding=1)
        self.conv4 = nn.Conv2d(64, 64, 3, padding=1)
        self.fc = nn.Linear(64 * 14 * 14, 32)
        self.z_mean = nn.Linear(32, D)
        self.z_log_var = nn.Linear(32, D)
        self.dec_fc = nn.Linear(D, 64 * 14 * 14)
        self.deconv = nn.ConvTranspose2d(64, 32, 3, stride=2, padding=1, output_padding=1)
        self.dec_out = nn.Conv2d(32, 1, 3, padding=1)

    def loss(self, x):
        y = F.relu(self.conv1(x))
        y = F.relu(self.conv2(y))
        y = F.relu(self.conv3(y))
        y = F.relu(self.conv4(y))
        y = F.relu(self.fc(y.flatten(1)))
        mean, log_var = self.z_mean(y), self.z_log_var(y)
        z = mean + torch.exp(log_var / 2) * torch.randn_like(mean)
        d = F.relu(self.dec_fc(z)).reshape(-1, 64, 14, 14)
        logits = self.dec_out(F.relu(self.deconv(d)))
        rec = F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)
        kl = -0.5 * torch.sum(1 + log_var - mean ** 2 - log_var.exp(), dim=1)
        return (rec + kl).mean()


def make_step(batch):
    m = VAE()
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
