// The settings of a GAN run: the option table, what each recipe sets when the user does not,
// and the checks and conditioning that follow from them (the recipes' behaviour: recipes.ts).
import { labelledClasses } from './data.js';
import { RECIPES, type GanRecipeName } from './recipes.js';
import {
  MINUTES_OPTION,
  PRECISION_OPTION,
  SEED_OPTION,
  checkOptions,
  defaultsOf,
  fillUnset,
  type ConfigOf,
  type OptionTable,
} from '../options.js';

/** Every setting of a GAN training run, declared once (see models/options.ts). */
export const GAN_OPTIONS = {
  data: {
    type: 'string',
    default: 'builtin:mnist',
    help: 'builtin:mnist, builtin:fashion-mnist, cifar10:<folder>, each with :<class> for one class (by name or number: builtin:mnist:7, builtin:fashion-mnist:sneaker, cifar10:<folder>:frog), or a folder of images',
    meta: 'SRC',
    studio: 'data',
  },
  recipe: {
    type: 'choice',
    default: null,
    choices: ['dcgan', 'keras', 'sngan', 'clustered'],
    aliases: { seed: 'keras' },
    help: "dcgan: Radford et al.'s networks (batch norm, ReLU generator) with Adam (beta1 0.5) and an averaged generator; keras: the book's Keras recipe (Deep Learning with Python, chapter 8), its networks with RMSprop and gradient clipping; sngan: the dcgan generator against a spectrally normalised discriminator (Miyato et al. 2018) with the hinge loss; clustered: the dcgan networks conditioned on clusters of the images (--clusters) as if they were classes (Liu et al. 2020). Unset: clustered when the run is unconditional (--no-conditional, one class, or data without labels), where it measured best, and dcgan otherwise. Unset settings below take the recipe's values",
  },
  conditional: {
    type: 'bool',
    default: true,
    help: 'with the dcgan recipe and labelled data (the built-in sets, all of CIFAR-10), learn to draw each class on demand: the label goes to both networks (--no-conditional: latent points alone)',
  },
  clusters: {
    type: 'int',
    default: 50,
    min: 1,
    help: 'with the clustered recipe: how many clusters of the images (k-means on their pixels) the networks are conditioned on, at most one per 50 images; samples draw each as often as the data holds it',
  },
  latent: { type: 'int', default: 32, min: 1, help: 'latent dimensions' },
  batch: { type: 'int', default: null, min: 1, help: 'real (and as many generated) images per step', studio: true },
  steps: { type: 'int', default: 10000, min: 1, help: 'training steps', studio: true },
  dLr: { type: 'number', default: null, positive: true, help: "discriminator's learning rate" },
  gLr: {
    type: 'number',
    default: null,
    positive: true,
    help: "generator's (through the frozen discriminator) learning rate",
  },
  clip: { type: 'number', default: null, atLeast: 0, help: 'clip every gradient value to [-clip, clip] (0: off)' },
  labelNoise: {
    type: 'number',
    default: null,
    range: [0, 0.5],
    help: "uniform noise added to the discriminator's labels",
  },
  dropout: { type: 'number', default: null, range: [0, 1], help: "dropout before the discriminator's last layer" },
  gFilters: {
    type: 'int',
    default: null,
    min: 2,
    help: "the generator's width (keras: 256; dcgan: the last layer's, doubling toward the first)",
    studio: true,
  },
  dFilters: {
    type: 'int',
    default: null,
    min: 1,
    help: "the discriminator's width (keras: 128; dcgan: the first layer's, doubling toward the last)",
    studio: true,
  },
  ema: {
    type: 'number',
    default: null,
    range: [0, 1],
    help: "keep an exponential moving average of the generator's weights with this decay, for samples (0: off)",
  },
  augment: {
    type: 'bool',
    default: false,
    help: "DiffAugment (Zhao et al. 2020): random translation (up to 1/8 of the side) and cutout (a square half the side) of every image the discriminator sees, real and generated, through which the generator's gradient passes; for small data sets (on all of MNIST it made the sngan recipe worse)",
  },
  sampleEvery: { type: 'int', default: 100, min: 1, help: 'steps between sample grids and checkpoints', studio: true },
  logEvery: { type: 'int', default: 20, min: 1, help: 'steps between log lines', studio: true },
  rollback: {
    type: 'bool',
    default: false,
    help: "on a warning, return to the last good checkpoint and halve the discriminator's learning rate",
  },
  watchAfter: {
    type: 'int',
    default: null,
    min: 0,
    help: 'first step of the failure watch (default: max(500, 5 x sample-every))',
  },
  size: { type: 'int', default: 32, min: 24, help: 'image side for folder data' },
  channels: { type: 'choice', default: 3, choices: [1, 3], parse: 'int', help: 'channels for folder data (1 or 3)' },
  limit: { type: 'int', default: null, min: 1, help: 'use only the first N images', studio: true },
  minutes: MINUTES_OPTION,
  precision: PRECISION_OPTION,
  seed: SEED_OPTION,
} as const satisfies OptionTable;

export type GanTrainConfig = ConfigOf<typeof GAN_OPTIONS>;
export const GAN_DEFAULTS: GanTrainConfig = defaultsOf(GAN_OPTIONS);

// pytorch/examples' dcgan with the settings that drew the best MNIST digits in equal CPU
// time (docs/benchmarks.md): a wider generator than discriminator, batch 32, Adam 1e-3.
const DCGAN_SETTINGS = {
  batch: 32,
  dLr: 1e-3,
  gLr: 1e-3,
  clip: 0,
  labelNoise: 0,
  dropout: 0,
  gFilters: 64,
  dFilters: 32,
  ema: 0.99,
} as const;

/** What each recipe sets when the user does not. */
export const GAN_RECIPES = {
  // The book's Keras values: RMSprop with clipvalue 1, noisy labels, dropout 0.4.
  keras: {
    batch: 20,
    dLr: 8e-4,
    gLr: 4e-4,
    clip: 1,
    labelNoise: 0.05,
    dropout: 0.4,
    gFilters: 256,
    dFilters: 128,
    ema: 0,
  },
  dcgan: DCGAN_SETTINGS,
  // dcgan's settings, with the spectrally normalised discriminator and hinge loss (recipes.ts).
  sngan: DCGAN_SETTINGS,
  // The default for unlabelled data: dcgan conditioned on clusters of the images, with a
  // slower average. In equal CPU time on unconditional MNIST it beat sngan and dcgan on the
  // judge's share and the Fréchet distance (docs/guides/gan.md, "Unlabelled data").
  clustered: { ...DCGAN_SETTINGS, ema: 0.995 },
} as const;

/** A config whose recipe has filled every setting the user left unset. */
export type GanRunConfig = GanTrainConfig & { recipe: GanRecipeName } & {
  [K in keyof (typeof GAN_RECIPES)['keras']]: NonNullable<GanTrainConfig[K]>;
};

/**
 * The run's recipe: the one asked for, else clustered where the run is unconditional
 * (--no-conditional, or data without labels) and dcgan where it learns from labels.
 */
export function recipeOf(c: GanTrainConfig): GanRecipeName {
  return c.recipe ?? (c.conditional && labelledClasses(c.data) ? 'dcgan' : 'clustered');
}

/**
 * The config with its recipe chosen and every unset setting taken from that recipe, and
 * `conditional` saying whether the networks take labels: a run records what it trained, not
 * the option's default (true, which unlabelled data and the keras and sngan recipes ignore).
 */
export function withRecipe(c: GanTrainConfig): GanRunConfig {
  const recipe = recipeOf(c);
  const conditional = conditionedClasses({ ...c, recipe }) !== null;
  return fillUnset<GanRunConfig>({ ...c, recipe, conditional }, GAN_RECIPES[recipe]);
}

/**
 * The labelled classes a run's networks are conditioned on, or null (the keras, sngan and
 * clustered recipes, unlabelled data, --no-conditional).
 */
export function conditionedClasses(c: GanTrainConfig): string[] | null {
  return c.conditional && RECIPES[recipeOf(c)].conditional ? labelledClasses(c.data) : null;
}

/** Runs saved before recipes existed are the book's Keras recipe; before labels, unconditional. */
export const RESUME_DEFAULTS: GanTrainConfig = { ...GAN_DEFAULTS, recipe: 'keras', conditional: false };

export function validateGanConfig(c: GanTrainConfig): void {
  checkOptions(GAN_OPTIONS, c);
  RECIPES[recipeOf(c)].validate(c.gFilters);
}
