"""Writes the GPU sweep's plan (experiments/text-sweep/sweep.py): ensembles of Loom's character
transformer, each at the number of steps Loom takes in 10 minutes on 2 CPU cores at its shape.

Steps: the defaults took 17,446 steps in 10 minutes alone on the machine (session 12); every
other shape gets 17,446 x (the defaults' ms per step / its own), the ms per step measured with
Loom on the same machine in one sitting (`loom text train --model gpt --steps 400 ...`, the
mean of the last 100 steps, given below), so each shape gets the steps its cost allows.
"""
import json
import sys

BASE_STEPS = 17_446
MS = {  # Loom, 2 threads, AMD EPYC (AVX-512), session 14
    'def': 36.4, 'b8': 20.35, 'b24': 75.7, 'blk48': 31.1, 'blk96b12': 43.3, 'l3': 76.7,
    'l1': 18.9, 'c96': 32.1, 'c160': 45.7, 'h2': 39.7,
}
# A second sitting, its own defaults' time beside it (the VM's speed moves ~10% between sittings).
MS2_DEF = 33.0
MS2 = {'b8l3': 29.5, 'b8c160': 24.4}
DEF = dict(layers=2, embed=128, heads=4, block=64, batch=16)  # the defaults' shape when the sweep ran
SHAPES = {
    'def': {}, 'b8': dict(batch=8), 'b24': dict(batch=24), 'blk48': dict(block=48),
    'blk96b12': dict(block=96, batch=12), 'l3': dict(layers=3), 'l1': dict(layers=1),
    'c96': dict(embed=96), 'c160': dict(embed=160), 'h2': dict(heads=2),
    'b8l3': dict(batch=8, layers=3), 'b8c160': dict(batch=8, embed=160),
}


def ens(name, shape, members):
    ratio = MS['def'] / MS[shape] if shape in MS else MS2_DEF / MS2[shape]
    return dict(name=name, shape={**DEF, **SHAPES[shape]}, steps=round(BASE_STEPS * ratio), members=members)


def lr_grid(lrs, seeds=(1, 2)):
    return [dict(name=f'lr{lr:g}-s{s}', lr=lr, seed=s) for lr in lrs for s in seeds]


A = [dict(name='base'), dict(name='seed2', seed=2), dict(name='lr3e-3', lr=3e-3), dict(name='lr6e-3', lr=6e-3),
     dict(name='lr8e-3', lr=8e-3), dict(name='b2-0.95', beta2=0.95), dict(name='b2-0.999', beta2=0.999),
     dict(name='wd0', wd=0.0), dict(name='wd0.3', wd=0.3), dict(name='clip0.5', clip=0.5), dict(name='noclip', clip=0),
     dict(name='warm400', warmup=400), dict(name='linear', schedule='linear'), dict(name='cos-final0.1', final=0.1),
     dict(name='b1-0.8', beta1=0.8), dict(name='wsd50', schedule='anneal', tail=0.5)]
A2 = [dict(name='seed3', seed=3), dict(name='lr6e-3-b2-0.95', lr=6e-3, beta2=0.95),
      dict(name='lr6e-3-warm400', lr=6e-3, warmup=400), dict(name='lr5e-3', lr=5e-3),
      dict(name='lr6e-3-linear', lr=6e-3, schedule='linear'),
      dict(name='lr8e-3-b2-0.95-warm400', lr=8e-3, beta2=0.95, warmup=400), dict(name='wd0.03', wd=0.03),
      dict(name='lr6e-3-wd0.3', lr=6e-3, wd=0.3), dict(name='b1-0.95', beta1=0.95), dict(name='clip0.25', clip=0.25),
      dict(name='warm1000', warmup=1000), dict(name='lr5e-3-linear', lr=5e-3, schedule='linear'),
      dict(name='lr6e-3-seed2', lr=6e-3, seed=2), dict(name='lr3e-3-seed2', lr=3e-3, seed=2),
      dict(name='constant', schedule='constant'), dict(name='lr6e-3-anneal', lr=6e-3, schedule='anneal')]

PLAN = {
    'p1': [ens('A', 'def', A)],
    'p2': [ens('A2', 'def', A2)],
    'p3': [ens('b8', 'b8', lr_grid([2e-3, 3e-3, 4e-3, 6e-3]))],
    'p4': [ens('l1', 'l1', lr_grid([3e-3, 4e-3, 6e-3, 8e-3]))],
    'p5': [ens('blk48', 'blk48', lr_grid([4e-3, 6e-3])), ens('c96', 'c96', lr_grid([4e-3, 6e-3, 8e-3]))],
    'p6': [ens('c160', 'c160', lr_grid([3e-3, 4e-3, 6e-3])), ens('blk96b12', 'blk96b12', lr_grid([3e-3, 4e-3, 6e-3]))],
    'p7': [ens('h2', 'h2', lr_grid([4e-3, 6e-3])), ens('b24', 'b24', lr_grid([4e-3, 6e-3, 8e-3])),
           ens('l3', 'l3', lr_grid([3e-3, 4e-3, 6e-3]))],
    'p8': [ens('b8c160', 'b8c160', lr_grid([2e-3, 3e-3, 4e-3]))],
    'p9': [ens('b8l3', 'b8l3', lr_grid([2e-3, 3e-3, 4e-3]))],
}

if __name__ == '__main__' and (len(sys.argv) < 3 or sys.argv[2] != 'round2'):
    out = sys.argv[1] if len(sys.argv) > 1 else 'plan'
    for proc, ensembles in PLAN.items():
        with open(f'{out}-{proc}.json', 'w') as f:
            json.dump(ensembles, f, indent=1)
        print(proc, [(e['name'], e['steps'], len(e['members'])) for e in ensembles])


def variants(name, seeds, **kw):
    return [dict(name=f'{name}-s{s}', seed=s, **kw) for s in seeds]


# Round 2, after round 1 (docs/benchmarks.md): a longer warm-up and no clipping each won alone;
# together, with their neighbours, on three seeds, at the defaults' shape.
ROUND2 = [ens('A3', 'def', [
    *variants('w1000', [1, 2, 3], warmup=1000), *variants('noclip', [2, 3], clip=0),
    *variants('w1000-noclip', [1, 2, 3], warmup=1000, clip=0),
    *variants('w1000-noclip-b2-0.999', [1, 2, 3], warmup=1000, clip=0, beta2=0.999),
    *variants('w2000-noclip', [1, 2, 3], warmup=2000, clip=0), *variants('w2000', [1, 2], warmup=2000),
    *variants('w1000-noclip-lr3e-3', [1, 2], warmup=1000, clip=0, lr=3e-3),
    *variants('w1000-noclip-lr6e-3', [1, 2], warmup=1000, clip=0, lr=6e-3),
    *variants('w1000-clip2', [1, 2], warmup=1000, clip=2), *variants('w1000-b2-0.999', [1, 2], warmup=1000, beta2=0.999),
    *variants('w500-noclip', [1, 2], warmup=500, clip=0),
    *variants('w1000-noclip-lr5e-3', [1, 2], warmup=1000, clip=0, lr=5e-3),
    *variants('w3000-noclip', [1, 2], warmup=3000, clip=0), *variants('base', [1, 2]),
])]

if __name__ == '__main__' and len(sys.argv) > 2 and sys.argv[2] == 'round2':
    with open(f'{sys.argv[1]}-r2.json', 'w') as f:
        json.dump(ROUND2, f, indent=1)
    print('round 2', [(e['name'], e['steps'], len(e['members'])) for e in ROUND2])
