# A sweep of optimisers, batch sizes and schedules for the book's convolutional VAE (the keras recipe) on MNIST
# (issue 15: test -ELBO <= 148 nats at latent 2 and <= 105 at latent 20 in 10 minutes on 2
# cores), in PyTorch. Each setting gets the images that 10 minutes buy on the 2-core CPU at
# its batch size (images per second measured there, IMAGES_PER_10_MIN below), so the speed
# of the machine that runs the sweep does not enter.
#
#   python3 experiments/sweeps/vae_sweep.py --data DIR --out DIR [--jobs N] [--seeds S]
#
# DIR holds MNIST's four idx files. The figure is the mean -ELBO (summed binary cross-entropy
# plus KL, one z per image) on all 10,000 test images, in nats, as Loom's `vae train` logs it.
import argparse, json, math, os, sys, time
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
sys.path.insert(0, os.path.join(here, "..", "..", "bench"))
from gan_sweep import load_mnist  # noqa: E402
from torch_models import VAE  # noqa: E402

# Loom's images per 10 minutes on the 2-core AVX2 machine, by batch (docs/benchmarks.md: 2
# minutes of RMSprop/Adam at 16, 64, 128 -> 30.7k, 42.0k, 40.2k images; 32 interpolated).
IMAGES_PER_10_MIN = {16: 153_000, 32: 185_000, 64: 210_000, 128: 201_000}


SETTINGS = {
    "seed: RMSprop 1e-3, batch 16": dict(opt='rmsprop', lr=1e-3, batch=16, sched='constant'),
    "RMSprop 1e-3, batch 16, cosine": dict(opt='rmsprop', lr=1e-3, batch=16, sched='cosine'),
    "RMSprop 1e-3, batch 64": dict(opt='rmsprop', lr=1e-3, batch=64, sched='constant'),
    "RMSprop 2e-3, batch 64, cosine": dict(opt='rmsprop', lr=2e-3, batch=64, sched='cosine'),
    "Adam 1e-3, batch 16": dict(opt='adam', lr=1e-3, batch=16, sched='constant'),
    "Adam 1e-3, batch 32, cosine": dict(opt='adam', lr=1e-3, batch=32, sched='cosine'),
    "Adam 2e-3, batch 32, cosine": dict(opt='adam', lr=2e-3, batch=32, sched='cosine'),
    "Adam 1e-3, batch 64": dict(opt='adam', lr=1e-3, batch=64, sched='constant'),
    "Adam 2e-3, batch 64, cosine": dict(opt='adam', lr=2e-3, batch=64, sched='cosine'),
    "Adam 3e-3, batch 64, cosine": dict(opt='adam', lr=3e-3, batch=64, sched='cosine'),
    "Adam 3e-3, batch 128, cosine": dict(opt='adam', lr=3e-3, batch=128, sched='cosine'),
    "Adam 5e-3, batch 128, cosine": dict(opt='adam', lr=5e-3, batch=128, sched='cosine'),
    "Adam 2e-3, batch 64, warm-up + cosine": dict(opt='adam', lr=2e-3, batch=64, sched='warmcos'),
    "Adam 4e-3, batch 64, warm-up + cosine": dict(opt='adam', lr=4e-3, batch=64, sched='warmcos'),
}
# the ceiling: 4x and 10x the budget
LONG = {"seed x4": ("seed: RMSprop 1e-3, batch 16", 4), "Adam 2e-3, batch 64, cosine x4": ("Adam 2e-3, batch 64, cosine", 4),
        "Adam 2e-3, batch 64, cosine x10": ("Adam 2e-3, batch 64, cosine", 10)}


def rate(s, frac):
    if s['sched'] == 'constant':
        return s['lr']
    if s['sched'] == 'cosine':
        return s['lr'] * 0.5 * (1 + math.cos(math.pi * frac))
    w = 0.05  # warm-up over the first 5%
    return s['lr'] * (frac / w if frac < w else 0.5 * (1 + math.cos(math.pi * (frac - w) / (1 - w))))


_cache = {}


def run(args):
    name, latent, seed, data_dir, dev = args
    if not _cache:
        x, _ = load_mnist(data_dir, 'train')
        xt, _ = load_mnist(data_dir, 'test')
        _cache.update(x=((x + 1) / 2).to(dev), xt=((xt + 1) / 2).to(dev))
    x, xt = _cache['x'], _cache['xt']
    base, mult = LONG[name] if name in LONG else (name, 1)
    s = SETTINGS[base]
    steps = round(IMAGES_PER_10_MIN[s['batch']] * mult / s['batch'])
    torch.manual_seed(seed)
    m = VAE(1, 28, 28, latent).to(dev)
    if s['opt'] == 'rmsprop':  # Keras' RMSprop, as the book's Keras recipe: rho 0.9, epsilon 1e-7
        opt = torch.optim.RMSprop(m.parameters(), lr=s['lr'], alpha=0.9, eps=1e-7)
    else:
        opt = torch.optim.Adam(m.parameters(), lr=s['lr'])
    n, b = x.size(0), s['batch']
    per = n // b
    t = time.time()
    curve = []
    for k in range(steps):
        if k % per == 0:
            order = torch.randperm(n, device=dev)
        for g in opt.param_groups:
            g['lr'] = rate(s, k / steps)
        loss = m.per_image_loss(x[order[(k % per) * b:(k % per + 1) * b]]).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if (k + 1) % max(1, steps // 4) == 0 or k + 1 == steps:
            with torch.no_grad():
                curve.append((k + 1, sum(m.per_image_loss(xt[i:i + 1000]).sum().item() for i in range(0, 10000, 1000)) / 10000))
    return dict(name=name, latent=latent, seed=seed, steps=steps, epochs=steps * b / n, seconds=time.time() - t,
                elbo=curve[-1][1], curve=curve)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--data', required=True)
    ap.add_argument('--out', default='.')
    ap.add_argument('--jobs', type=int, default=1)
    ap.add_argument('--seeds', type=int, default=2)
    ap.add_argument('--only')
    ap.add_argument('--latents', default='2,20')
    a = ap.parse_args()
    dev = 'cuda' if torch.cuda.is_available() else 'cpu'
    names = a.only.split(';') if a.only else list(SETTINGS) + list(LONG)
    tasks = [(n, int(l), s, a.data, dev) for l in a.latents.split(',') for n in names for s in range(1, a.seeds + 1)]
    # longest first, so the pool ends together
    tasks.sort(key=lambda t: -(LONG[t[0]][1] if t[0] in LONG else 1))
    os.makedirs(a.out, exist_ok=True)
    log = open(os.path.join(a.out, 'vae_results.jsonl'), 'w')
    if a.jobs > 1:
        import multiprocessing as mp
        it = mp.get_context('spawn').Pool(a.jobs).imap_unordered(run, tasks)
    else:
        it = map(run, tasks)
    results = []
    for r in it:
        results.append(r)
        log.write(json.dumps(r) + '\n')
        log.flush()
        print(f"latent {r['latent']:2d} {r['name']:40s} seed {r['seed']} {r['steps']:6d} steps ({r['epochs']:.2f} epochs) "
              f"{r['seconds']:5.0f} s  -ELBO {r['elbo']:.2f}", flush=True)
    print('\nsummary (mean over seeds)')
    for l in sorted({r['latent'] for r in results}):
        for n in names:
            rs = [r for r in results if r['name'] == n and r['latent'] == l]
            if rs:
                print(f"latent {l:2d} {n:40s} {rs[0]['epochs']:5.2f} epochs  -ELBO {np.mean([r['elbo'] for r in rs]):.2f} "
                      f"(min {min(r['elbo'] for r in rs):.2f})")


if __name__ == '__main__':
    main()
