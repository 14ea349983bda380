"""PyTorch side of the transformer benchmark (bench/gpt.ts): the same character GPT
(bench/torch_models.py).

Usage: python3 bench/torch_gpt_bench.py '<json config>'
Prints JSON: the median training step (AdamW, gradient clipping at 1) and generation speed at
batch 1, with a key/value cache and without one (the whole context re-read per character),
with Loom's context policy (when the context fills the block it restarts from its last half).
"""
import json
import sys
import time

import torch
import torch.nn.functional as F
from torch_models import GPT
from torch_timing import median_ms

cfg = json.loads(sys.argv[1])
torch.set_num_threads(cfg["threads"])
torch.manual_seed(0)
V, E, H, LAYERS, BLOCK, B = cfg["vocab"], cfg["embed"], cfg["heads"], cfg["layers"], cfg["block"], cfg["batch"]

model = GPT(V, E, H, LAYERS, BLOCK)
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
