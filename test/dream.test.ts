// DeepDream on a tiny InceptionV3 (random weights, 1/8 width): steps, octaves, tiles, leaks, errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as T from '../src/torch/index.js';
import { Rng } from '../src/util/random.js';
import { InceptionV3 } from '../src/vision/inception.js';
import type { Backbone } from '../src/vision/weights.js';
import {
  DREAM_DEFAULTS,
  dream,
  dreamLoss,
  dreamStep,
  dreamZoom,
  octaveShapes,
  parseLayers,
  type DreamConfig,
} from '../src/models/dream/index.js';
import { repoRoot } from './helpers.js';

const CLI = path.join(repoRoot, 'dist', 'src', 'cli', 'main.js');

function tinyBackbone(): Backbone {
  T.manualSeed(1);
  const net = new InceptionV3({ width: 1 / 8, poolIncludesPadding: false });
  // PyTorch's default init shrinks activations layer by layer; He's scale keeps them alive deep down.
  T.noGrad(() => {
    for (const [n, p] of net.namedParameters()) if (n.endsWith('conv.weight')) p.mul_(Math.sqrt(6));
  });
  net.freeze();
  return {
    net,
    info: { arch: 'inception', head: 'none', pool: 'keras', preprocess: 'inception', source: 'test', width: 1 / 8 },
    file: '',
  };
}

const small: DreamConfig = { ...DREAM_DEFAULTS, octaves: 2, steps: 2, maxLoss: null, jitter: 8 };

test('parseLayers reads name=weight and name:weight lists; junk is refused', () => {
  assert.deepEqual(parseLayers('mixed2=0.2, mixed3:3,mixed4'), { mixed2: 0.2, mixed3: 3, mixed4: 1 });
  assert.throws(() => parseLayers('mixed2=abc'), /not a number/);
  assert.throws(() => parseLayers(' , '), /at least one layer/);
});

test('octave shapes run from the smallest to the original size', () => {
  assert.deepEqual(octaveShapes(300, 400, 3, 1.4), [
    [153, 204],
    [214, 286],
    [300, 400],
  ]);
});

test("one dream step raises the chosen layers' loss", () => {
  const b = tinyBackbone();
  T.manualSeed(2);
  const img = T.keep(T.rand([1, 3, 96, 112]).mul(2).sub(1));
  const layers = { mixed2: 0.2, mixed3: 3 };
  const before = T.noGrad(() => dreamLoss(b, img, layers).item());
  dreamStep(b, img, { layers, stepSize: 0.05, jitter: 0, tile: 0, maxLoss: null }, new Rng(0));
  const after = T.noGrad(() => dreamLoss(b, img, layers).item());
  assert.ok(after > before, `loss ${before} -> ${after}`);
  img.dispose();
  b.net.dispose();
});

test('a dream keeps the input size; tiled and untiled agree when the image fits one tile', async () => {
  const b = tinyBackbone();
  T.manualSeed(3);
  const img = T.rand([1, 3, 117, 131]);
  const untiled = await dream(b, img, { ...small, tile: 0 });
  const tiled = await dream(b, img, { ...small, tile: 512 });
  assert.deepEqual(untiled.shape, [1, 3, 117, 131]);
  const diff = T.tidy(() => untiled.sub(tiled).abs().max().item());
  assert.ok(diff < 1e-6, `max difference ${diff}`);
  const changed = T.tidy(() => untiled.sub(img).abs().mean().item());
  assert.ok(changed > 1e-3, `the dream changed the image (${changed})`);
  // Bigger than a tile: dreamed in 4 tiles, still the input's size and still finite.
  const big = T.rand([1, 3, 200, 190]);
  const tiledBig = await dream(b, big, { ...small, octaves: 1, tile: 100 });
  assert.deepEqual(tiledBig.shape, [1, 3, 200, 190]);
  assert.ok(Number.isFinite(T.tidy(() => tiledBig.sum().item())));
  for (const t of [img, untiled, tiled, big, tiledBig]) t.dispose();
  b.net.dispose();
});

test('dream steps do not leak tensors; a zoom animation has frames of the input size', async () => {
  const b = tinyBackbone();
  const img = T.keep(T.rand([1, 3, 96, 96]).mul(2).sub(1));
  const rng = new Rng(0);
  const cfg = { layers: { mixed3: 1 }, stepSize: 0.01, jitter: 8, tile: 64, maxLoss: null };
  dreamStep(b, img, cfg, rng);
  const at1 = T.liveTensors().undisposed;
  for (let i = 0; i < 5; i++) dreamStep(b, img, cfg, rng);
  assert.equal(T.liveTensors().undisposed, at1);
  // Frames arrive one by one and are freed after: the live count is flat from frame to frame.
  const shapes: number[][] = [];
  const live: number[] = [];
  const input = T.rand([1, 3, 90, 100]);
  const made = await dreamZoom(b, input, { ...small, octaves: 1 }, 4, (f) => {
    shapes.push(f.shape);
    live.push(T.liveTensors().undisposed);
  });
  assert.equal(made, 4);
  for (const s of shapes) assert.deepEqual(s, [1, 3, 90, 100]);
  assert.equal(live[3], live[1], 'no frame piles up');
  input.dispose();
  img.dispose();
  b.net.dispose();
});

test('unknown layers and too small images get one clear sentence', async () => {
  const b = tinyBackbone();
  const img = T.rand([1, 3, 96, 96]);
  await assert.rejects(
    dream(b, img, { ...small, layers: { mixed11: 1 } }),
    /unknown layer "mixed11" for inception; valid layers: mixed0, mixed1/,
  );
  await assert.rejects(dream(b, img, { ...small, octaves: 3 }), /smallest octave would be 49x49/);
  img.dispose();
  b.net.dispose();
});

test('loom dream: bad image, unknown layer, existing --out get exit 2 and one line', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'loom-dream-'));
  try {
    const bad = path.join(dir, 'bad.jpg');
    writeFileSync(bad, 'not an image');
    let r = spawnSync(process.execPath, [CLI, 'dream', bad, '--out', path.join(dir, 'o.png')], { encoding: 'utf8' });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /^loom: cannot read image .*bad\.jpg/);
    assert.equal(r.stderr.trim().split('\n').length, 1);
    r = spawnSync(process.execPath, [CLI, 'dream', 'builtin:nothing', '--out', path.join(dir, 'o.png')], {
      encoding: 'utf8',
    });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /no built-in image "nothing"; built-in images: builtin:dog/);
    r = spawnSync(process.execPath, [CLI, 'dream', bad, '--out', bad], { encoding: 'utf8' });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /exists; choose another --out or add --force/);
    assert.ok(existsSync(bad));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
