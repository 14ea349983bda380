// Paints a built-in photo in the style of Munch's Scream through Loom's public API (Gatys
// et al.'s method on the built-in InceptionV3), small and briefly.
// Run after `npm run build`: node dist/examples/style.js [folder]
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { style, writeImage } from '../src/index.js';

const work = process.argv[2] ?? mkdtempSync(path.join(tmpdir(), 'loom-style-'));
mkdirSync(work, { recursive: true });

// Height 96 and two L-BFGS iterations: seconds. `loom style` paints at 400 with 10.
const painted = await style.transfer(
  'builtin:horses',
  [{ image: 'builtin:scream', weight: 1 }],
  { height: 96, iterations: 2 },
  { onProgress: (p) => console.log(`iteration ${p.iteration.iteration}: loss ${p.iteration.loss.toExponential(3)}`) },
);
await writeImage(path.join(work, 'styled.png'), painted);
painted.dispose();
console.log(`wrote styled.png in ${work}`);
