// Style transfer: the book's loss terms against PyTorch (golden file and its script in
// test/golden/), L-BFGS on a tiny VGG19, colour preservation, fast style nets, leaks, errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as T from '../src/torch/index.js';
import { readImage, writeImage } from '../src/io/images.js';
import {
  STYLE_DEFAULTS,
  StyleObjective,
  checkStyleConfig,
  colourMatch,
  parseStyleLayer,
  contentLoss,
  gram,
  keepColors,
  resampleQuantiles,
  SlicedTarget,
  sortedProjections,
  loadStyleNet,
  styleLoss,
  totalVariationLoss,
  trainFastStyle,
  transferStyle,
  FastStyleLoss,
} from '../src/models/style/index.js';
import { assertClose, fromEnc, golden, repoRoot } from './helpers.js';
import { fastFixture, tinyVgg } from './small-models.js';
import { styleSpec } from '../src/systems/style/cli.js';

const CLI = path.join(repoRoot, 'dist', 'src', 'cli', 'main.js');

test('content, Gram, style and total-variation losses (and gradients) match PyTorch', () => {
  const g = golden('style_golden.json');
  const content = fromEnc(g.content);
  const styleAct = fromEnc(g.style_act);
  const gen = fromEnc(g.generated, true);
  const c = contentLoss(content, gen);
  assert.ok(Math.abs(c.item() - g.content_loss) <= 1e-4 * Math.abs(g.content_loss));
  assertClose(T.grad(c, [gen])[0], g.content_grad, 1e-4, 1e-4, 'content grad');
  assertClose(gram(styleAct), g.gram, 1e-4, 1e-4, 'gram');
  const s = styleLoss(gram(styleAct), gram(gen), g.size);
  assert.ok(Math.abs(s.item() - g.style_loss) <= 1e-4 * Math.abs(g.style_loss), `style ${s.item()} vs ${g.style_loss}`);
  assertClose(T.grad(s, [gen])[0], g.style_grad, 1e-9, 1e-3, 'style grad');
  const img = fromEnc(g.image, true);
  const tv = totalVariationLoss(img);
  assert.ok(Math.abs(tv.item() - g.tv_loss) <= 1e-4 * Math.abs(g.tv_loss), `tv ${tv.item()} vs ${g.tv_loss}`);
  assertClose(T.grad(tv, [img])[0], g.tv_grad, 1e-2, 1e-3, 'tv grad');
});

test('style layers take shares of the style term (name=weight); a share of 0 drops the layer', () => {
  assert.deepEqual(parseStyleLayer('mixed0'), { name: 'mixed0', share: 1 });
  assert.deepEqual(parseStyleLayer(' mixed2 = 0.3'), { name: 'mixed2', share: 0.3 });
  for (const bad of ['mixed2=', 'mixed2=-1', 'mixed2=x', 'mixed2=Infinity'])
    assert.throws(() => parseStyleLayer(bad), /the weight after "=" must be a number >= 0/, bad);
  const b = tinyVgg();
  T.manualSeed(6);
  const content = T.keep(T.rand([1, 3, 40, 40]).mul(255));
  const style = T.keep(T.rand([1, 3, 40, 40]).mul(255));
  const image = T.rand([1, 3, 40, 40]).mul(255);
  const weights = { content: 0, style: 1, tv: 0, colour: 0 };
  for (const styleLoss of ['gram', 'sliced'] as const) {
    const styleOf = (layers: { content: string; style: string[]; shares?: number[] }) => {
      T.manualSeed(7); // the sliced directions
      const obj = new StyleObjective(
        b,
        layers,
        content,
        [{ image: style, weight: 1 }],
        weights,
        false,
        true,
        styleLoss,
      );
      const v = T.noGrad(() => T.tidy(() => obj.terms(image).style.item()));
      obj.dispose();
      return v;
    };
    const one = styleOf({ content: 'block2_conv1', style: ['block1_conv1'] });
    // The style term is the mean of the layers' shares times their losses: (2·L1 + 0·L2) / 2 = L1.
    const shared = styleOf({ content: 'block2_conv1', style: ['block1_conv1', 'block2_conv1'], shares: [2, 0] });
    assert.ok(one > 0);
    assert.ok(Math.abs(shared - one) <= 1e-5 * one, `${styleLoss}: ${shared} vs ${one}`);
    const even = styleOf({ content: 'block2_conv1', style: ['block1_conv1', 'block2_conv1'] });
    const listed = styleOf({ content: 'block2_conv1', style: ['block1_conv1', 'block2_conv1'], shares: [1, 1] });
    assert.ok(Math.abs(even - listed) <= 1e-6 * even && Math.abs(even - one) > 1e-3 * one);
  }
  // The config's layers resolve to names and shares, and unknown names are still refused.
  const resolved = checkStyleConfig(
    { ...STYLE_DEFAULTS, styleLayers: ['block1_conv1=2', 'block2_conv1'] },
    [{ image: style, weight: 1 }],
    b,
  );
  assert.deepEqual(
    [resolved.style, resolved.styleShares],
    [
      ['block1_conv1', 'block2_conv1'],
      [2, 1],
    ],
  );
  assert.throws(
    () => checkStyleConfig({ ...STYLE_DEFAULTS, styleLayers: ['block9=2'] }, [{ image: style, weight: 1 }], b),
    /unknown layer "block9"/,
  );
  for (const t of [content, style, image]) t.dispose();
  b.net.dispose();
});

test("one L-BFGS iteration lowers the total loss; results keep the content's aspect", async () => {
  const b = tinyVgg();
  T.manualSeed(6);
  const content = T.rand([1, 3, 40, 56]);
  const style = T.rand([1, 3, 40, 40]); // the output height: transferStyle leaves it unscaled
  const losses: number[] = [];
  const cfg = {
    ...STYLE_DEFAULTS,
    height: 40,
    iterations: 2,
    maxEvals: 5,
    contentLayer: 'block3_conv1',
    styleLayers: ['block1_conv1', 'block2_conv1'],
  };
  // The loss at the start (the content image itself), for comparison.
  const obj = new StyleObjective(
    b,
    { content: 'block3_conv1', style: ['block1_conv1', 'block2_conv1'] },
    T.keep(content.mul(255)),
    [{ image: T.keep(style.mul(255)), weight: 1 }],
    { content: 0.025, style: 1, tv: 1e-4, colour: 0 },
  );
  const first = T.noGrad(() => T.tidy(() => obj.terms(content.mul(255)).total.item()));
  obj.dispose();
  const out = await transferStyle(b, content, [{ image: style, weight: 1 }], cfg, {
    onIteration: (it) => void losses.push(it.loss),
  });
  assert.equal(losses.length, 2);
  assert.ok(losses[0] < first, `after one iteration ${losses[0]} < at the start ${first}`);
  assert.ok(losses[1] <= losses[0]);
  assert.deepEqual(out.shape, [1, 3, 40, 56]);
  // Adam and two scales also run and keep the size.
  const adam = await transferStyle(
    b,
    content,
    [
      { image: style, weight: 1 },
      { image: content, weight: 0.5 },
    ],
    { ...cfg, optimizer: 'adam', iterations: 1, maxEvals: 3, scales: 2, height: 64 },
  );
  assert.deepEqual(adam.shape, [1, 3, 64, 90]);
  for (const t of [content, style, out, adam]) t.dispose();
  b.net.dispose();
});

test('--redraw-directions: new sliced directions each iteration, seeded, with a flat live count', async () => {
  const b = tinyVgg();
  T.manualSeed(6);
  const content = T.rand([1, 3, 40, 40]);
  const style = T.rand([1, 3, 40, 40]);
  const cfg = {
    ...STYLE_DEFAULTS,
    height: 40,
    iterations: 4,
    maxEvals: 3,
    contentLayer: 'block2_conv1',
    styleLayers: ['block1_conv1', 'block2_conv1'],
    styleLoss: 'sliced' as const,
  };
  const run = async (redrawDirections: boolean, counts: number[] = []) =>
    transferStyle(
      b,
      content,
      [{ image: style, weight: 1 }],
      { ...cfg, redrawDirections },
      {
        onIteration: () => void counts.push(T.liveTensors().undisposed),
      },
    );
  const counts: number[] = [];
  const [a, again, fixed] = [await run(true, counts), await run(true), await run(false)];
  assert.equal(counts.length, 4);
  assert.equal(counts[3], counts[1], `live tensors per iteration: ${counts}`);
  const diff = (x: T.Tensor, y: T.Tensor) => T.tidy(() => x.sub(y).abs().max().item() as number);
  assert.equal(diff(a, again), 0, 'the same seed draws the same directions');
  assert.ok(diff(a, fixed) > 1e-4, 'redrawn directions give another result than fixed ones');
  await assert.rejects(
    transferStyle(b, content, [{ image: style, weight: 1 }], { ...cfg, styleLoss: 'gram', redrawDirections: true }),
    /--redraw-directions needs --style-loss sliced/,
  );
  await assert.rejects(
    transferStyle(b, content, [{ image: style, weight: 1 }], { ...cfg, styleLoss: 'gram', directions: 2 }),
    /--directions needs --style-loss sliced/,
  );
  for (const bad of [0, -1, NaN, 17])
    await assert.rejects(
      transferStyle(b, content, [{ image: style, weight: 1 }], { ...cfg, directions: bad }),
      /directions/,
    );
  for (const t of [content, style, a, again, fixed]) t.dispose();
  b.net.dispose();
});

test('style masks: a masked style pulls only its region; two masked styles give each region its own colours', async () => {
  const b = tinyVgg();
  T.manualSeed(11);
  const [h, w] = [32, 48];
  const content = T.keep(T.rand([1, 3, h, w]).mul(0.4).add(0.3));
  const left = T.keep(T.tidy(() => T.cat([T.ones([1, 1, h, w / 2]), T.zeros([1, 1, h, w / 2])], 3)));
  const right = T.keep(T.tidy(() => left.neg().add(1)));
  // Red and blue textures as the two styles.
  const red = T.keep(T.tidy(() => T.rand([1, 3, h, w]).mul(T.tensor([0.9, 0.1, 0.1], { shape: [1, 3, 1, 1] }))));
  const blue = T.keep(T.tidy(() => T.rand([1, 3, h, w]).mul(T.tensor([0.1, 0.1, 0.9], { shape: [1, 3, 1, 1] }))));
  // An all-on mask is no mask: the same loss (a style of the photo's size, whose Gram needs no scaling).
  const layers = { content: 'block2_conv1', style: ['block1_conv1'] };
  const weights = { content: 1, style: 1, tv: 0, colour: 1 };
  const at = (mask: T.Tensor | null, kind: 'gram' | 'sliced') => {
    T.manualSeed(12); // the sliced loss's random directions: the same for both
    const obj = new StyleObjective(
      b,
      layers,
      T.keep(content.mul(255)),
      [{ image: T.keep(red.mul(255)), weight: 1, mask }],
      weights,
      false,
      true,
      kind,
    );
    const v = T.noGrad(() => T.tidy(() => obj.terms(content.mul(255))));
    const r = [v.style.item(), v.colour.item()];
    obj.dispose();
    return r;
  };
  const ones = T.keep(T.ones([1, 1, h, w]));
  const x = T.keep(content.mul(255).requiresGrad_(true));
  for (const kind of ['gram', 'sliced'] as const) {
    const [plain, full] = [at(null, kind), at(ones, kind)];
    assert.ok(
      Math.abs(plain[0] - full[0]) <= 1e-4 * plain[0] && Math.abs(plain[1] - full[1]) <= 1e-4 * plain[1],
      `${kind}: ${plain} against ${full}`,
    );
    // A style masked to the left half has no gradient on the right, beyond block1_conv1's reach.
    const obj = new StyleObjective(
      b,
      layers,
      T.keep(content.mul(255)),
      [{ image: T.keep(red.mul(255)), weight: 1, mask: left }],
      { ...weights, colour: 0 },
      false,
      true,
      kind,
    );
    T.tidy(() => obj.terms(x).style.backward());
    const gl = T.tidy(() =>
      x
        .grad!.narrow(3, 0, w / 2 - 2)
        .abs()
        .sum()
        .item(),
    );
    const gr = T.tidy(() =>
      x
        .grad!.narrow(3, w / 2 + 2, w / 2 - 2)
        .abs()
        .sum()
        .item(),
    );
    assert.ok(gl > 0 && gr === 0, `${kind}: gradient left ${gl}, right ${gr}`);
    obj.dispose();
    x.grad = null;
  }
  // Red on the left, blue on the right: each half takes its own style's colour statistics.
  const out = await transferStyle(
    b,
    content,
    [
      { image: red, weight: 1, mask: left },
      { image: blue, weight: 1, mask: right },
    ],
    {
      ...STYLE_DEFAULTS,
      height: h,
      iterations: 3,
      maxEvals: 10,
      init: 'content',
      contentLayer: 'block2_conv1',
      styleLayers: ['block1_conv1'],
      contentWeight: 1e-3,
      styleWeight: 1e-3, // the tiny random VGG's Grams say little of colour: the per-region colour term does the work
      colourWeight: 1e4,
    },
  );
  const mean = (t: T.Tensor, c: number) => T.tidy(() => t.narrow(1, c, 1).mean().item());
  const [l, r] = [out.narrow(3, 0, w / 2), out.narrow(3, w / 2, w / 2)];
  assert.ok(
    mean(l, 0) > mean(l, 2) + 0.1 && mean(r, 2) > mean(r, 0) + 0.1,
    `left R ${mean(l, 0)} B ${mean(l, 2)}, right R ${mean(r, 0)} B ${mean(r, 2)}`,
  );
  // A mask of another shape, or an empty one, is refused in one sentence.
  const [square, dark] = T.keep([T.ones([1, 1, 32, 32]), T.zeros([1, 1, h, w])]);
  await assert.rejects(
    transferStyle(b, content, [{ image: red, weight: 1, mask: square }], {
      ...STYLE_DEFAULTS,
      height: h,
    }),
    /style 1's mask is 32x32 but the photo is 48x32: a mask needs the photo's shape/,
  );
  await assert.rejects(
    transferStyle(b, content, [{ image: red, weight: 1, mask: dark }], {
      ...STYLE_DEFAULTS,
      height: h,
    }),
    /style 1's mask covers nothing/,
  );
  for (const t of [content, left, right, red, blue, ones, x, out, l, r, square, dark]) t.dispose();
  b.net.dispose();
});

test('style specs: weight and mask after colons', () => {
  assert.deepEqual(styleSpec('builtin:scream'), { file: 'builtin:scream', weight: 1, mask: null });
  assert.deepEqual(styleSpec('a.jpg:0.5'), { file: 'a.jpg', weight: 0.5, mask: null });
  assert.deepEqual(styleSpec('a.jpg:sky.png'), { file: 'a.jpg', weight: 1, mask: 'sky.png' });
  assert.deepEqual(styleSpec('builtin:scream:2:masks/sky.JPG'), {
    file: 'builtin:scream',
    weight: 2,
    mask: 'masks/sky.JPG',
  });
});

test("--color-match: meanstd gives each channel the photo's mean and spread; histogram its values, rank for rank", () => {
  T.manualSeed(8);
  T.tidy(() => {
    // Both uniform, so matching the first two moments stays inside [0, 1] (no clamping).
    const image = T.rand([1, 3, 12, 10]).mul(0.5);
    const photo = T.rand([1, 3, 12, 10]).mul(0.6).add(0.2);
    const stats = (x: T.Tensor) => {
      const c = x.reshape([3, -1]);
      return [c.mean({ dim: 1 }).toFlatArray(), T.std(c, [1], 1).toFlatArray()];
    };
    const ms = colourMatch(image, photo, 'meanstd');
    const [[m1, s1], [m2, s2]] = [stats(ms), stats(photo)];
    for (let i = 0; i < 3; i++) {
      assert.ok(Math.abs(m1[i] - m2[i]) < 1e-5 && Math.abs(s1[i] - s2[i]) < 1e-5, `channel ${i}`);
    }
    // Same size: each channel's sorted values are the photo's, and the image's ranks are kept.
    const h = colourMatch(image, photo, 'histogram');
    const sorted = (x: T.Tensor) => x.reshape([3, -1]).sort(1)[0].toFlatArray();
    assert.deepEqual(sorted(h), sorted(photo));
    const ranks = (x: T.Tensor) => x.reshape([3, -1]).sort(1)[1].toFlatArray();
    assert.deepEqual(ranks(h), ranks(image));
    // Another size: the photo's quantiles; luminance is --preserve-colors' transfer.
    const small = T.rand([1, 3, 5, 7]);
    const q = colourMatch(image, small, 'histogram').reshape([3, -1]);
    assert.ok(q.min().item() >= small.min().item() - 1e-7 && q.max().item() <= small.max().item() + 1e-7);
    const lum = colourMatch(image, photo, 'luminance');
    assert.ok(lum.sub(keepColors(image, photo).clamp(0, 1)).abs().max().item() < 1e-6);
  });
});

test("--preserve-colors keeps the content's chroma and the result's luminance", () => {
  T.manualSeed(7);
  const gen = T.rand([1, 3, 8, 8]).mul(0.5).add(0.25);
  const content = T.rand([1, 3, 8, 8]).mul(0.5).add(0.25);
  const out = keepColors(gen, content);
  const yiq = (x: T.Tensor) =>
    T.tidy(() => {
      const [r, g, b] = x.split(1, 1);
      return [
        r.mul(0.299).add(g.mul(0.587)).add(b.mul(0.114)),
        r.mul(0.595716).sub(g.mul(0.274453)).sub(b.mul(0.321263)),
        r.mul(0.211456).sub(g.mul(0.522591)).add(b.mul(0.311135)),
      ];
    });
  const [yo, io, qo] = yiq(out);
  const [yg] = yiq(gen);
  const [, ic, qc] = yiq(content);
  const diff = (a: T.Tensor, b: T.Tensor) => T.tidy(() => a.sub(b).abs().max().item());
  assert.ok(diff(io, ic) < 2e-3 && diff(qo, qc) < 2e-3, 'chroma from the content');
  assert.ok(diff(yo, yg) < 2e-3, 'luminance from the result');
  assert.ok(diff(out, gen) > 1e-2, 'the colours did change');
});

test('style loss evaluations do not leak tensors (seed, relative, smoothed and sliced losses)', () => {
  const b = tinyVgg();
  const before = T.liveTensors().undisposed;
  for (const [smoothing, relative, kind] of [
    [false, false, 'gram'],
    [false, true, 'gram'],
    [true, true, 'gram'],
    [false, true, 'sliced'],
  ] as const) {
    const [x, content, style] = T.keep(T.tidy(() => [0, 1, 2].map(() => T.rand([1, 3, 32, 32]).mul(255))));
    x.requiresGrad_(true);
    const obj = new StyleObjective(
      b,
      { content: 'block2_conv1', style: ['block1_conv1'] },
      content,
      [{ image: style, weight: 1 }],
      { content: 1, style: 1, tv: 1e-4, colour: 1 },
      smoothing,
      relative,
      kind,
    );
    const evaluate = () =>
      T.tidy(() => {
        x.grad = null;
        obj.terms(x).total.backward();
      });
    evaluate();
    const at1 = T.liveTensors().undisposed;
    for (let i = 0; i < 5; i++) evaluate();
    assert.equal(T.liveTensors().undisposed, at1);
    // New directions between iterations (sliced) replace the old targets.
    for (let i = 0; i < 3; i++) {
      obj.redrawDirections();
      evaluate();
    }
    assert.equal(T.liveTensors().undisposed, at1);
    obj.dispose();
    x.grad = null;
    for (const t of [x, content, style]) t.dispose();
  }
  // The objective's own targets are gone with it.
  assert.equal(T.liveTensors().undisposed, before);
  b.net.dispose();
});

test('relative losses: the style image scores 0 on style and colour; every term has a gradient', () => {
  const b = tinyVgg();
  T.manualSeed(9);
  const content = T.keep(T.rand([1, 3, 32, 32]).mul(255));
  const style = T.keep(T.rand([1, 3, 32, 32]).mul(128));
  for (const [smoothing, kind] of [
    [false, 'gram'],
    [true, 'gram'],
    [false, 'sliced'],
  ] as const) {
    const obj = new StyleObjective(
      b,
      { content: 'block2_conv1', style: ['block1_conv1', 'block2_conv1'] },
      content,
      [{ image: style, weight: 1 }],
      { content: 1, style: 1, tv: 0, colour: 1 },
      smoothing,
      true,
      kind,
    );
    const atStyle = T.noGrad(() => T.tidy(() => obj.terms(style)));
    assert.ok((atStyle.style.item() as number) < 1e-8 && (atStyle.colour.item() as number) < 1e-8);
    const atContent = T.noGrad(() => T.tidy(() => obj.terms(content)));
    assert.ok((atContent.content.item() as number) < 1e-8);
    // Style and colour terms both pull the content image (each has a gradient there).
    for (const k of ['style', 'colour'] as const) {
      const x = T.keep(content.clone().requiresGrad_(true));
      T.tidy(() => obj.terms(x)[k].backward());
      const g = T.tidy(() => x.grad!.abs().sum().item() as number);
      assert.ok(g > 0 && Number.isFinite(g), `${k} (smoothing ${smoothing}, ${kind}): gradient ${g}`);
      x.grad = null;
      x.dispose();
    }
    if (kind === 'sliced') {
      // New directions: other marginals of the same features, so the style image still scores 0.
      const before = T.noGrad(() => T.tidy(() => obj.terms(content).style.item() as number));
      obj.redrawDirections();
      const after = T.noGrad(() => T.tidy(() => obj.terms(content).style.item() as number));
      assert.ok(Math.abs(after - before) > 1e-6 * before, `the directions changed: ${before} → ${after}`);
      assert.ok((T.noGrad(() => T.tidy(() => obj.terms(style).style.item())) as number) < 1e-8);
    }
    obj.dispose();
  }
  content.dispose();
  style.dispose();
  b.net.dispose();
});

test('the sliced Wasserstein loss: sorted projections against resampled quantiles, by hand', () => {
  T.tidy(() => {
    // One channel, one direction: the image's values sorted (1, 2, 3) against the target's.
    const x = T.tensor([3, 1, 2], { shape: [1, 1, 1, 3] });
    const one = T.tensor([[1]]);
    assert.deepEqual(sortedProjections(x, one).toFlatArray(), [1, 2, 3]);
    const target = new SlicedTarget(T.tensor([5, 0, 1], { shape: [1, 1, 1, 3] }), one);
    const loss = target.loss(x);
    assert.ok(Math.abs(loss.item() - (1 + 1 + 4) / 3) < 1e-6, `loss ${loss.item()}`);
    assert.ok(Math.abs(target.meanSquare - 26 / 3) < 1e-5, `mean square ${target.meanSquare}`);
    // A batch's loss is the mean of its images' (here the target itself, 0, and x, 2).
    const batch = T.cat([T.tensor([1, 5, 0], { shape: [1, 1, 1, 3] }), x], 0);
    assert.ok(Math.abs(target.loss(batch).item() - 1) < 1e-6, `batch loss ${target.loss(batch).item()}`);
    // A target on 6 positions against an image on 3: compared at the middle of each third.
    const wide = new SlicedTarget(T.tensor([0, 10, 1, 11, 2, 12], { shape: [1, 1, 2, 3] }), one);
    assert.ok(Math.abs(wide.loss(T.tensor([12, 1, 10], { shape: [1, 1, 1, 3] })).item()) < 1e-6);
    target.dispose();
    wide.dispose();
    // Two channels on two directions: the projections are (a + b) and (a - b) per position.
    const y = T.tensor([1, 4, 2, 0], { shape: [1, 2, 1, 2] }); // a = (1, 4), b = (2, 0)
    const proj = sortedProjections(
      y,
      T.tensor([
        [1, 1],
        [1, -1],
      ]),
    );
    assert.deepEqual(proj.toFlatArray(), [3, 4, -1, 4]);
    // 6 sorted values to 3 quantiles: the middle of each third (indices 1, 3, 5); to 4: 0, 2, 3, 5.
    const q = T.tensor([[10, 11, 12, 13, 14, 15]]);
    assert.deepEqual(resampleQuantiles(q, 3).toFlatArray(), [11, 13, 15]);
    assert.deepEqual(resampleQuantiles(q, 4).toFlatArray(), [10, 12, 13, 15]);
    // The loss is blind to where features are: the same values shuffled across positions score 0.
    const z = T.rand([1, 3, 4, 5]);
    const shuffled = z.reshape([3, 20]).indexSelect(1, T.randperm(20)).reshape([1, 3, 4, 5]);
    const blind = new SlicedTarget(z);
    assert.ok(blind.loss(shuffled).item() < 1e-10);
    assert.ok(blind.loss(T.rand([1, 3, 4, 5])).item() > 1e-4);
    // Directions per channel: C by default, round(C × n) of unit length, at least one.
    assert.deepEqual(blind.directions.shape, [3, 3]);
    for (const [n, k] of [
      [2, 6],
      [0.5, 2],
      [0.01, 1],
    ]) {
      const more = new SlicedTarget(z, n);
      assert.deepEqual(more.directions.shape, [k, 3], `${n} per channel`);
      const norms = more.directions.pow(2).sum({ dim: 1 }).sqrt().toFlatArray();
      assert.ok(
        norms.every((v) => Math.abs(v - 1) < 1e-5),
        `unit rows: ${norms}`,
      );
      assert.ok(more.loss(shuffled).item() < 1e-10);
      more.dispose();
    }
    blind.dispose();
  });
});

test('the stability loss: a net trained with it changes its output less when its input gets noise', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'loom-stable-'));
  try {
    const b = tinyVgg();
    const cfg = {
      ...(await fastFixture(dir, 2, 40)),
      steps: 40,
      batch: 2,
      width: 4,
      residualBlocks: 1,
      lr: 0.01,
      styleWeight: 1e-3,
    };
    const logged: number[] = [];
    const change: number[] = [];
    // (The tiny random VGG's style loss runs to thousands: a small style weight lets the other terms count.)
    for (const stability of [0, 1e5]) {
      const run = path.join(dir, `s${stability}`);
      await trainFastStyle(
        b,
        { ...cfg, stability, sampleEvery: 100 },
        run,
        {},
        {
          onStep: (l) => void logged.push(l.stability_loss),
        },
      );
      const net = loadStyleNet(run);
      T.manualSeed(3);
      change.push(
        T.noGrad(() =>
          T.tidy(() => {
            const x = T.rand([4, 3, 32, 32]);
            const noise = T.randn(x.shape).mul(0.03);
            return net.forward(x.add(noise)).sub(net.forward(x)).abs().mean().div(noise.abs().mean()).item();
          }),
        ),
      );
      net.dispose();
    }
    assert.ok(logged.slice(0, 40).every((v) => v === 0) && logged.slice(40).every((v) => v > 0), `${logged}`);
    assert.ok(change[1] < change[0] / 2, `output change per input change: ${change[0]} without, ${change[1]} with`);
    b.net.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('fast nets with sliced style losses: the painting scores 0 against itself; steps keep the live count flat', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'loom-fast-sliced-'));
  try {
    const b = tinyVgg();
    const cfg = {
      ...(await fastFixture(dir, 2, 40)),
      steps: 3,
      batch: 2,
      width: 4,
      residualBlocks: 1,
      sampleEvery: 100,
      styleLoss: 'sliced' as const,
    };
    const painting = await readImage(cfg.style, { height: cfg.size });
    T.manualSeed(4);
    const loss = new FastStyleLoss(b, painting, { content: 1, style: 1, tv: 0 }, 'sliced');
    const [self, other] = T.noGrad(() =>
      T.tidy(() => [painting, T.rand(painting.shape)].map((x) => loss.terms(x, x).style.item())),
    );
    assert.ok(self < 1e-10 && other > 1e-3, `style term: the painting ${self}, noise ${other}`);
    loss.dispose();
    painting.dispose();
    const run = path.join(dir, 'run');
    await trainFastStyle(b, cfg, run, {});
    const counts: number[] = [];
    const styles: number[] = [];
    await trainFastStyle(
      b,
      { ...cfg, steps: 6 },
      run,
      { resume: true },
      {
        onStep: (l) => {
          counts.push(T.liveTensors().undisposed);
          styles.push(l.style_loss);
        },
      },
    );
    assert.equal(counts.length, 3);
    assert.equal(counts[2], counts[1]);
    assert.ok(
      styles.every((v) => v > 0 && Number.isFinite(v)),
      `${styles}`,
    );
    b.net.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a fast style net trains a few steps, resumes, and `style apply` writes the input's size", async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'loom-fast-'));
  try {
    const b = tinyVgg();
    const cfg = {
      ...(await fastFixture(dir, 3, 50)),
      steps: 3,
      batch: 2,
      width: 4,
      residualBlocks: 1,
      sampleEvery: 2,
    };
    const run = path.join(dir, 'run');
    const losses: number[] = [];
    await trainFastStyle(b, cfg, run, {}, { onStep: (l) => void losses.push(l.loss) });
    assert.equal(losses.length, 3);
    assert.ok(existsSync(path.join(run, 'samples', 'step-000002.png')));
    // Leaks: a resumed run's steps keep the live count flat.
    const counts: number[] = [];
    await trainFastStyle(
      b,
      { ...cfg, steps: 6 },
      run,
      { resume: true },
      { onStep: () => void counts.push(T.liveTensors().undisposed) },
    );
    assert.equal(counts.length, 3);
    assert.equal(counts[2], counts[1]);
    b.net.dispose();
    const photo = path.join(dir, 'odd.png');
    await writeImage(photo, T.rand([1, 3, 37, 45]));
    const out = path.join(dir, 'styled.png');
    const r = spawnSync(process.execPath, [CLI, 'style', 'apply', run, photo, '--out', out], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /37x45|45x37/);
    const img = await readImage(out);
    assert.deepEqual(img.shape, [1, 3, 37, 45]);
    img.dispose();
    // --height scales the photo first, keeping its aspect.
    const small = path.join(dir, 'small.png');
    const hs = spawnSync(process.execPath, [CLI, 'style', 'apply', run, photo, '--out', small, '--height', '20'], {
      encoding: 'utf8',
    });
    assert.equal(hs.status, 0, hs.stderr);
    const smallImg = await readImage(small);
    assert.deepEqual(smallImg.shape, [1, 3, 20, 24]);
    smallImg.dispose();
    // --color-match histogram: the output's values are the photo's (up to 8-bit rounding).
    const matched = path.join(dir, 'matched.png');
    const m = spawnSync(
      process.execPath,
      [CLI, 'style', 'apply', run, photo, '--out', matched, '--color-match', 'histogram'],
      { encoding: 'utf8' },
    );
    assert.equal(m.status, 0, m.stderr);
    const [x, y] = [await readImage(matched), await readImage(photo)];
    const d = T.tidy(() =>
      x
        .reshape([3, -1])
        .sort(1)[0]
        .sub(y.reshape([3, -1]).sort(1)[0])
        .abs()
        .max()
        .item(),
    );
    x.dispose();
    y.dispose();
    assert.ok(d <= 1 / 255 + 1e-6, `largest difference of sorted values ${d}`);
    const net = loadStyleNet(run);
    assert.equal(net.shape.width, 4);
    net.dispose();
    // A video: every frame stylised, the size, rate and audio kept; a flicker figure reported.
    const clip = path.join(dir, 'clip.mp4');
    const made = spawnSync('ffmpeg', [
      ...['-v', 'error', '-f', 'lavfi', '-i', 'testsrc=size=38x30:rate=10', '-f', 'lavfi', '-i', 'sine=frequency=440'],
      ...['-t', '1', '-c:v', 'libx264', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-shortest', clip],
    ]);
    assert.equal(made.status, 0, String(made.stderr));
    const styled = path.join(dir, 'styled.mp4');
    const v = spawnSync(process.execPath, [CLI, 'style', 'apply', run, clip, '--out', styled, '--json'], {
      encoding: 'utf8',
    });
    assert.equal(v.status, 0, v.stderr);
    const line = JSON.parse(v.stdout.trim().split('\n').pop()!);
    assert.equal(line.frames, 10);
    assert.ok(line.flicker > 0, `flicker ${line.flicker}`);
    const probe = spawnSync(
      'ffprobe',
      [
        '-v',
        'error',
        '-count_frames',
        '-show_entries',
        'stream=codec_type,width,height,nb_read_frames',
        '-of',
        'json',
        styled,
      ],
      { encoding: 'utf8' },
    );
    const streams = JSON.parse(probe.stdout).streams as {
      codec_type: string;
      width?: number;
      nb_read_frames?: string;
    }[];
    const video = streams.find((x) => x.codec_type === 'video')!;
    assert.equal(video.width, 38);
    assert.equal(Number(video.nb_read_frames), 10);
    assert.ok(
      streams.some((x) => x.codec_type === 'audio'),
      'the audio is kept',
    );
    const again = spawnSync(process.execPath, [CLI, 'style', 'apply', run, clip, '--out', styled], {
      encoding: 'utf8',
    });
    assert.equal(again.status, 2, 'an existing output is not overwritten without --force');
    writeFileSync(path.join(dir, 'broken.mp4'), 'not a video');
    const broken = spawnSync(
      process.execPath,
      [CLI, 'style', 'apply', run, path.join(dir, 'broken.mp4'), '--out', path.join(dir, 'b.mp4')],
      { encoding: 'utf8' },
    );
    assert.equal(broken.status, 2);
    assert.match(broken.stderr, /^loom: cannot read video .*broken\.mp4/);
    assert.equal(broken.stderr.trim().split('\n').length, 1);
    assert.ok(!existsSync(path.join(dir, 'b.mp4')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('loom style: bad images and options get exit 2 and one sentence', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'loom-style-'));
  try {
    const bad = path.join(dir, 'bad.png');
    writeFileSync(bad, 'not an image');
    const wide = path.join(dir, 'wide.png');
    await writeImage(wide, T.ones([1, 3, 10, 40]));
    const cases: [string[], RegExp][] = [
      [['style', 'builtin:dog'], /give a content image and at least one style image/],
      [['style', 'builtin:dog', bad], /cannot read image .*bad\.png/],
      [['style', 'builtin:dog', 'builtin:scream', '--optimizer', 'sgd'], /--optimizer must be lbfgs or adam/],
      [
        ['style', 'builtin:dog', 'builtin:scream', '--init', 'photo'],
        /--init must be content, matched, style or noise, got photo/,
      ],
      [['style', 'builtin:dog', 'builtin:scream', '--smoothing', 'yes'], /--smoothing must be on or off, got yes/],
      [
        ['style', 'builtin:dog', 'builtin:scream', '--style-loss', 'foo'],
        /--style-loss must be gram or sliced, got foo/,
      ],
      [['style', 'train', '--style-loss', 'foo'], /--style-loss must be backbone, gram or sliced, got foo/],
      [['style', 'builtin:dog', 'builtin:scream', '--colour-weight', '-1'], /--colour-weight must be a number >= 0/],
      [['style', 'builtin:dog', 'builtin:scream:0'], /style weight in 'builtin:scream:0' must be a number > 0/],
      [['style', 'builtin:dog', `builtin:scream:${path.join(dir, 'none.png')}`], /cannot read image .*none\.png/],
      [['style', 'builtin:dog', `builtin:scream:${wide}`], /style 1's mask is 40x10 but the photo is/],
      [
        ['style', 'builtin:dog', 'builtin:scream', '--color-match', 'sepia'],
        /--color-match takes luminance, meanstd, histogram; got 'sepia'/,
      ],
      [['style', 'builtin:dog', 'builtin:scream', '--out', bad], /exists; choose another --out or add --force/],
      [
        ['style', 'apply', path.join(dir, 'nothing'), bad, '--out', path.join(dir, 'o.png')],
        /cannot read|no such file/,
      ],
      [
        ['style', 'apply', path.join(dir, 'nothing'), bad, '--out', path.join(dir, 'o.png'), '--height', '4'],
        /--height must be a whole number >= 16, got 4/,
      ],
      [
        ['style', 'apply', path.join(dir, 'nothing'), 'clip.mp4', '--out', path.join(dir, 'o.mp4'), '--height', '64'],
        /--height is for images; a video keeps its frames' size/,
      ],
      [
        [
          'style',
          'train',
          '--images',
          path.join(dir, 'none'),
          '--out',
          path.join(dir, 'run'),
          '--backbone',
          'vgg19',
          '--weights',
          bad,
        ],
        /cannot import weights|expected a torchvision/,
      ],
      [
        ['style', 'train', '--size', '32', '--out', path.join(dir, 'small')],
        /--size 32 is too small: inception's style layers shrink the images to nothing/,
      ],
      [
        ['style', 'train', '--log-every', '0', '--out', path.join(dir, 'small')],
        /--log-every must be a whole number >= 1/,
      ],
    ];
    for (const [args, re] of cases) {
      const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', cwd: dir });
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, re);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
