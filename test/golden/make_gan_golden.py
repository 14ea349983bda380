"""Writes test/golden/frechet.json: two feature sets and their Fréchet distance computed by
PyTorch through the eigenvalues of S1 S2 (a different route from Loom's symmetric one).

Run with Debian's PyTorch: /usr/bin/python3 test/golden/make_gan_golden.py
"""
import json
import os
import sys

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


# The conditional dcgan networks (Loom's DcganGenerator / DcganDiscriminator with classes, the
# shared PyTorch references in bench/torch_models.py) on 16x16 images: the generator's images and
# the discriminator's logits in training mode (batch statistics), and the gradients of the
# logits' sum, from PyTorch with the same weights.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench"))
from torch_models import DcganDiscriminator, DcganGenerator  # noqa: E402

torch.manual_seed(12)
LATENT, CLASSES, GF, DF, N = 3, 4, 2, 2, 5
g, d = DcganGenerator(LATENT, GF, 1, 16, CLASSES), DcganDiscriminator(DF, 1, 16, CLASSES)
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
