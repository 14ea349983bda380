"""Hyperparameter sweep of Loom's character transformer, many settings at once on a GPU.

Loom's `--model gpt` (src/models/text/gpt.ts and train.ts) rebuilt in PyTorch as an
ensemble: E members of one shape are trained side by side in the same kernels (every weight
has a leading member axis), each member with its own learning rate, schedule, Adam betas,
weight decay, clip and seed. A member sees the data a Loom run would (random windows of
block + 1 characters of the training text) for the number of steps that Loom takes in 10
minutes on 2 CPU cores at that shape (measured with Loom beforehand; the caller passes it),
and is scored as Loom scores it (the first 200,000 held-out characters, windows
overlapping by half). The winner is then checked with Loom itself on the CPU: this script
only narrows the search.

  python3 experiments/text-sweep/sweep.py --ids sotu.u8 --vocab 98 --plan plan.json --out results.jsonl

plan.json: [{"name": ..., "shape": {layers, embed, heads, block, batch}, "steps": N,
             "members": [{"name": ..., "lr": .., "warmup": .., "schedule": cosine|anneal|
             linear|constant, "tail": .., "final": .., "beta1": .., "beta2": .., "wd": ..,
             "clip": .., "seed": ..}, ...]}, ...]
Each ensemble's results are appended to --out as one JSON line per member when it ends.
"""
import argparse
import json
import math
import sys
import time

import torch
import torch.nn.functional as F

HELD_OUT_LIMIT = 200_000
VAL_FRACTION = 0.05


def member_defaults(m):
    # The transformer's settings when the sweep ran (session 12's defaults); the sweep moved
    # Loom's defaults since (warm-up 1,000, embedding 160, lr 3e-3), so plans name changes from these.
    d = dict(lr=4e-3, warmup=100, schedule='cosine', tail=0.2, final=0.0, beta1=0.9, beta2=0.99,
             wd=0.1, clip=1.0, seed=1)
    d.update(m)
    return d


def rate(m, step, total):
    """The member's learning rate at a step (Loom's schedules.warmup over endingAt)."""
    p = min(1.0, step / total)
    lr, final = m['lr'], m['lr'] * m['final']
    if m['schedule'] == 'cosine':
        r = final + (lr - final) * 0.5 * (1 + math.cos(math.pi * p))
    elif m['schedule'] == 'anneal':
        r = lr if p <= 1 - m['tail'] else final + (lr - final) * max(0.0, (1 - p) / m['tail'])
    elif m['schedule'] == 'linear':
        r = final + (lr - final) * (1 - p)
    else:
        r = lr
    w = m['warmup']
    return r * (step + 1) / w if step < w else r


def attention(q, k, v):
    """Causal softmax attention (PyTorch 2's fused kernel where there is one)."""
    if hasattr(F, 'scaled_dot_product_attention'):
        return F.scaled_dot_product_attention(q, k, v, is_causal=True)
    T = q.shape[-2]
    mask = torch.ones(T, T, dtype=torch.bool, device=q.device).tril()
    att = (q @ k.transpose(-2, -1)) / math.sqrt(q.shape[-1])
    return att.masked_fill(~mask, float('-inf')).softmax(-1) @ v


class Ensemble:
    """E transformers of one shape; parameters [E, ...], all views of one flat buffer."""

    def __init__(self, shape, members, vocab, device):
        self.E = E = len(members)
        self.s = s = shape
        C, L, V, Lb = s['embed'], s['layers'], vocab, s['block']
        specs = [('wte', (V, C), 0.02, True), ('wpe', (Lb, C), 0.02, True)]
        for l in range(L):
            proj = 0.02 / math.sqrt(2 * L)
            specs += [(f'{l}.ln1.w', (C,), 'one', False), (f'{l}.ln1.b', (C,), 'zero', False),
                      (f'{l}.qkv.w', (C, 3 * C), 0.02, True), (f'{l}.qkv.b', (3 * C,), 'zero', False),
                      (f'{l}.proj.w', (C, C), proj, True), (f'{l}.proj.b', (C,), 'zero', False),
                      (f'{l}.ln2.w', (C,), 'one', False), (f'{l}.ln2.b', (C,), 'zero', False),
                      (f'{l}.fc.w', (C, 4 * C), 0.02, True), (f'{l}.fc.b', (4 * C,), 'zero', False),
                      (f'{l}.mproj.w', (4 * C, C), proj, True), (f'{l}.mproj.b', (C,), 'zero', False)]
        specs += [('lnf.w', (C,), 'one', False), ('lnf.b', (C,), 'zero', False)]
        sizes = [math.prod(sh) for _, sh, _, _ in specs]
        P = sum(sizes)
        self.flat = torch.zeros(E, P, device=device)
        self.decay = torch.zeros(P, device=device)
        self.p = {}
        off = 0
        for (name, sh, init, decays), n in zip(specs, sizes):
            view = self.flat[:, off:off + n]
            for e, m in enumerate(members):
                g = torch.Generator().manual_seed(m['seed'] * 1000 + off)
                if init == 'one':
                    view[e].fill_(1)
                elif init != 'zero':
                    view[e].copy_(torch.randn(n, generator=g) * init)
            if decays:
                self.decay[off:off + n] = 1
            t = torch.empty(0, device=device)
            t.data = view.view(E, *sh)
            t.requires_grad_(True)
            self.p[name] = t
            off += n
        self.params = list(self.p.values())
        self.m = torch.zeros_like(self.flat)
        self.v = torch.zeros_like(self.flat)
        col = lambda k: torch.tensor([float(m[k]) for m in members], device=device)[:, None]
        self.beta1, self.beta2, self.wd, self.clip = col('beta1'), col('beta2'), col('wd'), col('clip')
        self.t = 0

    def ln(self, x, name):
        y = F.layer_norm(x, (x.shape[-1],))
        return y * self.p[name + '.w'][:, None, :] + self.p[name + '.b'][:, None, :]

    def lin(self, x, name):
        return torch.baddbmm(self.p[name + '.b'][:, None, :], x, self.p[name + '.w'])

    def logits(self, ids):
        """ids [E, B, T] -> logits [E, B*T, V]."""
        E, B, T = ids.shape
        C, H = self.s['embed'], self.s['heads']
        hd = C // H
        wte = self.p['wte']
        ar = torch.arange(E, device=ids.device)[:, None, None]
        x = (wte[ar, ids] + self.p['wpe'][:, None, :T, :]).reshape(E, B * T, C)
        for l in range(self.s['layers']):
            q, k, v = self.lin(self.ln(x, f'{l}.ln1'), f'{l}.qkv').split(C, -1)
            heads = lambda t: t.reshape(E * B, T, H, hd).transpose(1, 2)
            y = attention(heads(q), heads(k), heads(v))
            y = y.transpose(1, 2).reshape(E, B * T, C)
            x = x + self.lin(y, f'{l}.proj')
            x = x + self.lin(F.gelu(self.lin(self.ln(x, f'{l}.ln2'), f'{l}.fc')), f'{l}.mproj')
        return torch.bmm(self.ln(x, 'lnf'), wte.transpose(1, 2))

    def step(self, ids, lrs):
        """One AdamW step of every member on its batch ids [E, B, T+1]; returns the losses [E]."""
        E = ids.shape[0]
        lg = self.logits(ids[:, :, :-1])
        tgt = ids[:, :, 1:].reshape(E, -1)
        loss = F.cross_entropy(lg.reshape(-1, lg.shape[-1]), tgt.reshape(-1), reduction='none')
        loss = loss.view(E, -1).mean(1)
        for p in self.params:
            p.grad = None
        loss.sum().backward()
        with torch.no_grad():
            g = torch.cat([p.grad.reshape(E, -1) for p in self.params], 1)
            norm = g.norm(dim=1, keepdim=True)
            g.mul_(torch.where(self.clip > 0, (self.clip / (norm + 1e-6)).clamp(max=1), torch.ones_like(norm)))
            self.t += 1
            lr = lrs[:, None]
            self.flat.mul_(1 - lr * self.wd * self.decay)
            self.m.mul_(self.beta1).add_((1 - self.beta1) * g)
            self.v.mul_(self.beta2).add_((1 - self.beta2) * g * g)
            bc1 = 1 - self.beta1 ** self.t
            bc2 = 1 - self.beta2 ** self.t
            self.flat.sub_(lr / bc1 * self.m / ((self.v / bc2).sqrt() + 1e-8))
        return loss.detach()

    @torch.no_grad()
    def held_out_bpc(self, val, batch=32):
        """Loom's gptBpc: windows of the block overlapping by half, each scoring what is new."""
        n = val.numel() - 1
        block = self.s['block']
        stride = max(1, block // 2)
        total = torch.zeros(self.E, device=val.device, dtype=torch.float64)
        windows = []
        start, covered = 0, 0
        while covered < n:
            length = min(block, n - start)
            windows.append((start, length, covered - start))
            covered = start + length
            start += stride
        i = 0
        while i < len(windows):
            _, length, frm = windows[i]
            j = i
            while j < len(windows) and j - i < batch and windows[j][1] == length and windows[j][2] == frm:
                j += 1
            starts = torch.tensor([w[0] for w in windows[i:j]], device=val.device)
            idx = starts[:, None] + torch.arange(length + 1, device=val.device)[None, :]
            w = val[idx]  # [b, length + 1]
            ids = w[None].expand(self.E, -1, -1)
            lg = self.logits(ids[:, :, :-1]).view(self.E, j - i, length, -1)[:, :, frm:]
            tgt = ids[:, :, 1:][:, :, frm:]
            ce = F.cross_entropy(lg.reshape(-1, lg.shape[-1]), tgt.reshape(-1), reduction='none')
            total += ce.view(self.E, -1).sum(1).double()
            i = j
        return (total / n / math.log(2)).tolist()


def run_ensemble(spec, train, val, vocab, device, out):
    members = [member_defaults(m) for m in spec['members']]
    shape, steps = spec['shape'], spec['steps']
    ens = Ensemble(shape, members, vocab, device)
    T1 = shape['block'] + 1
    B = shape['batch']
    # Members with the same seed see the same windows (common random numbers: their
    # differences are their settings'); one generator per seed.
    seeds = sorted({m['seed'] for m in members})
    gens = [torch.Generator(device=device).manual_seed(s) for s in seeds]
    which = torch.tensor([seeds.index(m['seed']) for m in members], device=device)
    lr_table = torch.tensor([[rate(m, s, steps) for m in members] for s in range(steps)], device=device)
    nwin = train.numel() - T1
    offs = torch.arange(T1, device=device)
    t0 = time.time()
    recent = torch.zeros(len(members), device=device)
    for step in range(steps):
        starts = torch.stack([torch.randint(0, nwin, (B,), generator=g, device=device) for g in gens])
        ids = train[starts[which][:, :, None] + offs]
        loss = ens.step(ids, lr_table[step])
        if step >= steps - 200:
            recent += loss
        if step % 2000 == 0:
            print(f"{spec['name']} step {step} loss {loss.mean().item():.3f} {time.time() - t0:.0f}s", flush=True)
    train_s = time.time() - t0
    bpc = ens.held_out_bpc(val)
    for m, b, r in zip(spec['members'], bpc, (recent / min(200, steps) / math.log(2)).tolist()):
        line = dict(ensemble=spec['name'], shape=shape, steps=steps, member=m, held_out_bpc=b,
                    train_bpc_last200=r, train_s=train_s)
        out.write(json.dumps(line) + '\n')
        out.flush()
    print(f"{spec['name']}: {steps} steps in {train_s:.0f}s; best {min(bpc):.3f}", flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--ids', required=True, help="the corpus as uint8 indices (Loom's Vocab)")
    ap.add_argument('--plan', required=True)
    ap.add_argument('--out', required=True)
    ap.add_argument('--only', default=None, help='comma-separated ensemble names')
    ap.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    ap.add_argument('--scale-steps', type=float, default=1.0, help='for a quick trial of the script')
    a = ap.parse_args()
    raw = open(a.ids, 'rb').read()
    ids = torch.frombuffer(bytearray(raw), dtype=torch.uint8).long().to(a.device)
    vocab = int(ids.max().item()) + 1
    n_val = int(math.floor(ids.numel() * VAL_FRACTION))
    train, val = ids[:ids.numel() - n_val], ids[ids.numel() - n_val:]
    val = val[:min(val.numel(), HELD_OUT_LIMIT)]
    plan = json.load(open(a.plan))
    if a.only:
        plan = [p for p in plan if p['name'] in a.only.split(',')]
    torch.backends.cuda.matmul.allow_tf32 = False  # Loom's CPU runs are fp32
    torch.backends.cudnn.allow_tf32 = False
    with open(a.out, 'a') as out:
        for spec in plan:
            spec = dict(spec, steps=max(1, int(spec['steps'] * a.scale_steps)))
            run_ensemble(spec, train, val, vocab, a.device, out)


if __name__ == '__main__':
    sys.exit(main())
