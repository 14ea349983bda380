// The unlabelled GAN recipe's parts against PyTorch (test/golden/make_gan_sn_golden.py):
// spectral norm, the hinge losses, the R1 penalty and DiffAugment's transforms.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as T from '../src/torch/index.js';
import {
  Conv2d,
  ConvTranspose2d,
  Linear,
  hingeDiscriminatorLoss,
  hingeGeneratorLoss,
  r1Penalty,
  spectralNorm,
  type SpectralLayer,
} from '../src/nn/index.js';
import { cutout, diffAugment, translate } from '../src/models/gan/augment.js';
import {
  GAN_DEFAULTS,
  GAN_RECIPES,
  RESUME_DEFAULTS,
  conditionedClasses,
  recipeOf,
  withRecipe,
  type GanTrainConfig,
} from '../src/models/gan/index.js';
import { assertClose, fromEnc, golden, type Enc } from './helpers.js';

const G = golden('gan_sn.json');
const long = (xs: number[]) => T.tensor(xs, { dtype: 'int64' });

for (const [name, make] of [
  ['linear', () => new Linear(5, 3)],
  ['conv', () => new Conv2d(2, 3, 3, { stride: 2, padding: 1 })],
  ['convT', () => new ConvTranspose2d(3, 2, 4, { stride: 2, padding: 1 })],
] as [string, () => SpectralLayer][]) {
  test(`spectral norm (${name}) matches torch.nn.utils.spectral_norm: one power step, output, gradients, evaluation`, () => {
    const g = G.spectral[name] as Record<string, Enc>;
    using sn = spectralNorm(make());
    assert.deepEqual([...sn.stateDict().keys()].sort(), ['bias', 'weight_orig', 'weight_u', 'weight_v']);
    sn.loadStateDict({
      weight_orig: fromEnc(g.weight),
      bias: fromEnc(g.bias),
      weight_u: fromEnc(g.u0),
      weight_v: fromEnc(g.v0),
    });
    T.tidy(() => {
      const x = fromEnc(g.x, true);
      const y = sn.forward(x);
      assertClose(y, g.y, 1e-5, 1e-4, 'output');
      assertClose(sn.u, g.u1, 1e-6, 1e-4, 'u after one step');
      assertClose(sn.v, g.v1, 1e-6, 1e-4, 'v after one step');
      y.mul(fromEnc(g.r)).sum().backward();
      assertClose(sn.weightOrig.grad, g.gradWeight, 1e-5, 1e-4, 'grad weight_orig');
      assertClose(sn.bias!.grad, g.gradBias, 1e-5, 1e-4, 'grad bias');
      assertClose(x.grad, g.gradX, 1e-5, 1e-4, 'grad x');
      sn.eval();
      const u = sn.u.clone();
      assertClose(
        T.noGrad(() => sn.forward(x)),
        g.yEval,
        1e-5,
        1e-4,
        'evaluation output',
      );
      assert.equal(sn.u.sub(u).abs().max().item(), 0, 'no power step in evaluation');
    });
  });
}

test('hinge losses match PyTorch, values and gradients', () => {
  const h = G.hinge;
  T.tidy(() => {
    const [real, fake, fake2] = [fromEnc(h.real, true), fromEnc(h.fake, true), fromEnc(h.fake, true)];
    const d = hingeDiscriminatorLoss(real, fake);
    assert.ok(Math.abs(d.item() - h.dLoss) < 1e-5, `d loss ${d.item()} vs ${h.dLoss}`);
    d.backward();
    assertClose(real.grad, h.gradReal, 1e-6, 1e-5, 'grad real');
    assertClose(fake.grad, h.gradFake, 1e-6, 1e-5, 'grad fake');
    const g = hingeGeneratorLoss(fake2);
    assert.ok(Math.abs(g.item() - h.gLoss) < 1e-6);
    g.backward();
    assertClose(fake2.grad, h.gradFakeG, 1e-6, 1e-5, 'grad fake (generator)');
  });
});

test('the R1 penalty matches PyTorch, and its gradient reaches the weights (double backward)', () => {
  const r = G.r1;
  using conv = new Conv2d(2, 3, 3, { stride: 2, padding: 1 });
  using fc = new Linear(48, 1);
  conv.loadStateDict({ weight: fromEnc(r.conv.weight), bias: fromEnc(r.conv.bias) });
  fc.loadStateDict({ weight: fromEnc(r.fc.weight), bias: fromEnc(r.fc.bias) });
  T.tidy(() => {
    const images = fromEnc(r.images, true);
    const scores = fc.forward(conv.forward(images).leakyRelu(0.2).flatten(1));
    const penalty = r1Penalty(scores, images, r.gamma);
    assert.ok(
      Math.abs(penalty.item() - r.penalty) < 1e-5 * Math.max(1, r.penalty),
      `${penalty.item()} vs ${r.penalty}`,
    );
    penalty.backward();
    assertClose(conv.weight.grad, r.grads['conv.weight'], 1e-5, 1e-4, 'grad conv.weight');
    assertClose(conv.bias!.grad, r.grads['conv.bias'], 1e-5, 1e-4, 'grad conv.bias');
    assertClose(fc.weight.grad, r.grads['fc.weight'], 1e-5, 1e-4, 'grad fc.weight');
  });
});

test("DiffAugment's translation and cutout match the authors' code given the offsets, with gradients", () => {
  const a = G.augment;
  T.tidy(() => {
    const x = fromEnc(a.x, true);
    const moved = translate(x, long(a.ty), long(a.tx));
    assertClose(moved, a.moved, 0, 0, 'translated');
    const y = cutout(moved, long(a.cy), long(a.cx));
    assertClose(y, a.y, 0, 0, 'cut out');
    y.mul(fromEnc(a.r)).sum().backward();
    assertClose(x.grad, a.gradX, 1e-6, 1e-5, 'grad x');
  });
});

test("diffAugment is seeded by Loom's RNG and keeps the shape", () => {
  T.tidy(() => {
    const x = T.randn([4, 1, 12, 12]);
    T.manualSeed(3);
    const a = diffAugment(x);
    T.manualSeed(3);
    const b = diffAugment(x);
    assert.deepEqual(a.shape, [4, 1, 12, 12]);
    assert.equal(a.sub(b).abs().max().item(), 0);
    assert.notEqual(a.sub(x).abs().max().item(), 0, 'it changes the images');
  });
});

test('the default recipe: clustered where the run is unconditional, dcgan where it learns from labels; an explicit one wins', () => {
  const c = (over: Partial<GanTrainConfig>): GanTrainConfig => ({ ...GAN_DEFAULTS, ...over });
  assert.equal(recipeOf(c({})), 'dcgan', 'labelled MNIST, conditional');
  assert.equal(recipeOf(c({ conditional: false })), 'clustered', '--no-conditional');
  assert.equal(recipeOf(c({ data: 'cifar10:/nowhere:frog' })), 'clustered', 'one CIFAR class has no labels');
  assert.equal(recipeOf(c({ conditional: false, recipe: 'dcgan' })), 'dcgan');
  assert.equal(recipeOf(c({ recipe: 'keras' })), 'keras');
  const run = withRecipe(c({ conditional: false, recipe: 'sngan' }));
  assert.equal(run.recipe, 'sngan');
  assert.equal(run.dLr, GAN_RECIPES.sngan.dLr, "the recipe's own settings fill the unset ones");
  assert.equal(conditionedClasses(c({ conditional: false })), null);
  assert.equal(conditionedClasses(c({ recipe: 'sngan' })), null, 'sngan takes no labels');
  assert.equal(run.augment, false, 'DiffAugment is opt-in');
  // A run saved before sngan (no augment in its config) keeps its recipe and trains unaugmented.
  const old = withRecipe({ ...RESUME_DEFAULTS, recipe: 'dcgan', conditional: false });
  assert.equal(old.recipe, 'dcgan');
  assert.equal(old.augment, false);
  assert.equal(withRecipe(RESUME_DEFAULTS).recipe, 'keras', "older still: the book's recipe");
});
