"""Writes test/golden/gpt_small.pth (a 2-block character transformer: vocabulary 11, embedding
16, 2 heads, context 8) and gpt.json: input characters, PyTorch's output of every block, the
logits, the mean cross-entropy against the next characters, and the gradient of that loss with
respect to every parameter. The model is bench/torch_models.py's GPT, written the way nanoGPT
writes it (pre-norm blocks, causal masked softmax attention, GELU MLP, output tied to the token
embedding), with the parameter names Loom uses.

Run with Debian's PyTorch: /usr/bin/python3 test/golden/make_gpt_golden.py
"""
import json
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench"))
from torch_models import GPT  # noqa: E402

torch.manual_seed(11)
V, E, H, LAYERS, BLOCK = 11, 16, 2, 2, 8

m = GPT(V, E, H, LAYERS, BLOCK)
with torch.no_grad():  # layer norms away from 1 and 0, so their parameters are tested too
    for name, p in m.named_parameters():
        if ".ln" in name or name.startswith("ln_f"):
            p.add_(0.1 * torch.randn_like(p))
ids = torch.randint(0, V, (2, BLOCK + 1))
x, y = ids[:, :-1], ids[:, 1:]
logits = m(x[:, :7])  # shorter than the block: the mask is narrowed
outs = []
logits = m(x, outputs=outs)
loss = F.cross_entropy(logits.reshape(-1, V), y.reshape(-1))
loss.backward()
here = os.path.dirname(os.path.abspath(__file__))
torch.save(m.state_dict(), os.path.join(here, "gpt_small.pth"))
flat = lambda t: {"shape": list(t.shape), "data": t.detach().flatten().tolist()}
with open(os.path.join(here, "gpt.json"), "w") as f:
    json.dump({"config": {"vocab": V, "embed": E, "heads": H, "layers": LAYERS, "block": BLOCK},
               "ids": ids.flatten().tolist(),
               "blocks": [flat(o) for o in outs],
               "logits": flat(logits),
               "loss": loss.item(),
               "grads": {n: flat(p.grad) for n, p in m.named_parameters()}}, f)
print("wrote gpt_small.pth and gpt.json, loss", loss.item())
