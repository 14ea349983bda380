"""PyTorch side of the text benchmark (bench/text.ts): the book's char LSTM (the keras recipe).

Usage: python3 bench/torch_text_bench.py '<json config>'
Prints JSON: training step time and stateful generation speed (batch 1).
"""
import json
import sys
import time

import torch
import torch.nn.functional as F
from torch_timing import median_ms

cfg = json.loads(sys.argv[1])
torch.set_num_threads(cfg["threads"])
torch.manual_seed(0)
V, H, L, B = cfg["vocab"], cfg["units"], cfg["maxlen"], cfg["batch"]


class CharModel(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = torch.nn.LSTM(V, H, batch_first=True)
        self.head = torch.nn.Linear(H, V)

    def forward(self, x, state=None):
        out, state = self.lstm(x, state)
        return self.head(out), state


model = CharModel()
opt = torch.optim.RMSprop(model.parameters(), lr=0.01)
ids = torch.randint(0, V, (B, L + 1))


def train_step():
    x = F.one_hot(ids[:, :L], V).float()  # encoded per batch, as Loom does
    out, _ = model.lstm(x)
    loss = F.cross_entropy(model.head(out[:, -1]), ids[:, L])
    opt.zero_grad()
    loss.backward()
    opt.step()


if __name__ == "__main__":  # bench/torch_paired_worker.py imports the step functions above
    res = {"train_step_ms": median_ms(train_step, cfg["steps"], 3)}


    def generate(n, temperature=1.0):
        model.eval()
        with torch.no_grad():
            prime = torch.randint(0, V, (1, L))
            logits, state = model(F.one_hot(prime, V).float())
            logits = logits[:, -1]
            chars = []
            for _ in range(n):
                p = F.softmax(logits / temperature, dim=-1)
                c = torch.multinomial(p, 1)
                chars.append(c.item())
                logits, state = model(F.one_hot(c, V).float(), state)
                logits = logits[:, -1]
        return chars


    generate(200)
    best = 0
    for _ in range(3):
        t = time.perf_counter()
        generate(cfg["gen_chars"])
        best = max(best, cfg["gen_chars"] / (time.perf_counter() - t))
    res["gen_chars_per_sec"] = best
    print(json.dumps(res))
