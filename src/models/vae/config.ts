// The settings of a VAE run: the option table, and what each recipe sets of the learning
// rate's course when --schedule and --warmup do not.
import {
  MINUTES_OPTION,
  PRECISION_OPTION,
  SEED_OPTION,
  checkOptions,
  defaultsOf,
  type ConfigOf,
  type OptionTable,
} from '../options.js';

/** Every setting of a VAE training run, declared once (see models/options.ts). */
export const VAE_OPTIONS = {
  data: {
    type: 'string',
    default: 'builtin:mnist',
    help: 'builtin:mnist, builtin:fashion-mnist, an idx images file, or a folder of images',
    meta: 'SRC',
    studio: 'data',
  },
  latent: { type: 'int', default: 2, min: 1, help: 'latent dimensions', studio: true },
  epochs: { type: 'int', default: 10, min: 1, help: 'passes over the training images', studio: true },
  batch: { type: 'int', default: 16, min: 1, help: 'images per step', studio: true },
  lr: { type: 'number', default: 1e-3, positive: true, help: 'RMSprop learning rate' },
  recipe: {
    type: 'choice',
    default: 'anneal',
    choices: ['anneal', 'keras'],
    aliases: { seed: 'keras' },
    help: "anneal: the book's RMSprop with 100 steps of warm-up, the rate then held, and annealed to 0 over the last 20% of the run (docs/benchmarks.md); keras: the book's Keras recipe (Deep Learning with Python, chapter 8), a constant rate. --schedule and --warmup override",
  },
  schedule: {
    type: 'choice',
    default: 'recipe',
    choices: ['recipe', 'constant', 'cosine', 'anneal'],
    help: "learning rate schedule (recipe: the recipe's); cosine falls to 0 where the run ends (--epochs, or --minutes if sooner); anneal holds the rate, then falls linearly to 0 over the last 20% of the run",
  },
  warmup: {
    type: 'int',
    default: null,
    min: 0,
    help: "steps of linear learning-rate warm-up (unset: the recipe's); RMSprop's first steps move every weight by about 10x the rate",
  },
  loss: {
    type: 'choice',
    default: 'elbo',
    choices: ['elbo', 'keras'],
    aliases: { seed: 'keras' },
    help: "elbo: summed cross-entropy + KL, in nats; keras: the book's Keras loss, mean cross-entropy + 5e-4 KL",
  },
  klWeight: { type: 'number', default: 1, atLeast: 0, help: 'weight of the KL term' },
  size: { type: 'int', default: 28, min: 4, help: 'image side for folder data' },
  channels: { type: 'choice', default: 1, choices: [1, 3], parse: 'int', help: 'channels for folder data (1 or 3)' },
  limit: { type: 'int', default: null, min: 1, help: 'use only the first N training images', studio: true },
  minutes: MINUTES_OPTION,
  precision: PRECISION_OPTION,
  logEvery: { type: 'int', default: 50, min: 1, help: 'log a line every N steps', studio: true },
  seed: SEED_OPTION,
} as const satisfies OptionTable;

export type VaeTrainConfig = ConfigOf<typeof VAE_OPTIONS>;
export const VAE_DEFAULTS: VaeTrainConfig = defaultsOf(VAE_OPTIONS);

/** What a recipe sets when the user does not: the learning rate's schedule and warm-up steps. */
export interface VaeRecipe {
  schedule: 'constant' | 'anneal';
  warmup: number;
}

export const VAE_RECIPES: Record<VaeTrainConfig['recipe'], VaeRecipe> = {
  // The book's RMSprop, warmed up so that its first steps do not throw the weights, the rate
  // then held and annealed to 0 over the last 20% of the run (docs/benchmarks.md).
  anneal: { schedule: 'anneal', warmup: 100 },
  // The book's Keras recipe (Deep Learning with Python, chapter 8): a constant rate.
  keras: { schedule: 'constant', warmup: 0 },
};

/** The schedule and warm-up a run uses: those asked for, else its recipe's. */
export function vaeSchedule(c: VaeTrainConfig): { schedule: 'constant' | 'cosine' | 'anneal'; warmup: number } {
  const recipe = VAE_RECIPES[c.recipe];
  return {
    schedule: c.schedule !== 'recipe' ? c.schedule : recipe.schedule,
    warmup: c.warmup ?? recipe.warmup,
  };
}

export function validateVaeConfig(c: VaeTrainConfig): void {
  checkOptions(VAE_OPTIONS, c);
}
