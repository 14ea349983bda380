"""PyTorch side of the transformer benchmark (bench/gpt.ts): the same character GPT.

Usage: python3 bench/torch_gpt_bench.py '<json config>'
Prints JSON: the median training step (AdamW, gradient clipping at 1) and generation speed at
batch 1, with a key/value cache and without one (the whole context re-read per character),
with Loom's context policy (when the context fills the block it restarts from its last half).
"""
import json
import math
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch_timing import median_ms

cfg = json.loads(sys.argv[1])
torch.set_num_threads(cfg["threads"])
torch.manual_seed(0)
V, E, H, LAYERS, BLOCK, B = cfg["vocab"], cfg["embed"], cfg["heads"], cfg["layers"], cfg["block"], cfg["batch"]
FUTURE = torch.tril(torch.ones(BLOCK, BLOCK)) == 0


class Attention(nn.Module):
    def __init__(self):
        super().__init__()
        self.qkv = nn.Linear(E, 3 * E)
        self.proj = nn.Linear(E, E)

    def forward(self, x, cache=None, layer=0, start=0):
        b, t, c = x.shape
        q, k, v = (z.view(b, t, H, c // H).transpose(1, 2) for z in self.qkv(x).split(E, dim=2))
        if cache is not None:
            cache[0][layer][:, :, start:start + t] = k
            cache[1][layer][:, :, start:start + t] = v
            k, v = cache[0][layer][:, :, :start + t], cache[1][layer][:, :, :start + t]
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(c // H))
        if t > 1:
            att = att.masked_fill(FUTURE[start:start + t, :start + t], float("-inf"))
        y = F.softmax(att, dim=-1) @ v
        return self.proj(y.transpose(1, 2).reshape(b, t, c))


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln1, self.attn, self.ln2 = nn.LayerNorm(E), Attention(), nn.LayerNorm(E)
        self.fc, self.proj = nn.Linear(E, 4 * E), nn.Linear(4 * E, E)

    def forward(self, x, cache, layer, start):
        x = x + self.attn(self.ln1(x), cache, layer, start)
        return x + self.proj(F.gelu(self.fc(self.ln2(x))))


class GPT(nn.Module):
    def __init__(self):
        super().__init__()
        self.wte, self.wpe = nn.Embedding(V, E), nn.Embedding(BLOCK, E)
        self.blocks = nn.ModuleList([Block() for _ in range(LAYERS)])
        self.ln_f = nn.LayerNorm(E)

    def forward(self, ids, cache=None, start=0):
        x = self.wte(ids) + self.wpe(torch.arange(start, start + ids.shape[1]))
        for i, b in enumerate(self.blocks):
            x = b(x, cache, i, start)
        return F.linear(self.ln_f(x), self.wte.weight)


model = GPT()
decay = [p for p in model.parameters() if p.dim() >= 2]
rest = [p for p in model.parameters() if p.dim() < 2]
opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": rest, "weight_decay": 0.0}],
                        lr=1e-3, betas=(0.9, 0.99))
ids = torch.randint(0, V, (B, BLOCK + 1))


def train_step():
    logits = model(ids[:, :BLOCK])
    loss = F.cross_entropy(logits.reshape(-1, V), ids[:, 1:].reshape(-1))
    opt.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()


if __name__ == "__main__":  # bench/torch_paired_worker.py imports train_step above
    res = {"train_step_ms": median_ms(train_step, cfg["steps"], 3)}


    def generate(n, cached):
        model.eval()
        hd = E // H
        with torch.no_grad():
            context = torch.randint(0, V, (60,)).tolist()
            cache = ([torch.zeros(1, H, BLOCK, hd) for _ in range(LAYERS)],
                     [torch.zeros(1, H, BLOCK, hd) for _ in range(LAYERS)]) if cached else None
            length = 0

            def read(reset):
                nonlocal length
                if reset or not cached:
                    length = 0
                    x = torch.tensor([context])
                else:
                    x = torch.tensor([context[-1:]])
                logits = model(x, cache, length)[:, -1] if cached else model(x)[:, -1]
                length += x.shape[1]
                return logits

            logits = read(True)
            for _ in range(n):
                c = torch.multinomial(F.softmax(logits, dim=-1), 1).item()
                context.append(c)
                full = len(context) > BLOCK
                if full:
                    context = context[len(context) - (BLOCK + 1) // 2:]
                logits = read(full)
        model.train()


    for name, cached in (("gen_cached_chars_per_sec", True), ("gen_uncached_chars_per_sec", False)):
        generate(100, cached)
        best = 0
        for _ in range(3):
            t = time.perf_counter()
            generate(cfg["gen_chars"], cached)
            best = max(best, cfg["gen_chars"] / (time.perf_counter() - t))
        res[name] = best
    print(json.dumps(res))
