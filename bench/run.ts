// `npm run bench -- [engine|text|vae|gan|dream|style|all] [--quick]`: Loom beside PyTorch, printed as ratios.
// `npm run bench -- gpt [--quick]`: the character transformer's step and cached generation beside PyTorch's.
// `npm run bench -- ddp [--quick]`: 2 processes x 1 thread (c10d) against 1 process x 2 threads.
// `npm run bench -- soak [--minutes N] [--only LOOP,...]`: resident memory of every long loop over N minutes.
// `npm run bench -- gan-recipes [--minutes M]`: the GAN recipes at equal time, judged by an MNIST classifier.
// `npm run bench -- style-quality [--height H] [--paintings a.jpg,...]`: results judged on colour, texture, content.
// `npm run bench -- wait-policy [--quick] [--only gpt,text,...]`: OpenMP's waiting and trainings, idle and busy.
// `npm run bench -- parity [--rounds N] [--only text,...] [--variants] [--precision bf16]`: every workload in turns.
// `npm run bench -- precision [--quick] [--threads N]`: the transformer step in fp32 and bf16.
// `npm run bench -- precision-quality [--steps N] [--only gan,...] [--seeds 0,1,2]`: each system's scores,
//   fp32 against bf16.
// `npm run bench -- attention [--quick]`: fused attention (libtorch 2.x) beside the matmul path.
// `npm run bench -- webcam [--side N] [--seconds S]`: the studio's webcam through fast style nets, frames a second.
// `npm run bench -- video [--steps N] [--stability 0,100] [--frames N]`: flicker of fast style and dreams, still scene.
import path from 'node:path';
import { engineBench } from './engine.js';
import { textBench } from './text.js';
import { gptBench } from './gpt.js';
import { vaeBench } from './vae.js';
import { ganBench } from './gan.js';
import { dreamBench, dreamMemory } from './dream.js';
import { styleBench } from './style.js';
import { soakBench } from './soak.js';
import { ddpBench } from './ddp.js';
import { ganRecipesBench } from './gan-recipes.js';
import { styleQualityBench } from './style-quality.js';
import { videoBench } from './video.js';
import { busyTrainingBench, waitPolicyBench } from './wait-policy.js';
import { parityBench } from './parity.js';
import { precisionBench } from './precision.js';
import { PRECISION_QUALITY_WORKLOADS, precisionQualityBench } from './precision-quality.js';
import { attentionBench } from './attention.js';
import { webcamBench } from './webcam.js';
import { repoRoot } from './util.js';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const which = args.find((a) => !a.startsWith('--')) ?? 'all';
/** The value after `flag`, if given. */
const at = (flag: string) => (args.includes(flag) ? args[args.indexOf(flag) + 1] : undefined);
if (which === 'soak') {
  const minutes = Number(at('--minutes') ?? 30);
  if (!(minutes > 0)) {
    console.error('--minutes needs a number > 0');
    process.exit(2);
  }
  const results = await soakBench(minutes, at('--only')?.split(',') ?? null);
  process.exit(results.every((r) => r.exitCode === 0 || r.signal === 'SIGINT') ? 0 : 1);
}
if (which === 'style-quality') {
  const height = Number(at('--height') ?? 256);
  if (!Number.isInteger(height) || height < 75) {
    console.error('--height needs a whole number >= 75');
    process.exit(2);
  }
  await styleQualityBench({
    height,
    paintings: at('--paintings')?.split(',').filter(Boolean) ?? [],
    sheet: path.resolve(at('--sheet') ?? path.join(repoRoot, 'docs', 'images', 'style-quality.jpg')),
  });
  process.exit(0);
}
if (which === 'video') {
  const steps = Number(at('--steps') ?? 300);
  const frames = Number(at('--frames') ?? 24);
  const stabilities = (at('--stability') ?? '0,1000').split(',').map(Number);
  if (
    !Number.isInteger(steps) ||
    steps < 1 ||
    !Number.isInteger(frames) ||
    frames < 2 ||
    !stabilities.every((x) => x >= 0)
  ) {
    console.error('--steps needs a whole number >= 1, --frames >= 2, --stability numbers >= 0');
    process.exit(2);
  }
  await videoBench({
    steps,
    frames,
    stabilities,
    gif: path.resolve(at('--gif') ?? path.join(repoRoot, 'docs', 'images', 'video-flicker.webp')),
  });
  process.exit(0);
}
if (which === 'parity') {
  const rounds = at('--rounds') === undefined ? null : Number(at('--rounds'));
  if (rounds !== null && !(Number.isInteger(rounds) && rounds >= 2)) {
    console.error('--rounds needs a whole number >= 2');
    process.exit(2);
  }
  const precision = at('--precision') ?? 'fp32';
  if (precision !== 'fp32' && precision !== 'bf16') {
    console.error('--precision must be fp32 or bf16');
    process.exit(2);
  }
  await parityBench({
    rounds,
    only: at('--only')?.split(',') ?? null,
    variants: args.includes('--variants'),
    precision,
  });
  process.exit(0);
}
if (which === 'wait-policy') {
  waitPolicyBench(quick, at('--only')?.split(',') ?? null);
  busyTrainingBench(quick ? 0.25 : 0.5);
  process.exit(0);
}
if (which === 'gan-recipes') {
  const minutes = Number(at('--minutes') ?? 2);
  if (!(minutes > 0)) {
    console.error('--minutes needs a number > 0');
    process.exit(2);
  }
  await ganRecipesBench(minutes);
  process.exit(0);
}
if (which === 'webcam') {
  const side = Number(at('--side') ?? 256);
  const seconds = Number(at('--seconds') ?? 10);
  if (!Number.isInteger(side) || side < 4 || !(seconds > 0)) {
    console.error('--side needs a whole number >= 4, --seconds a number > 0');
    process.exit(2);
  }
  await webcamBench({ side, seconds });
  process.exit(0);
}
if (which === 'attention') {
  attentionBench(quick);
  process.exit(0);
}
if (which === 'precision') {
  const threads = Number(at('--threads') ?? 1);
  if (!Number.isInteger(threads) || threads < 1) {
    console.error('--threads needs a whole number >= 1');
    process.exit(2);
  }
  await precisionBench({ quick, threads });
  process.exit(0);
}
if (which === 'precision-quality') {
  const steps = Number(at('--steps') ?? 600);
  const only = at('--only')?.split(',') ?? null;
  const unknown = only?.filter((w) => !PRECISION_QUALITY_WORKLOADS.includes(w)) ?? [];
  const seeds = (at('--seeds') ?? '0').split(',').map(Number);
  if (!Number.isInteger(steps) || steps < 1 || unknown.length || !seeds.every((s) => Number.isInteger(s) && s >= 0)) {
    console.error(
      `--steps needs a whole number >= 1; --seeds whole numbers >= 0, comma-separated; --only takes ${PRECISION_QUALITY_WORKLOADS.join(', ')}`,
    );
    process.exit(2);
  }
  await precisionQualityBench({ steps, only, seeds });
  process.exit(0);
}
if (which === 'gpt') {
  await gptBench(quick);
  process.exit(0);
}
if (which === 'ddp') {
  await ddpBench(quick);
  process.exit(0);
}
if (which === 'dream-memory') {
  dreamMemory();
  process.exit(0);
}
if (!['engine', 'text', 'vae', 'gan', 'dream', 'style', 'all'].includes(which)) {
  console.error(`unknown benchmark '${which}'; use engine, text, vae, gan, dream, style or all`);
  process.exit(2);
}
if (which === 'engine' || which === 'all') await engineBench(quick);
if (which === 'text' || which === 'all') await textBench(quick);
if (which === 'vae' || which === 'all') await vaeBench(quick);
if (which === 'gan' || which === 'all') await ganBench(quick);
if (which === 'dream' || which === 'all') await dreamBench(quick);
if (which === 'style' || which === 'all') await styleBench(quick);
