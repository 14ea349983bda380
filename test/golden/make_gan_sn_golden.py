"""Writes test/golden/gan_sn.json: the unlabelled GAN recipe's parts computed by PyTorch:
torch.nn.utils.spectral_norm on Linear, Conv2d and ConvTranspose2d (one power iteration from
given u and v in training, none in evaluation), the hinge losses, the R1 penalty through a small
discriminator (double backward), and DiffAugment's translation and cutout (the authors' code,
github.com/mit-han-lab/data-efficient-gans, with its random offsets given).

Run with Debian's PyTorch: /usr/bin/python3 test/golden/make_gan_sn_golden.py
"""
import json
import os

import torch
import torch.nn.functional as F

torch.manual_seed(21)
enc = lambda t: {"shape": list(t.shape), "data": t.detach().flatten().tolist()}
out = {}

# Spectral norm: each layer's weights, its u and v before, the output and the gradients of
# sum(output * r), the u and v after one step, and an evaluation-mode output.
layers = {
    "linear": (torch.nn.Linear(5, 3), torch.randn(4, 5)),
    "conv": (torch.nn.Conv2d(2, 3, 3, stride=2, padding=1), torch.randn(2, 2, 6, 6)),
    "convT": (torch.nn.ConvTranspose2d(3, 2, 4, stride=2, padding=1), torch.randn(2, 3, 3, 3)),
}
sn = {}
for name, (layer, x) in layers.items():
    weight, bias = layer.weight.detach().clone(), layer.bias.detach().clone()
    layer = torch.nn.utils.spectral_norm(layer)
    u0, v0 = layer.weight_u.clone(), layer.weight_v.clone()
    x.requires_grad_(True)
    y = layer(x)
    r = torch.randn_like(y)
    (y * r).sum().backward()
    layer.eval()
    with torch.no_grad():
        y_eval = layer(x)
    sn[name] = {
        "weight": enc(weight), "bias": enc(bias), "u0": enc(u0), "v0": enc(v0), "x": enc(x), "r": enc(r),
        "y": enc(y), "u1": enc(layer.weight_u), "v1": enc(layer.weight_v),
        "gradWeight": enc(layer.weight_orig.grad), "gradBias": enc(layer.bias.grad), "gradX": enc(x.grad),
        "yEval": enc(y_eval),
    }
out["spectral"] = sn

# Hinge losses of scores (high = real) and their gradients.
real = torch.randn(6, 1).mul(1.5).requires_grad_(True)
fake = torch.randn(6, 1).mul(1.5).requires_grad_(True)
d_loss = F.relu(1 - real).mean() + F.relu(1 + fake).mean()
d_loss.backward()
fake2 = fake.detach().clone().requires_grad_(True)
g_loss = -fake2.mean()
g_loss.backward()
out["hinge"] = {"real": enc(real), "fake": enc(fake), "dLoss": d_loss.item(), "gLoss": g_loss.item(),
                "gradReal": enc(real.grad), "gradFake": enc(fake.grad), "gradFakeG": enc(fake2.grad)}

# R1: gamma / 2 * mean over images of |d score / d image|^2, for conv(2->3, k3, s2, p1) ->
# leaky relu 0.2 -> linear(3*4*4 -> 1); the penalty's gradients with respect to the weights.
conv, fc = torch.nn.Conv2d(2, 3, 3, stride=2, padding=1), torch.nn.Linear(48, 1)
images = torch.randn(4, 2, 8, 8, requires_grad=True)
scores = fc(F.leaky_relu(conv(images), 0.2).flatten(1))
(g,) = torch.autograd.grad(scores.sum(), [images], create_graph=True)
GAMMA = 0.7
penalty = g.pow(2).flatten(1).sum(1).mean() * GAMMA / 2
penalty.backward()
out["r1"] = {"gamma": GAMMA, "images": enc(images),
             "conv": {"weight": enc(conv.weight), "bias": enc(conv.bias)},
             "fc": {"weight": enc(fc.weight), "bias": enc(fc.bias)},
             "penalty": penalty.item(),
             "grads": {"conv.weight": enc(conv.weight.grad), "conv.bias": enc(conv.bias.grad),
                       "fc.weight": enc(fc.weight.grad)}}


# DiffAugment (Zhao et al. 2020), its rand_translation and rand_cutout with the offsets passed in.
def rand_translation(x, translation_x, translation_y):
    grid_batch, grid_x, grid_y = torch.meshgrid(
        torch.arange(x.size(0), dtype=torch.long), torch.arange(x.size(2), dtype=torch.long),
        torch.arange(x.size(3), dtype=torch.long), indexing="ij")
    grid_x = torch.clamp(grid_x + translation_x + 1, 0, x.size(2) + 1)
    grid_y = torch.clamp(grid_y + translation_y + 1, 0, x.size(3) + 1)
    x_pad = F.pad(x, [1, 1, 1, 1, 0, 0, 0, 0])
    return x_pad.permute(0, 2, 3, 1).contiguous()[grid_batch, grid_x, grid_y].permute(0, 3, 1, 2)


def rand_cutout(x, offset_x, offset_y, ratio=0.5):
    cutout_size = int(x.size(2) * ratio + 0.5), int(x.size(3) * ratio + 0.5)
    grid_batch, grid_x, grid_y = torch.meshgrid(
        torch.arange(x.size(0), dtype=torch.long), torch.arange(cutout_size[0], dtype=torch.long),
        torch.arange(cutout_size[1], dtype=torch.long), indexing="ij")
    grid_x = torch.clamp(grid_x + offset_x - cutout_size[0] // 2, min=0, max=x.size(2) - 1)
    grid_y = torch.clamp(grid_y + offset_y - cutout_size[1] // 2, min=0, max=x.size(3) - 1)
    mask = torch.ones(x.size(0), x.size(2), x.size(3), dtype=x.dtype)
    mask[grid_batch, grid_x, grid_y] = 0
    return x * mask.unsqueeze(1)


N, H, W = 5, 8, 7
x = torch.randn(N, 2, H, W, requires_grad=True)
shift = lambda side: int(side * 0.125 + 0.5)
ty = torch.tensor([-1, 0, 1, 1, -1])  # the draws' range at this size: -1..1
tx = torch.tensor([1, -1, 0, 1, 1])
cy = torch.tensor([0, 8, 3, 5, 1])  # 0 .. H + (1 - s % 2), s = 4
cx = torch.tensor([6, 0, 2, 4, 3])  # 0 .. W + (1 - s % 2), s = 4 (round(3.5))
assert shift(H) == 1 and shift(W) == 1
moved = rand_translation(x, ty.view(-1, 1, 1), tx.view(-1, 1, 1))
y = rand_cutout(moved, cy.view(-1, 1, 1), cx.view(-1, 1, 1))
r = torch.randn_like(y)
(y * r).sum().backward()
out["augment"] = {"x": enc(x), "ty": ty.tolist(), "tx": tx.tolist(), "cy": cy.tolist(), "cx": cx.tolist(),
                  "moved": enc(moved), "y": enc(y), "r": enc(r), "gradX": enc(x.grad)}

path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "gan_sn.json")
with open(path, "w") as f:
    json.dump(out, f)
print("wrote", path)
