# A sweep of DCGAN changes on MNIST at the demo's budget, in PyTorch (issue 15), to choose
# what Loom's dcgan recipe should try next. The networks, losses, optimiser, averaging and
# judge mirror Loom's (src/models/gan/model.ts, train.ts, quality.ts); each change's step
# budget is the demo's two minutes on 2 CPU cores (Loom's 1,163 steps of the defaults) scaled
# by its CPU cost relative to the defaults, measured with --time on the 2-core machine.
#
#   python3 experiments/sweeps/gan_sweep.py --time --data DIR            # ms per step on this CPU, per change
#   python3 experiments/sweeps/gan_sweep.py --data DIR --out DIR [--jobs N] [--seeds S] [--costs FILE]
#
# DIR holds MNIST's four idx files (gzipped or not). The judge is the same small classifier as
# Loom's, trained for three epochs; a run's figure is the share of 1,024 samples from fixed
# latent points it reads with probability >= 0.9 (and for conditional runs, how many of them
# it reads as the class asked for).
import argparse, gzip, json, math, os, sys, time
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

BASE_STEPS = 1163  # Loom's dcgan defaults in 2 minutes on 2 cores (docs/benchmarks.md)

DEFAULTS = dict(g=64, d=32, batch=32, lr_d=1e-3, lr_g=1e-3, beta1=0.5, beta2=0.999, ema=0.99,
                latent=32, loss='bce', cond=False, sn=False, d_steps=1, dropout=0.0, smooth=0.0,
                mbstd=False, d_bn=True, topk=False)

# name -> changes from the defaults
CHANGES = {
    'defaults': {},
    'hinge': dict(loss='hinge'),
    'conditional': dict(cond=True),
    'conditional+hinge': dict(cond=True, loss='hinge'),
    'spectral-norm D': dict(sn=True, d_bn=False),
    'spectral-norm D+hinge': dict(sn=True, d_bn=False, loss='hinge'),
    'lr D 2e-3': dict(lr_d=2e-3),
    'lr G 2e-3': dict(lr_g=2e-3),
    'lr 2e-3': dict(lr_d=2e-3, lr_g=2e-3),
    'betas 0/0.99': dict(beta1=0.0, beta2=0.99),
    'one-sided smoothing 0.1': dict(smooth=0.1),
    'minibatch std': dict(mbstd=True),
    '2 D steps': dict(d_steps=2),
    'latent 64': dict(latent=64),
    'G 96': dict(g=96),
    'D 16': dict(d=16),
    'G 48 D 24': dict(g=48, d=24),
    'batch 16': dict(batch=16),
    'batch 64 lr 2e-3': dict(batch=64, lr_d=2e-3, lr_g=2e-3),
    'ema 0.995': dict(ema=0.995),
    'ema 0.98': dict(ema=0.98),
    'dropout 0.3': dict(dropout=0.3),
    'no BN in D': dict(d_bn=False),
    'conditional G 48 D 24': dict(cond=True, g=48, d=24),
    'conditional, spectral-norm D, hinge': dict(cond=True, sn=True, d_bn=False, loss='hinge'),
    'conditional, lr 2e-3': dict(cond=True, lr_d=2e-3, lr_g=2e-3),
    'conditional, batch 16': dict(cond=True, batch=16),
    'top-k G update': dict(topk=True),
    'lr G 2e-3 D 5e-4': dict(lr_g=2e-3, lr_d=5e-4),
    'batch 16 lr 5e-4': dict(batch=16, lr_d=5e-4, lr_g=5e-4),
}
# changes that alter the work of a step, whose cost --time measures
TIMED = ['defaults', 'conditional', 'spectral-norm D', 'minibatch std', '2 D steps', 'latent 64', 'G 96', 'D 16',
         'G 48 D 24', 'batch 16', 'batch 64 lr 2e-3', 'no BN in D', 'conditional G 48 D 24', 'conditional, batch 16',
         'conditional, spectral-norm D, hinge']
# the ceiling: the same at 4x the budget
LONG = {'defaults x4': ('defaults', 4), 'conditional x4': ('conditional', 4), 'hinge x4': ('hinge', 4)}


def read_idx(path):
    op = gzip.open if path.endswith('.gz') else open
    with op(path, 'rb') as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], 'big') for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def load_mnist(folder, split):
    base = 'train' if split == 'train' else 't10k'
    def find(name):
        for p in (name, name + '.gz'):
            if os.path.exists(os.path.join(folder, p)):
                return os.path.join(folder, p)
        raise SystemExit(f'no {name} in {folder}')
    x = read_idx(find(f'{base}-images-idx3-ubyte')).astype(np.float32) / 255.0
    y = read_idx(find(f'{base}-labels-idx1-ubyte')).astype(np.int64)
    return torch.from_numpy(x).unsqueeze(1) * 2 - 1, torch.from_numpy(y)


class Judge(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 5, 2, 2)
        self.conv2 = nn.Conv2d(16, 32, 5, 2, 2)
        self.fc1 = nn.Linear(32 * 7 * 7, 128)
        self.fc2 = nn.Linear(128, 10)

    def features(self, x):
        return F.relu(self.fc1(F.relu(self.conv2(F.relu(self.conv1(x)))).flatten(1)))

    def forward(self, x):
        return self.fc2(self.features(x))


def train_judge(x, y, xt, yt, dev):
    torch.manual_seed(20231)
    net = Judge().to(dev)
    opt = torch.optim.Adam(net.parameters(), 1e-3)
    n, batch = x.size(0), 64
    per = n // batch
    total = 3 * per
    for s in range(total):
        if s % per == 0:
            order = torch.randperm(n, device=dev)
        for gr in opt.param_groups:
            gr['lr'] = 1e-3 * (1 - s / total)
        idx = order[(s % per) * batch:(s % per + 1) * batch]
        loss = F.cross_entropy(net(x[idx]), y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    net.eval()
    with torch.no_grad():
        acc = sum((net(xt[i:i + 1000]).argmax(1) == yt[i:i + 1000]).sum().item() for i in range(0, xt.size(0), 1000)) / xt.size(0)
    return net, acc


def init_dcgan(m):
    with torch.no_grad():
        for name, p in m.named_parameters():
            if name.endswith('bias'):
                p.zero_()
            elif 'norm' in name:
                p.normal_(1, 0.02)
            else:
                p.normal_(0, 0.02)


class G(nn.Module):
    # Loom's DcganGenerator for 28x28: fc to [2f, 7, 7], BN, ReLU; convT to [f, 14, 14], BN,
    # ReLU; convT to [1, 28, 28], tanh. Conditional: a one-hot label joins the latent point.
    def __init__(self, c):
        super().__init__()
        f, self.c = c['g'], c
        zin = c['latent'] + (10 if c['cond'] else 0)
        self.fc = nn.Linear(zin, 2 * f * 49, bias=False)
        self.norm0 = nn.BatchNorm2d(2 * f)
        self.up0 = nn.ConvTranspose2d(2 * f, f, 4, 2, 1, bias=False)
        self.norm1 = nn.BatchNorm2d(f)
        self.up1 = nn.ConvTranspose2d(f, 1, 4, 2, 1, bias=True)
        self.f = f
        init_dcgan(self)

    def forward(self, z, y=None):
        if self.c['cond']:
            z = torch.cat([z, F.one_hot(y, 10).float()], 1)
        x = F.relu(self.norm0(self.fc(z).view(-1, 2 * self.f, 7, 7)))
        x = F.relu(self.norm1(self.up0(x)))
        return torch.tanh(self.up1(x))


class D(nn.Module):
    # Loom's DcganDiscriminator: conv to [f, 14, 14], LeakyReLU; conv to [2f, 7, 7], BN,
    # LeakyReLU; dropout; one logit. Conditional: a projection term <embed(y), h> (Miyato and
    # Koyama 2018). Spectral norm wraps each weight.
    def __init__(self, c):
        super().__init__()
        f, self.c = c['d'], c
        sn = nn.utils.spectral_norm if c['sn'] else (lambda m: m)
        self.down0 = sn(nn.Conv2d(1, f, 4, 2, 1, bias=True))
        self.down1 = sn(nn.Conv2d(f + (1 if c['mbstd'] else 0), 2 * f, 4, 2, 1, bias=not c['d_bn']))
        self.norm1 = nn.BatchNorm2d(2 * f) if c['d_bn'] else nn.Identity()
        self.drop = nn.Dropout(c['dropout'])
        self.fc = sn(nn.Linear(2 * f * 49, 1))
        if c['cond']:
            self.embed = sn(nn.Embedding(10, 2 * f * 49))
        init_dcgan(self)

    def forward(self, x, y=None):
        h = F.leaky_relu(self.down0(x), 0.2)
        if self.c['mbstd']:
            s = h.std(0).mean().expand(h.size(0), 1, h.size(2), h.size(3))
            h = torch.cat([h, s], 1)
        h = F.leaky_relu(self.norm1(self.down1(h)), 0.2)
        h = self.drop(h.flatten(1))
        out = self.fc(h)
        if self.c['cond']:
            out = out + (self.embed(y) * h).sum(1, keepdim=True)
        return out


def d_loss(c, fake_logit, real_logit):
    # Loom labels generated 1 and real 0; the sign is immaterial, kept as Loom has it.
    if c['loss'] == 'hinge':
        return (F.relu(1 - fake_logit).mean() + F.relu(1 + real_logit).mean()) / 2
    real_target = torch.full_like(real_logit, c['smooth'])
    return (F.binary_cross_entropy_with_logits(fake_logit, torch.ones_like(fake_logit)) +
            F.binary_cross_entropy_with_logits(real_logit, real_target)) / 2


def g_loss(c, logit):
    if c['loss'] == 'hinge':
        return logit.mean()
    return F.binary_cross_entropy_with_logits(logit, torch.zeros_like(logit))


def score(gen, judge, real_feats, z, labels, c):
    # Loom samples through the generator in training mode (batch statistics), 64 at a time.
    with torch.no_grad():
        imgs = torch.cat([gen(z[i:i + 64], labels[i:i + 64] if c['cond'] else None) for i in range(0, z.size(0), 64)])
        logits = judge(imgs)
        p, cls = logits.softmax(1).max(1)
        sure = p >= 0.9
        out = dict(confident=sure.float().mean().item(), classes=len(set(cls[sure].tolist())))
        if c['cond']:
            out['asked'] = (sure & (cls == labels)).float().mean().item()
        out['fd'] = frechet(real_feats, judge.features(imgs).double())
    return out, imgs


def frechet(a, b):
    def stats(f):
        mu = f.mean(0)
        d = f - mu
        return mu, d.T @ d / (f.size(0) - 1)
    m1, s1 = stats(a)
    m2, s2 = stats(b)
    w, v = torch.linalg.eigh(s1)
    r = (v * w.clamp(min=0).sqrt()) @ v.T
    cross = torch.linalg.eigvalsh(r @ s2 @ r).clamp(min=0).sqrt().sum()
    return ((m1 - m2).square().sum() + s1.trace() + s2.trace() - 2 * cross).item()


def train(c, steps, seed, x, dev, judge=None, real_feats=None, checks=(), time_only=False):
    torch.manual_seed(seed)
    g, d = G(c).to(dev), D(c).to(dev)
    avg = G(c).to(dev)
    avg.load_state_dict(g.state_dict())
    for p in avg.parameters():
        p.requires_grad_(False)
    opt_d = torch.optim.Adam(d.parameters(), c['lr_d'], betas=(c['beta1'], c['beta2']))
    opt_g = torch.optim.Adam(g.parameters(), c['lr_g'], betas=(c['beta1'], c['beta2']))
    gp, ap = list(g.parameters()), list(avg.parameters())
    gb = [b for n, b in g.named_buffers()]
    ab = [b for n, b in avg.named_buffers()]
    n, b = x[0].size(0), c['batch']
    per = n // b
    gen = torch.Generator(device='cpu').manual_seed(seed + 1)
    zfix = torch.randn(1024, c['latent'], generator=gen).to(dev)
    lfix = (torch.arange(1024) % 10).to(dev)
    history = []
    t0 = None
    imgs = None
    for s in range(steps):
        if time_only and s == 5:
            t0 = time.perf_counter()
        if s % per == 0:
            order = torch.randperm(n, device=dev)
        for k in range(c['d_steps']):
            j = (s * c['d_steps'] + k) % per
            idx = order[j * b:(j + 1) * b]
            real, ry = x[0][idx], x[1][idx]
            fy = torch.randint(0, 10, (b,), device=dev)
            with torch.no_grad():
                fake = g(torch.randn(b, c['latent'], device=dev), fy)
            loss = d_loss(c, d(fake, fy), d(real, ry))
            opt_d.zero_grad(set_to_none=True)
            loss.backward()
            opt_d.step()
        for p in d.parameters():
            p.requires_grad_(False)
        fy = torch.randint(0, 10, (b,), device=dev)
        logit = d(g(torch.randn(b, c['latent'], device=dev), fy), fy)
        if c['topk']:  # Sinha et al. 2020: learn from the samples the discriminator finds most real
            keep = max(b // 2, round(b * 0.99 ** (s / 20)))
            logit = logit.flatten().topk(keep, largest=False).values  # low logit = "real" here
        loss = g_loss(c, logit)
        opt_g.zero_grad(set_to_none=True)
        loss.backward()
        opt_g.step()
        for p in d.parameters():
            p.requires_grad_(True)
        with torch.no_grad():
            if hasattr(torch, '_foreach_lerp_'):
                torch._foreach_lerp_(ap, gp, 1 - c['ema'])
            else:  # PyTorch 1.13
                for q, r in zip(ap, gp):
                    q.lerp_(r, 1 - c['ema'])
            for q, r in zip(ab, gb):
                q.copy_(r)
        if judge is not None and (s + 1) in checks:
            sc, imgs = score(avg, judge, real_feats, zfix, lfix, c)
            history.append(dict(step=s + 1, **sc))
    if time_only:
        return (time.perf_counter() - t0) / (steps - 5) * 1000
    return history, imgs


def shape_of(name):
    """The timed change whose step does the same work as this one."""
    c = {**DEFAULTS, **CHANGES[name]}
    keys = ('g', 'd', 'batch', 'latent', 'cond', 'sn', 'd_steps', 'mbstd', 'd_bn')
    for t in TIMED:
        u = {**DEFAULTS, **CHANGES[t]}
        if all(c[k] == u[k] for k in keys):
            return t
    raise SystemExit(f'no timed change has the shape of {name}')


def config(name):
    if name in LONG:
        base, mult = LONG[name]
        return {**DEFAULTS, **CHANGES[base]}, mult
    return {**DEFAULTS, **CHANGES[name]}, 1


_cache = {}


def worker(args):
    name, seed, steps, data_dir, judge_file, dev = args
    torch.backends.cudnn.benchmark = True
    if not _cache:  # once per worker process
        x, y = load_mnist(data_dir, 'train')
        x, y = x.to(dev), y.to(dev)
        judge = Judge().to(dev)
        judge.load_state_dict(torch.load(judge_file, map_location=dev))
        judge.eval()
        with torch.no_grad():
            real_feats = judge.features(x[:2000]).double()
        _cache.update(x=x, y=y, judge=judge, real_feats=real_feats)
    x, y, judge, real_feats = _cache['x'], _cache['y'], _cache['judge'], _cache['real_feats']
    c, _ = config(name)
    checks = sorted(set([steps] + [k for k in range(250, steps, 250)]))
    t = time.time()
    history, imgs = train(c, steps, seed, (x, y), dev, judge, real_feats, checks)
    grid = ((imgs[:64].squeeze(1).cpu().numpy() + 1) * 127.5).clip(0, 255).astype(np.uint8)
    return dict(name=name, seed=seed, steps=steps, seconds=time.time() - t, history=history, final=history[-1]), grid


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--data', required=True)
    ap.add_argument('--out', default='.')
    ap.add_argument('--time', action='store_true')
    ap.add_argument('--costs', help='JSON of ms per step per change, from --time')
    ap.add_argument('--jobs', type=int, default=1)
    ap.add_argument('--seeds', type=int, default=3)
    ap.add_argument('--only', help='change names, separated by semicolons')
    ap.add_argument('--scale', type=float, default=1.0, help='multiply every budget (a quick try)')
    a = ap.parse_args()
    names = a.only.split(';') if a.only else list(CHANGES) + list(LONG)
    if a.time:
        torch.set_num_threads(2)
        x, y = load_mnist(a.data, 'train')
        # Changes of settings alone cost what the defaults do; those of shape are timed, the
        # best of three interleaved rounds (a shared VM's timings wander by a third).
        shapes = [n for n in (a.only.split(';') if a.only else CHANGES) if n in TIMED]
        costs = {n: math.inf for n in shapes}
        for _ in range(3):
            for name in shapes:
                c, _ = config(name)
                costs[name] = min(costs[name], train(c, 20, 1, (x[:4096], y[:4096]), 'cpu', time_only=True))
        for name in shapes:
            print(f'{name:40s} {costs[name]:7.1f} ms/step', flush=True)
        print(json.dumps(costs))
        return
    dev = 'cuda' if torch.cuda.is_available() else 'cpu'
    costs = {k: v for k, v in json.load(open(a.costs)).items() if k != "_"} if a.costs else {}
    os.makedirs(a.out, exist_ok=True)
    x, y = load_mnist(a.data, 'train')
    xt, yt = load_mnist(a.data, 'test')
    t = time.time()
    judge, acc = train_judge(x.to(dev), y.to(dev), xt.to(dev), yt.to(dev), dev)
    judge_file = os.path.join(a.out, 'judge.pt')
    torch.save(judge.state_dict(), judge_file)
    print(f'judge: {acc * 100:.2f}% on the test set in {time.time() - t:.0f} s', flush=True)
    tasks = []
    for name in names:
        c, mult = config(name)
        base = name if name in CHANGES else LONG[name][0]
        ratio = costs['defaults'] / costs[shape_of(base)] if costs else 1.0
        steps = max(1, round(BASE_STEPS * ratio * mult * a.scale))
        for seed in range(1, a.seeds + 1):
            tasks.append((name, seed, steps, a.data, judge_file, dev))
    results, grids = [], {}
    log = open(os.path.join(a.out, 'results.jsonl'), 'w')
    if a.jobs > 1:
        import multiprocessing as mp
        pool = mp.get_context('spawn').Pool(a.jobs)
        it = pool.imap_unordered(worker, tasks)
    else:
        it = map(worker, tasks)
    for r, grid in it:
        results.append(r)
        grids[f"{r['name']}|{r['seed']}"] = grid
        log.write(json.dumps(r) + '\n')
        log.flush()
        f = r['final']
        print(f"{r['name']:40s} seed {r['seed']} {r['steps']:5d} steps {r['seconds']:5.0f} s  "
              f"confident {f['confident'] * 100:5.1f}%  classes {f['classes']:2d}  fd {f['fd']:7.1f}"
              + (f"  asked {f['asked'] * 100:5.1f}%" if 'asked' in f else ''), flush=True)
    np.savez_compressed(os.path.join(a.out, 'grids.npz'), **grids)
    print('\nsummary (mean over seeds of the final figure)')
    for name in names:
        rs = [r['final'] for r in results if r['name'] == name]
        if not rs:
            continue
        m = lambda k: np.mean([r[k] for r in rs])
        print(f"{name:40s} steps {[r['steps'] for r in results if r['name'] == name][0]:5d}  confident "
              f"{m('confident') * 100:5.1f}% (min {min(r['confident'] for r in rs) * 100:5.1f})  classes "
              f"{min(r['classes'] for r in rs):2d}  fd {m('fd'):7.1f}" + (f"  asked {m('asked') * 100:5.1f}%" if 'asked' in rs[0] else ''))


if __name__ == '__main__':
    main()
