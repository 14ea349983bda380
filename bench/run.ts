// `npm run bench -- [engine|text|all] [--quick]`: Loom beside PyTorch, printed as ratios.
import { engineBench } from './engine.js';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const which = args.find((a) => !a.startsWith('--')) ?? 'all';
if (which === 'engine' || which === 'all') await engineBench(quick);
