// A short soak of each long loop, run as a user runs it, with resident memory sampled from
// outside: the growth that live-tensor counts cannot see (issue 13: a play's short lines
// grew the C heap to 4 GB in 30 s). `npm run bench -- soak` runs the same loops for longer.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { STUDIO_LOOP, soakLoops, soakOne, studioDriver } from '../bench/soak.js';
import { builtinJudge } from '../src/models/gan/index.js';

const dir = mkdtempSync(path.join(tmpdir(), 'loom-soak-test-'));
const GROWTH_MB = 100;
// Minutes of each loop: enough for hundreds of text steps, where the old growth showed by step 125.
const RUNS: [string, number][] = [
  ['text play', 0.75],
  ['text non-ASCII', 0.35],
  ['text generate', 0.3], // generates from the 'text play' run's folder
  ['vae train', 0.35],
  ['gan train', 0.5], // warm-up lasts until its first evaluation, later on a busy machine
  ['style train', 0.5], // loading Inception and the images takes 10-20 s
  ['style video', 0.35], // frames stream through ffmpeg: none is kept
  ['style (L-BFGS)', 0.35],
  [STUDIO_LOOP, 0.35],
  ['dream zoom', 0.35], // frames stream to the GIF: none is kept
];

// The GAN loop scores its samples with MNIST's judge, trained once per machine and kept in the
// weights cache: trained here first, so the loop's short budget is spent on training.
before(async () => (await builtinJudge('builtin:mnist'))?.net.dispose());

for (const [name, minutes] of RUNS) {
  test(`${name}: resident memory grows by under ${GROWTH_MB} MB after warm-up`, async () => {
    const r = await soakOne(
      name,
      soakLoops(dir, minutes)[name],
      minutes,
      name === STUDIO_LOOP ? studioDriver(100, minutes) : undefined,
    );
    // Generation has no checkpoint to write: Ctrl-C ends it outright.
    assert.ok(
      r.exitCode === 0 || (name === 'text generate' && r.signal === 'SIGINT'),
      `exit ${r.exitCode} (${r.signal})`,
    );
    assert.equal(r.driverError, null);
    if (name === STUDIO_LOOP) assert.ok(r.steps >= 2, `the studio finished ${r.steps} jobs`);
    // The window after warm-up must hold enough samples for the comparison to mean anything.
    assert.ok(r.samples >= 5, `only ${r.samples} samples after warm-up`);
    assert.ok(
      r.lastMb - r.startMb < GROWTH_MB,
      `peaks ${r.startMb.toFixed(0)} -> ${r.lastMb.toFixed(0)} MB (max ${r.maxMb.toFixed(0)})`,
    );
  });
}

test('cleanup', () => rmSync(dir, { recursive: true, force: true }));
