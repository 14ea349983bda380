"""Writes test/golden/autocast.json: ops under CPU autocast (bfloat16) in PyTorch.

Run with Debian's PyTorch: /usr/bin/python3 test/golden/make_autocast_golden.py
Outputs record their dtype; values are stored as float32. Inputs are stored beside them.
"""
import json
import os

import torch
import torch.nn.functional as F

torch.manual_seed(0)
torch.set_num_threads(1)


def enc(t):
    t = t.detach()
    return {"shape": list(t.shape), "dtype": str(t.dtype).replace("torch.", ""), "data": t.float().flatten().tolist()}


x = torch.randn(4, 6)
w = torch.randn(5, 6).requires_grad_()
b = torch.randn(5).requires_grad_()
m = torch.randn(5, 3)
img = torch.randn(2, 3, 6, 6)
cw = torch.randn(4, 3, 3, 3).requires_grad_()
cb = torch.randn(4).requires_grad_()
target = torch.tensor([0, 2, 1, 2])

with torch.autocast("cpu", dtype=torch.bfloat16):
    lin = F.linear(x, w, b)
    prod = lin.matmul(m)
    logp = F.log_softmax(prod, 1)
    loss = F.cross_entropy(prod, target)
    conv = F.conv2d(img, cw, cb, stride=1, padding=1)
    total = loss + conv.float().square().mean()
total.backward()

out = {"x": enc(x), "w": enc(w), "b": enc(b), "m": enc(m), "img": enc(img), "cw": enc(cw), "cb": enc(cb),
       "target": target.tolist(),
       "linear": enc(lin), "matmul": enc(prod), "log_softmax": enc(logp), "loss": enc(loss), "conv2d": enc(conv),
       "total": enc(total), "dw": enc(w.grad), "db": enc(b.grad), "dcw": enc(cw.grad), "dcb": enc(cb.grad),
       "torch": torch.__version__}
with open(os.path.join(os.path.dirname(__file__), "autocast.json"), "w") as f:
    json.dump(out, f)
print({k: v["dtype"] for k, v in out.items() if isinstance(v, dict)})
