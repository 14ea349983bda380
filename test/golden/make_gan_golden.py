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


# The conditional dcgan networks (Loom's DcganGenerator / DcganDiscriminator with classes) on
# 16x16 images: the generator's images and the discriminator's logits in training mode (batch
# statistics), and the gradients of the logits' sum, from PyTorch with the same weights.
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(12)
LATENT, CLASSES, GF, DF, N = 3, 4, 2, 2, 5


class G(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(LATENT + CLASSES, 2 * GF * 16, bias=False)
        self.norm0 = nn.BatchNorm2d(2 * GF)
        self.up0 = nn.ConvTranspose2d(2 * GF, GF, 4, 2, 1, bias=False)
        self.norm1 = nn.BatchNorm2d(GF)
        self.up1 = nn.ConvTranspose2d(GF, 1, 4, 2, 1, bias=True)

    def forward(self, z, y):
        x = self.fc(torch.cat([z, F.one_hot(y, CLASSES).float()], 1)).view(-1, 2 * GF, 4, 4)
        x = F.relu(self.norm0(x))
        return torch.tanh(self.up1(F.relu(self.norm1(self.up0(x)))))


class D(nn.Module):
    def __init__(self):
        super().__init__()
        self.down0 = nn.Conv2d(1, DF, 4, 2, 1, bias=True)
        self.down1 = nn.Conv2d(DF, 2 * DF, 4, 2, 1, bias=False)
        self.norm1 = nn.BatchNorm2d(2 * DF)
        self.fc = nn.Linear(2 * DF * 16, 1)
        self.embed = nn.Linear(CLASSES, 2 * DF * 16, bias=False)  # Loom's layout: [features, classes]

    def forward(self, x, y):
        h = F.leaky_relu(self.norm1(self.down1(F.leaky_relu(self.down0(x), 0.2))), 0.2).flatten(1)
        return self.fc(h) + (self.embed(F.one_hot(y, CLASSES).float()) * h).sum(1, keepdim=True)


g, d = G(), D()
for m in (g, d):
    with torch.no_grad():
        for p in m.parameters():
            p.normal_(0, 0.3)  # larger than the recipe's 0.02, so every term shows in the outputs
z = torch.randn(N, LATENT)
y = torch.tensor([0, 3, 1, 3, 2])
img = g(z, y)
logit = d(img.detach(), y)
logit.sum().backward()
enc = lambda t: {"shape": list(t.shape), "data": t.detach().flatten().tolist()}
out = {
    "latent": LATENT, "classes": CLASSES, "gFilters": GF, "dFilters": DF,
    "z": enc(z), "labels": y.tolist(),
    "g": {k: enc(v) for k, v in g.state_dict().items() if "num_batches" not in k},
    "d": {k: enc(v) for k, v in d.state_dict().items() if "num_batches" not in k},
    "images": enc(img), "logits": enc(logit),
    "grads": {k: enc(p.grad) for k, p in d.named_parameters()},
}
path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "dcgan_conditional.json")
with open(path, "w") as f:
    json.dump(out, f)
print("wrote", path)
