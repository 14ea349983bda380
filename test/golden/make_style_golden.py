# Reference values for the style losses (test/style.test.ts), from PyTorch 1.13, following the
# book's Keras code: content Σ(C−G)², Gram F·Fᵀ, style Σ(S−C)²/(4·3²·size²) with size the image's
# height×width, total variation Σ((a²+b²)^1.25), each with its gradient.
# Run: /usr/bin/python3 test/golden/make_style_golden.py
import json, os
import torch

torch.manual_seed(0)
enc = lambda t: {"shape": list(t.shape), "data": t.detach().flatten().double().tolist()}
content = torch.randn(1, 8, 5, 6)
generated = torch.randn(1, 8, 5, 6, requires_grad=True)
style_act = torch.randn(1, 8, 5, 6)
image = (torch.rand(1, 3, 7, 9) * 255).requires_grad_(True)
size = 20 * 30  # the generated image's height × width the loss is normalised by


def gram(x):
    f = x.reshape(x.shape[1], -1)
    return f @ f.t()


c = ((generated - content) ** 2).sum()
gc, = torch.autograd.grad(c, generated)
s = ((gram(style_act) - gram(generated)) ** 2).sum() / (4.0 * 9 * size ** 2)
gs, = torch.autograd.grad(s, generated)
h, w = image.shape[2], image.shape[3]
a = (image[:, :, :h - 1, :w - 1] - image[:, :, 1:, :w - 1]) ** 2
b = (image[:, :, :h - 1, :w - 1] - image[:, :, :h - 1, 1:]) ** 2
tv = ((a + b) ** 1.25).sum()
gtv, = torch.autograd.grad(tv, image)
out = {
    "content": enc(content), "generated": enc(generated), "style_act": enc(style_act), "image": enc(image), "size": size,
    "content_loss": c.item(), "content_grad": enc(gc), "gram": enc(gram(style_act)),
    "style_loss": s.item(), "style_grad": enc(gs), "tv_loss": tv.item(), "tv_grad": enc(gtv),
}
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "style_golden.json"), "w") as f:
    json.dump(out, f)
