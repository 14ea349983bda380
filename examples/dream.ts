// DeepDreams a built-in photo through Loom's public API, on the built-in InceptionV3.
// Run after `npm run build`: node dist/examples/dream.js [folder]
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { dream, loadImage, writeImage } from '../src/index.js';

const work = process.argv[2] ?? mkdtempSync(path.join(tmpdir(), 'loom-dream-'));
mkdirSync(work, { recursive: true });

// A small photo and a few steps per octave: seconds. The CLI's defaults dream at full size.
// The dream stops early (with the image so far) if it runs past a minute, or on a user's abort.
using photo = await loadImage('builtin:kite', { maxSide: 160 });
const image = await dream.run(
  photo,
  { octaves: 2, steps: 5 },
  {
    signal: AbortSignal.timeout(60_000),
    onProgress: (p) => console.log(`octave ${p.step.octave}, step ${p.step.step}: loss ${p.step.loss.toFixed(2)}`),
  },
);
await writeImage(path.join(work, 'dream.png'), image);
image.dispose();
console.log(`wrote dream.png in ${work}`);
