// Style benchmark, Loom beside PyTorch in one run: one loss-and-gradient evaluation of the book's
// Gatys loss on VGG19 at 400x600, and one fast-style forward pass on a 512x512 photo.
// Usage: npm run bench -- style [--quick]
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import * as T from '../src/torch/index.js';
import { StyleNet, StyleObjective, styleDefaults } from '../src/models/style/index.js';
import { ompWaitPolicySetByLoom } from '../src/torch/native.js';
import { VGG19 } from '../src/vision/vgg.js';
import type { Backbone } from '../src/vision/weights.js';
import { printTable, python, repoRoot, workloadMs, type Workload } from './util.js';

/** One evaluation of the book's Gatys loss and gradient on VGG19 (random weights); torch_style_bench.py's evaluate. */
export function gatysWorkload(c: { height: number; width: number }): Workload {
  T.manualSeed(0);
  const net = new VGG19().freeze();
  const b: Backbone = {
    net,
    info: { arch: 'vgg19', head: 'none', pool: 'keras', preprocess: 'caffe', source: 'random', width: 1 },
    file: '',
  };
  const d = styleDefaults('vgg19');
  const content = T.keep(T.rand([1, 3, c.height, c.width]).mul(255));
  const style = T.keep(T.rand([1, 3, c.height, c.width]).mul(255));
  const obj = new StyleObjective(
    b,
    { content: d.content, style: d.style },
    content,
    [{ image: style, weight: 1 }],
    d.weights,
  );
  const x = T.keep(content.clone().requiresGrad_(true));
  return {
    step: () =>
      T.tidy(() => {
        x.grad = null;
        const t = obj.terms(x);
        t.total.backward();
        t.total.item();
      }),
    dispose: () => {
      obj.dispose();
      net.dispose();
      for (const t of [content, style, x]) t.dispose();
    },
  };
}

/** One forward pass of the fast style network on a 512x512 photo; torch_style_bench.py's apply. */
export function styleApplyWorkload(): Workload {
  T.manualSeed(0);
  const sn = new StyleNet().freeze();
  sn.eval();
  const photo = T.keep(T.rand([1, 3, 512, 512]));
  return {
    step: () => T.noGrad(() => T.tidy(() => void sn.forward(photo))),
    dispose: () => {
      photo.dispose();
      sn.dispose();
    },
  };
}

export async function styleBench(quick: boolean): Promise<void> {
  const threads = os.availableParallelism();
  const cfg = { height: 400, width: 600, evals: quick ? 2 : 5, applies: quick ? 2 : 5, threads };
  const env = { ...process.env };
  if (ompWaitPolicySetByLoom) delete env.OMP_WAIT_POLICY;
  const run = (e: NodeJS.ProcessEnv) =>
    JSON.parse(
      execFileSync(python(), [path.join(repoRoot, 'bench', 'torch_style_bench.py'), JSON.stringify(cfg)], {
        encoding: 'utf8',
        env: e,
      }),
    ) as { ms_per_eval: number; ms_apply: number };
  const torchDefault = run(env);
  const torchPassive = run({ ...process.env, OMP_WAIT_POLICY: 'PASSIVE' });
  T.setNumThreads(threads);
  const loomEval = workloadMs(gatysWorkload(cfg), cfg.evals, 1);
  const loomApply = workloadMs(styleApplyWorkload(), cfg.applies, 1);
  printTable(
    ['style benchmark', 'Loom', 'PyTorch', 'PyTorch, passive', 'time ratio Loom/PyTorch'],
    [
      [
        'Gatys loss + gradient, VGG19 400x600, ms',
        loomEval.toFixed(0),
        torchDefault.ms_per_eval.toFixed(0),
        torchPassive.ms_per_eval.toFixed(0),
        (loomEval / torchDefault.ms_per_eval).toFixed(2),
      ],
      [
        'fast style apply, 512x512, ms',
        loomApply.toFixed(0),
        torchDefault.ms_apply.toFixed(0),
        torchPassive.ms_apply.toFixed(0),
        (loomApply / torchDefault.ms_apply).toFixed(2),
      ],
    ],
  );
  console.log(
    JSON.stringify({
      date: new Date().toISOString(),
      machine: `${os.cpus()[0].model}, ${threads} cores`,
      threads,
      loomEval,
      loomApply,
      pytorch: torchDefault,
      pytorchPassive: torchPassive,
    }),
  );
}
