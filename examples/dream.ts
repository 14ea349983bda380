// DeepDreams a built-in photo through Loom's public API, on the built-in InceptionV3, and
// stops a second, long dream after two seconds with what it made so far.
// Run after `npm run build`: node dist/examples/dream.js [folder]
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { dream, loadImage, writeImage } from '../src/index.js';

const work = process.argv[2] ?? mkdtempSync(path.join(tmpdir(), 'loom-dream-'));
mkdirSync(work, { recursive: true });

// A small photo and a few steps per octave: seconds. The CLI's defaults dream at full size.
using photo = await loadImage('builtin:kite', { maxSide: 160 });
const small = { octaves: 2, steps: 5 };
const image = await dream.run(photo, small, {
  onProgress: (p) => console.log(`octave ${p.step.octave}, step ${p.step.step}: loss ${p.step.loss.toFixed(2)}`),
});
await writeImage(path.join(work, 'dream.png'), image);
image.dispose();

const stop = new AbortController();
setTimeout(() => stop.abort(), 2000);
const partial = await dream.run(photo, { ...small, steps: 100_000 }, { signal: stop.signal });
await writeImage(path.join(work, 'stopped.png'), partial);
partial.dispose();
console.log(`wrote dream.png and stopped.png in ${work}`);
