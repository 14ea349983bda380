// DeepDream on a tiny InceptionV3 (random weights, 1/8 width): steps, octaves, tiles, leaks, errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as T from '../src/torch/index.js';
import { Rng } from '../src/util/random.js';
import { resize } from '../src/io/images.js';
import {
  DREAM_DEFAULTS,
  FrameDreamer,
  changeMask,
  dream,
  dreamLoss,
  dreamStep,
  dreamZoom,
  guideFeatures,
  lapNormalize,
  octaveShapes,
  parseChannels,
  layersInOctave,
  parseLayerOctaves,
  parseLayers,
  pickChannels,
  type DreamConfig,
} from '../src/models/dream/index.js';
import { repoRoot } from './helpers.js';
import { tinyInception } from './small-models.js';

const CLI = path.join(repoRoot, 'dist', 'src', 'cli', 'main.js');

const small: DreamConfig = { ...DREAM_DEFAULTS, octaves: 2, steps: 2, maxLoss: null, jitter: 8 };

test('parseLayers reads layer=weight and layer:channel=weight lists; --channels choices; junk is refused', () => {
  assert.deepEqual(parseLayers('mixed2=0.2, mixed4:97=2,mixed4:12,mixed5'), {
    mixed2: 0.2,
    'mixed4:97': 2,
    'mixed4:12': 1,
    mixed5: 1,
  });
  assert.throws(() => parseLayers('mixed2=abc'), /not a number/);
  assert.throws(() => parseLayers('mixed3:0.5'), /channel "0.5" of mixed3 is not a whole number/);
  assert.throws(() => parseLayers(' , '), /at least one layer/);
  assert.equal(parseChannels('all'), 'all');
  assert.deepEqual(parseChannels('strong'), { pick: 'strong', count: 4 });
  assert.deepEqual(parseChannels('weak:9'), { pick: 'weak', count: 9 });
  assert.throws(() => parseChannels('loud'), /--channels takes all, strong, weak/);
});

test("a channel's loss is its own squared activation; strong and weak pick the photo's most and least active channels", () => {
  const b = tinyInception();
  T.manualSeed(4);
  T.tidy(() => {
    const img = T.rand([1, 3, 96, 112]).mul(2).sub(1);
    const a = T.noGrad(() => b.net.endpoints(img, ['mixed3']).get('mixed3')!);
    const [, , h, w] = a.shape;
    const own =
      a
        .narrow(1, 5, 1)
        .narrow(2, 2, h - 4)
        .narrow(3, 2, w - 4)
        .square()
        .sum()
        .item() /
      (h * w);
    const loss = T.noGrad(() => dreamLoss(b, img, { 'mixed3:5': 2 }).item());
    assert.ok(Math.abs(loss - 2 * own) < 1e-5 * (1 + Math.abs(loss)), `${loss} vs ${2 * own}`);
    assert.throws(
      () => T.noGrad(() => dreamLoss(b, img, { 'mixed3:9999': 1 })),
      /mixed3 has channels 0 to \d+; there is no channel 9999/,
    );
    const means = a.mean({ dim: [0, 2, 3] }).toFlatArray() as number[];
    const ranked = means.map((m, i) => [m, i]).sort((x, y) => y[0] - x[0]);
    const strong = pickChannels(b, img, { mixed3: 3, 'mixed2:1': 1 }, { pick: 'strong', count: 3 });
    const top3 = ranked.slice(0, 3).map(([, i]) => [`mixed3:${i}`, 1]);
    assert.deepEqual(strong, Object.fromEntries([...top3, ['mixed2:1', 1]]));
    const weakest = ranked.filter(([m]) => m > 0).at(-1)![1];
    assert.ok(`mixed3:${weakest}` in pickChannels(b, img, { mixed3: 1 }, { pick: 'weak', count: 2 }));
  });
  b.net.dispose();
});

test("guided: the loss pulls each position toward the guide's most alike vector, and steps raise it", () => {
  const b = tinyInception();
  T.manualSeed(5);
  const img = T.keep(T.rand([1, 3, 96, 96]).mul(2).sub(1));
  const guideImage = T.rand([1, 3, 100, 120]);
  const layers = { mixed3: 1, 'mixed4:3': 2 };
  const guide = guideFeatures(b, guideImage, layers, 100, 120);
  // The loss is Σ_positions max_j x_i · g_j, weighted and divided by the activation's size.
  const expected = T.noGrad(() =>
    T.tidy(() => {
      const acts = b.net.endpoints(img, ['mixed3', 'mixed4']);
      let sum = 0;
      for (const [name, ch, w] of [
        ['mixed3', null, 1],
        ['mixed4', 3, 2],
      ] as const) {
        const a = ch === null ? acts.get(name)! : acts.get(name)!.narrow(1, ch, 1);
        const x = a.reshape([a.size(1), -1]);
        const g = guide.get(ch === null ? name : `${name}:${ch}`)!.reshape([a.size(1), -1]);
        sum += (x.t().matmul(g).max(1)[0].sum().item() * w) / a.numel;
      }
      return sum;
    }),
  );
  const before = T.noGrad(() => dreamLoss(b, img, layers, guide).item());
  assert.ok(Math.abs(before - expected) < 1e-4 * (1 + Math.abs(expected)), `${before} vs ${expected}`);
  const cfg = { layers, stepSize: 0.05, jitter: 0, tile: 0, maxLoss: null };
  for (let i = 0; i < 3; i++) dreamStep(b, img, cfg, new Rng(i), guide);
  const after = T.noGrad(() => dreamLoss(b, img, layers, guide).item());
  assert.ok(after > before, `guided loss ${before} -> ${after}`);
  for (const t of [img, guideImage, ...guide.values()]) t.dispose();
  b.net.dispose();
});

test("Laplacian normalisation: one level is g / rms(g); any level is blind to the gradient's scale and keeps its shape", () => {
  T.manualSeed(6);
  T.tidy(() => {
    const g = T.randn([1, 3, 37, 50]);
    const one = lapNormalize(g, 1);
    const rms = g.square().mean().sqrt().item();
    assert.ok(one.sub(g.div(rms)).abs().max().item() < 1e-5);
    const four = lapNormalize(g, 4);
    assert.deepEqual(four.shape, [1, 3, 37, 50]);
    assert.ok(lapNormalize(g.mul(7), 4).sub(four).abs().max().item() < 1e-4);
    // Noise's coarse part is faint; per band, it weighs as much as the fine detail.
    const coarseShare = (x: T.Tensor) =>
      resize(T.adaptiveAvgPool2d(x, [5, 7]), 37, 50)
        .square()
        .mean()
        .sqrt()
        .item() / x.square().mean().sqrt().item();
    const [before, after] = [coarseShare(g), coarseShare(four)];
    assert.ok(after > 2 * before, `coarse share of the gradient: ${before.toFixed(3)} -> ${after.toFixed(3)}`);
  });
});

test('a dream with a guide, picked channels and a Laplacian pyramid keeps the size and does not leak', async () => {
  const b = tinyInception();
  const img = T.rand([1, 3, 112, 120]);
  const guideImage = T.rand([1, 3, 60, 70]); // smaller than the net's least input: scaled up
  const cfg = { ...small, guide: guideImage, channels: { pick: 'strong', count: 2 } as const, lapLevels: 3 };
  (await dream(b, img, cfg)).dispose();
  const live = T.liveTensors().undisposed;
  const out = await dream(b, img, cfg);
  assert.deepEqual(out.shape, [1, 3, 112, 120]);
  assert.ok(Number.isFinite(T.tidy(() => out.sum().item())));
  out.dispose();
  assert.equal(T.liveTensors().undisposed, live);
  for (const t of [img, guideImage]) t.dispose();
  b.net.dispose();
});

test('octave shapes run from the smallest to the original size', () => {
  assert.deepEqual(octaveShapes(300, 400, 3, 1.4), [
    [153, 204],
    [214, 286],
    [300, 400],
  ]);
});

test("one dream step raises the chosen layers' loss", () => {
  const b = tinyInception();
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

test("layer@octaves: each layer dreams only in its octaves; the last octave's layers carry on in video frames", async () => {
  assert.deepEqual(parseLayers('mixed3=2@1-2,mixed5@3,mixed4:7=1'), { mixed3: 2, mixed5: 1, 'mixed4:7': 1 });
  assert.deepEqual(parseLayerOctaves('mixed3=2@1-2,mixed5@3,mixed4:7=1'), { mixed3: [1, 2], mixed5: [3, 3] });
  assert.throws(() => parseLayers('mixed3@2-1'), /octaves "@2-1" of mixed3 must be @N or @FIRST-LAST/);
  assert.throws(() => parseLayers('mixed3@0'), /counted from 1/);
  const ranges = { mixed3: [1, 2], 'mixed4:7': [2, 2] } as Record<string, [number, number]>;
  const layers = { mixed3: 1, 'mixed3:5': 1, 'mixed4:7': 1, mixed5: 1 };
  assert.deepEqual(Object.keys(layersInOctave(layers, ranges, 1)), ['mixed3', 'mixed3:5', 'mixed5']);
  assert.deepEqual(Object.keys(layersInOctave(layers, ranges, 2)), ['mixed3', 'mixed3:5', 'mixed4:7', 'mixed5']);
  assert.deepEqual(Object.keys(layersInOctave(layers, ranges, 3)), ['mixed5']);
  const b = tinyInception();
  T.manualSeed(3);
  const img = T.rand([1, 3, 112, 112]);
  // mixed3 in the first octave only, mixed4 in the second only: each octave's loss is its layer's.
  const cfg = {
    ...small,
    jitter: 0,
    layers: { mixed3: 1, mixed4: 1 },
    layerOctaves: { mixed3: [1, 1], mixed4: [2, 2] },
  } as DreamConfig;
  const seen: [number, number][] = [];
  const out = await dream(b, img, cfg, { onStep: (st) => void seen.push([st.octave, st.loss]) });
  const lossOf = (x: T.Tensor, l: string) =>
    T.noGrad(() => T.tidy(() => dreamLoss(b, x.mul(2).sub(1), { [l]: 1 }).item()));
  const first = T.tidy(() => resize(img, ...octaveShapes(112, 112, 2, small.octaveScale)[0]));
  assert.ok(Math.abs(seen[0][1] - lossOf(first, 'mixed3')) < 1e-4 * seen[0][1], `octave 1 is mixed3's: ${seen[0][1]}`);
  assert.deepEqual(
    seen.map(([o]) => o),
    [0, 0, 1, 1],
  );
  // An octave past --octaves is refused; an octave with no layers takes no steps.
  await assert.rejects(dream(b, img, { ...cfg, layerOctaves: { mixed4: [2, 3] } }), /names octave 3, but there are 2/);
  seen.length = 0;
  const idle = await dream(
    b,
    img,
    { ...cfg, layers: { mixed4: 1 } },
    { onStep: (st) => void seen.push([st.octave, st.loss]) },
  );
  assert.deepEqual(
    seen.map(([o]) => o),
    [1, 1],
  );
  // Video frames after the first take one octave with the last octave's layers (mixed4 here).
  const fd = new FrameDreamer(b, cfg, { stepsPerFrame: 1 });
  (await fd.next(img)).dispose();
  seen.length = 0;
  (await fd.next(img, { onStep: (st) => void seen.push([st.octave, st.loss]) })).dispose();
  assert.equal(seen.length, 1);
  fd.dispose();
  for (const t of [img, out, first, idle]) t.dispose();
  b.net.dispose();
});

test('a dream keeps the input size; tiled and untiled agree when the image fits one tile', async () => {
  const b = tinyInception();
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
  const b = tinyInception();
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

test('changeMask: off where frames differ by noise, on where something moved', () => {
  T.manualSeed(4);
  const [a, b, c] = T.keep(
    T.tidy(() => {
      const scene = T.rand([1, 3, 64, 64]);
      const noisy = () => scene.add(T.randn([1, 3, 64, 64]).mul(0.04));
      const moved = noisy();
      moved.narrow(2, 16, 24).narrow(3, 16, 24).fill_(1);
      return [noisy(), noisy(), moved];
    }),
  );
  const still = changeMask(b, a);
  const move = changeMask(c, a);
  const mean = (t: T.Tensor) => T.tidy(() => t.mean().item());
  assert.ok(mean(still) < 0.05, `mask over noise alone ${mean(still)}`);
  const inside = T.tidy(() => move.narrow(2, 20, 16).narrow(3, 20, 16));
  assert.ok(mean(inside) > 0.95, `mask where the square moved in ${mean(inside)}`);
  for (const t of [a, b, c, still, move, inside]) t.dispose();
});

test('video frames: warm starts carry the dream from frame to frame, halving the flicker of fresh dreams; what moves is not left behind; no frame piles up', async () => {
  const b = tinyInception();
  T.manualSeed(9);
  // A static camera: one scene, a little sensor noise per frame.
  const scene = T.keep(T.rand([1, 3, 96, 96]));
  const frames = Array.from({ length: 4 }, () =>
    T.keep(T.tidy(() => scene.add(T.randn([1, 3, 96, 96]).mul(0.02)).clamp(0, 1))),
  );
  const cfg = { ...small, octaves: 1, steps: 8, stepSize: 0.05 };
  const flicker = async (warm: boolean) => {
    const fd = new FrameDreamer(b, cfg, { warm, stepsPerFrame: 2 });
    const outs: T.Tensor[] = [];
    for (const f of frames) outs.push(await fd.next(f));
    const live = T.liveTensors().undisposed;
    (await fd.next(frames[0])).dispose();
    assert.equal(T.liveTensors().undisposed, live, 'one frame pair held, no more');
    fd.dispose();
    let din = 0;
    let dout = 0;
    for (let i = 1; i < frames.length; i++) {
      din += T.tidy(() =>
        frames[i]
          .sub(frames[i - 1])
          .abs()
          .mean()
          .item(),
      );
      dout += T.tidy(() =>
        outs[i]
          .sub(outs[i - 1])
          .abs()
          .mean()
          .item(),
      );
    }
    for (const t of outs) t.dispose();
    return dout / din;
  };
  const [warm, cold] = [await flicker(true), await flicker(false)];
  assert.ok(warm <= cold / 2, `flicker: warm ${warm.toFixed(2)}, fresh ${cold.toFixed(2)}`);
  // What moves is taken from the new frame, not left behind: a bright square crossing a dark,
  // noisy scene is bright where it is and dark where it was (no ghost).
  const square = (x: number) =>
    T.keep(
      T.tidy(() => {
        const f = T.full([1, 3, 96, 96], 0.2).add(T.randn([1, 3, 96, 96]).mul(0.02));
        f.narrow(2, 36, 24).narrow(3, x, 24).fill_(0.9);
        return f.clamp(0, 1);
      }),
    );
  const moving = [8, 36, 64].map(square);
  const fd = new FrameDreamer(b, cfg, { stepsPerFrame: 2 });
  const outs: T.Tensor[] = [];
  for (const f of moving) outs.push(await fd.next(f));
  fd.dispose();
  const at = (t: T.Tensor, x: number) => T.tidy(() => t.narrow(2, 36, 24).narrow(3, x, 24).mean().item());
  assert.ok(
    at(outs[2], 64) > 0.7 && at(outs[2], 36) < 0.4,
    `square now ${at(outs[2], 64)}, where it was ${at(outs[2], 36)}`,
  );
  for (const t of [...moving, ...outs]) t.dispose();
  for (const t of [scene, ...frames]) t.dispose();
  b.net.dispose();
});

test('unknown layers and too small images get one clear sentence', async () => {
  const b = tinyInception();
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
    // A video in: a video out (or one sentence), never a still.
    const clip = path.join(dir, 'clip.mp4');
    writeFileSync(clip, 'not a video');
    for (const [args, re] of [
      [['--out', path.join(dir, 'o.png')], /the input is a video; give --out a video file/],
      [['--out', path.join(dir, 'o.mp4'), '--max-side', '64'], /are for a still image/],
      [['--out', path.join(dir, 'o.mp4')], /cannot read video .*clip\.mp4/],
    ] as const) {
      r = spawnSync(process.execPath, [CLI, 'dream', clip, ...args], { encoding: 'utf8' });
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, re);
      assert.equal(r.stderr.trim().split('\n').length, 1);
    }
    assert.ok(!existsSync(path.join(dir, 'o.mp4')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
