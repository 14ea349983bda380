"""PyTorch side of the style benchmark (bench/style.ts).

1. One loss-and-gradient evaluation of the book's Gatys loss on VGG19 (random weights; the
   time does not depend on them) at the given size: content on block5_conv2, Gram style on
   block1_conv1..block5_conv1, total variation; gradient with respect to the image.
2. One forward pass of the fast style network (Loom's StyleNet: reflection padding, instance
   norm, 5 residual blocks, nearest upsampling) on a 512x512 image.

Usage: python3 bench/torch_style_bench.py '<json config>'  -> JSON: {"ms_per_eval": ..., "ms_apply": ...}
"""
import json
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
from torch_timing import median_ms

cfg = json.loads(sys.argv[1])
torch.set_num_threads(cfg["threads"])
torch.manual_seed(0)
features = torchvision.models.vgg19(weights=None).features[:31].eval()  # up to block5_conv2's ReLU
for p in features.parameters():
    p.requires_grad_(False)
names = {1: "block1_conv1", 6: "block2_conv1", 11: "block3_conv1", 20: "block4_conv1", 29: "block5_conv1", 30: "block5_conv2"}
style_layers = ["block1_conv1", "block2_conv1", "block3_conv1", "block4_conv1", "block5_conv1"]
mean = torch.tensor([103.939, 116.779, 123.68]).view(1, 3, 1, 1)
H, W = cfg["height"], cfg["width"]


def feats(x255):
    x = x255.flip(1) - mean
    out = {}
    for i, layer in enumerate(features):
        x = layer(x)
        if i in names:
            out[names[i]] = x
    return out


def gram(x):
    f = x.reshape(x.shape[1], -1)
    return f @ f.t()


content = torch.rand(1, 3, H, W) * 255
style = torch.rand(1, 3, H, W) * 255
with torch.no_grad():
    ct = feats(content)["block5_conv2"]
    sg = [gram(feats(style)[l]) for l in style_layers]
x = content.clone().requires_grad_(True)


def evaluate():
    f = feats(x)
    loss = 0.025 * ((f["block5_conv2"] - ct) ** 2).sum()
    for l, g in zip(style_layers, sg):
        loss = loss + ((gram(f[l]) - g) ** 2).sum() / (4.0 * 9 * (H * W) ** 2) / len(style_layers)
    a = (x[:, :, :-1, :-1] - x[:, :, 1:, :-1]) ** 2
    b = (x[:, :, :-1, :-1] - x[:, :, :-1, 1:]) ** 2
    loss = loss + 1e-4 * ((a + b) ** 1.25).sum()
    (g,) = torch.autograd.grad(loss, [x])
    return loss.item()


class ConvLayer(nn.Module):
    def __init__(self, i, o, k, stride=1, up=False, norm=True, relu=True):
        super().__init__()
        self.pad, self.conv = nn.ReflectionPad2d(k // 2), nn.Conv2d(i, o, k, stride)
        self.norm = nn.InstanceNorm2d(o, affine=True) if norm else None
        self.up, self.relu = up, relu

    def forward(self, x):
        if self.up:
            x = F.interpolate(x, scale_factor=2, mode="nearest")
        x = self.conv(self.pad(x))
        if self.norm is not None:
            x = self.norm(x)
        return F.relu(x) if self.relu else x


class Residual(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.a, self.b = ConvLayer(c, c, 3), ConvLayer(c, c, 3, relu=False)

    def forward(self, x):
        return self.b(self.a(x)) + x


net = nn.Sequential(ConvLayer(3, 32, 9), ConvLayer(32, 64, 3, 2), ConvLayer(64, 128, 3, 2),
                    *[Residual(128) for _ in range(5)], ConvLayer(128, 64, 3, up=True),
                    ConvLayer(64, 32, 3, up=True), ConvLayer(32, 3, 9, norm=False, relu=False)).eval()
photo = torch.rand(1, 3, 512, 512)


def apply():
    with torch.no_grad():
        torch.sigmoid(net(photo))


if __name__ == "__main__":  # bench/torch_paired_worker.py imports the step functions above
    print(json.dumps({"ms_per_eval": median_ms(evaluate, cfg["evals"], 1), "ms_apply": median_ms(apply, cfg["applies"], 1)}))
