"""PyTorch side of the precision benchmark (bench/precision.ts): the character GPT's training
step (bench/torch_gpt_bench.py's) in float32 and under torch.autocast('cpu', bfloat16).

Usage: python3 bench/torch_precision_bench.py '<json config>'
Prints JSON: the median step in milliseconds for each, fp32_ms and bf16_ms.
"""
import contextlib
import json
import sys

import torch
import torch.nn.functional as F
from torch_models import GPT
from torch_timing import median_ms

cfg = json.loads(sys.argv[1])
torch.set_num_threads(cfg["threads"])
V, E, H, LAYERS, BLOCK, B = cfg["vocab"], cfg["embed"], cfg["heads"], cfg["layers"], cfg["block"], cfg["batch"]


def step_ms(bf16):
    torch.manual_seed(0)
    model = GPT(V, E, H, LAYERS, BLOCK)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    rest = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": rest, "weight_decay": 0.0}],
                            lr=1e-3, betas=(0.9, 0.99))
    ids = torch.randint(0, V, (B, BLOCK + 1))

    def train_step():
        with torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext():
            logits = model(ids[:, :BLOCK])
            loss = F.cross_entropy(logits.reshape(-1, V), ids[:, 1:].reshape(-1))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()

    return median_ms(train_step, cfg["steps"], 3)


print(json.dumps({"fp32_ms": step_ms(False), "bf16_ms": step_ms(True), "torch": torch.__version__}))
