"""PyTorch side of the dream benchmark (bench/dream.ts): one DeepDream gradient step (loss on
Mixed_5d, 6a, 6b, 6c = Keras mixed2..mixed5 with the book's weights, gradient with respect to
the image, normalisation, update) on torchvision's InceptionV3 (random weights; the time does
not depend on them) at the given image size.

Usage: python3 bench/torch_dream_bench.py '<json config>'  -> JSON: {"ms_per_step": ...}
"""
import json
import sys

import torch
import torchvision
from torch_timing import median_ms

cfg = json.loads(sys.argv[1])
torch.set_num_threads(cfg["threads"])
torch.manual_seed(0)
net = torchvision.models.inception_v3(weights=None, aux_logits=False, init_weights=False).eval()
for p in net.parameters():
    p.requires_grad_(False)
stages = [net.Conv2d_1a_3x3, net.Conv2d_2a_3x3, net.Conv2d_2b_3x3, net.maxpool1, net.Conv2d_3b_1x1,
          net.Conv2d_4a_3x3, net.maxpool2, net.Mixed_5b, net.Mixed_5c, net.Mixed_5d, net.Mixed_6a,
          net.Mixed_6b, net.Mixed_6c]
weights = {9: 0.2, 10: 3.0, 11: 2.0, 12: 1.5}


def loss_of(x):
    loss = 0
    for i, s in enumerate(stages):
        x = s(x)
        if i in weights:
            inner = x[:, :, 2:-2, 2:-2]
            loss = loss + weights[i] * inner.pow(2).sum() / x.numel()
    return loss


img = torch.rand(1, 3, cfg["height"], cfg["width"]) * 2 - 1


def step():
    x = img.detach().requires_grad_(True)
    loss = loss_of(x)
    (g,) = torch.autograd.grad(loss, [x])
    g = g / g.abs().mean().clamp_min(1e-7)
    img.add_(g * 0.01)


if __name__ == "__main__":  # bench/torch_paired_worker.py imports the step functions above
    print(json.dumps({"ms_per_step": median_ms(step, cfg["steps"], cfg["warmup"])}))
