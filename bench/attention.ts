// The transformer's attention, libtorch's fused scaled_dot_product_attention (2.x) beside the
// matmul and masked softmax, in float32 and under bf16 autocast: the training step at the
// text defaults, a longer context and a compute-bound shape, in alternating rounds.
// Usage: npm run bench -- attention [--quick]
import os from 'node:os';
import * as T from '../src/torch/index.js';
import { native } from '../src/torch/native.js';
import { TEXT_MODELS, attentionKernel } from '../src/models/text/index.js';
import { gptStepWorkload } from './gpt.js';
import { median, printTable, workloadMs } from './util.js';

const SHAPES = [
  { name: 'the text defaults', vocab: 65, ...TEXT_MODELS.gpt },
  { name: 'the defaults at context 256', vocab: 65, ...TEXT_MODELS.gpt, block: 256 },
  {
    name: '4 blocks, embed 256, context 128, batch 32',
    vocab: 65,
    embed: 256,
    heads: 4,
    layers: 4,
    block: 128,
    batch: 32,
  },
];

export function attentionBench(quick: boolean): void {
  if (!T.hasOp('aten::scaled_dot_product_attention')) {
    console.log(`libtorch ${native.info().torchVersion} has no scaled_dot_product_attention: nothing to compare`);
    return;
  }
  const rounds = quick ? 2 : 5;
  const steps = quick ? 3 : 10;
  console.log(
    `${os.cpus()[0].model}, ${T.getNumThreads()} threads, libtorch ${native.info().torchVersion}, ${rounds} rounds`,
  );
  const rows: string[][] = [];
  for (const s of SHAPES)
    for (const bf16 of T.bf16Supported() ? [false, true] : [false]) {
      const ms: Record<'fused' | 'matmul', number[]> = { fused: [], matmul: [] };
      try {
        for (let r = 0; r < rounds; r++)
          for (const fused of [true, false]) {
            attentionKernel.fused = fused;
            // Under autocast the model itself keeps the matmul path; the bench forces the kernel.
            attentionKernel.evenUnderAutocast = fused;
            ms[fused ? 'fused' : 'matmul'].push(workloadMs(gptStepWorkload(s, bf16), steps, 2));
          }
      } finally {
        attentionKernel.fused = true;
        attentionKernel.evenUnderAutocast = false;
      }
      const [f, m] = [median(ms.fused), median(ms.matmul)];
      rows.push([s.name, bf16 ? 'bf16' : 'fp32', f.toFixed(1), m.toFixed(1), (f / m).toFixed(2)]);
    }
  printTable(['transformer step', 'precision', 'fused ms', 'matmul ms', 'fused / matmul'], rows);
}
