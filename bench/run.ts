// `npm run bench -- [engine|text|vae|gan|dream|style|all] [--quick]`: Loom beside PyTorch, printed as ratios.
import { engineBench } from './engine.js';
import { textBench } from './text.js';
import { vaeBench } from './vae.js';
import { ganBench } from './gan.js';
import { dreamBench, dreamMemory } from './dream.js';
import { styleBench } from './style.js';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const which = args.find((a) => !a.startsWith('--')) ?? 'all';
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
