"""Writes test/golden/gpt_small.pth (a 2-block character transformer: vocabulary 11, embedding
16, 2 heads, context 8) and gpt.json: input characters, PyTorch's output of every block, the
logits, the mean cross-entropy against the next characters, and the gradient of that loss with
respect to every parameter. The model is written the way nanoGPT writes it (pre-norm blocks,
causal masked softmax attention, GELU MLP, output tied to the token embedding), with the
parameter names Loom uses.

Run with Debian's PyTorch: /usr/bin/python3 test/golden/make_gpt_golden.py
"""
import json
import math
import os

import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(11)
V, E, H, LAYERS, BLOCK = 11, 16, 2, 2, 8


class Attention(nn.Module):
    def __init__(self):
        super().__init__()
        self.qkv = nn.Linear(E, 3 * E)
        self.proj = nn.Linear(E, E)
        self.register_buffer("mask", torch.tril(torch.ones(BLOCK, BLOCK)).view(1, 1, BLOCK, BLOCK), persistent=False)

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(E, dim=2)
        q = q.view(B, T, H, C // H).transpose(1, 2)
        k = k.view(B, T, H, C // H).transpose(1, 2)
        v = v.view(B, T, H, C // H).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(C // H))
        att = att.masked_fill(self.mask[:, :, :T, :T] == 0, float("-inf"))
        y = F.softmax(att, dim=-1) @ v
        return self.proj(y.transpose(1, 2).contiguous().view(B, T, C))


class Mlp(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(E, 4 * E)
        self.proj = nn.Linear(4 * E, E)

    def forward(self, x):
        return self.proj(F.gelu(self.fc(x)))


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln1 = nn.LayerNorm(E)
        self.attn = Attention()
        self.ln2 = nn.LayerNorm(E)
        self.mlp = Mlp()

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class GPT(nn.Module):
    def __init__(self):
        super().__init__()
        self.wte = nn.Embedding(V, E)
        self.wpe = nn.Embedding(BLOCK, E)
        self.blocks = nn.ModuleList([Block() for _ in range(LAYERS)])
        self.ln_f = nn.LayerNorm(E)

    def forward(self, ids):
        x = self.wte(ids) + self.wpe(torch.arange(ids.shape[1]))
        outs = []
        for b in self.blocks:
            x = b(x)
            outs.append(x)
        return F.linear(self.ln_f(x), self.wte.weight), outs


m = GPT()
with torch.no_grad():  # layer norms away from 1 and 0, so their parameters are tested too
    for name, p in m.named_parameters():
        if ".ln" in name or name.startswith("ln_f"):
            p.add_(0.1 * torch.randn_like(p))
ids = torch.randint(0, V, (2, BLOCK + 1))
x, y = ids[:, :-1], ids[:, 1:]
logits, outs = m(x[:, :7])  # shorter than the block: the mask is narrowed
logits, outs = m(x)
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
