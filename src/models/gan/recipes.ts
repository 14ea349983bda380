// The GAN recipes as objects: each says how its networks are built, how they are optimised and
// scored, and whether they take labels, so the trainer, the loader and export call the recipe
// instead of asking which one it is. The values a recipe sets when the user does not are
// GAN_RECIPES (train.ts), beside the option table.
import * as T from '../../torch/index.js';
import { Tensor } from '../../torch/index.js';
import { Adam, RMSprop, type Optimizer } from '../../optim/index.js';
import { binaryCrossEntropyWithLogits, hingeDiscriminatorLoss, hingeGeneratorLoss } from '../../nn/index.js';
import {
  DcganDiscriminator,
  DcganGenerator,
  Discriminator,
  SnDiscriminator,
  Generator,
  type GanConfig,
  type GanDiscriminator,
  type GanGenerator,
} from './model.js';

export interface GanRecipe {
  /** Whether its networks can be conditioned on class labels (given labelled data). */
  conditional: boolean;
  /** Whether its networks are conditioned on clusters of the images instead (their labels unused). */
  clustered?: boolean;
  /** Fresh networks, with the recipe's initialisation. */
  generator(model: GanConfig): GanGenerator;
  discriminator(model: GanConfig): GanDiscriminator;
  /** The optimiser of either network, clipping every gradient value to [-clip, clip] when clip > 0. */
  optimizer(params: Tensor[], lr: number, clip: number): Optimizer;
  /**
   * The discriminator's loss on generated images (target 1) and real ones (0); `targets`
   * [2b, 1] holds the generated half's noisy labels first, then the real half's.
   */
  discriminatorLoss(
    d: GanDiscriminator,
    fake: Tensor,
    fakeLabels: Tensor | undefined,
    real: Tensor,
    realLabels: Tensor | undefined,
    targets: Tensor,
  ): Tensor;
  /**
   * The generator's loss on its images (`labels` when conditional); without one, the
   * discriminator's cross-entropy toward "real" (0).
   */
  generatorLoss?(d: GanDiscriminator, fake: Tensor, labels: Tensor | undefined): Tensor;
  /** Checks of its settings beyond the option table's (`gFilters`: the user's, or null). */
  validate(gFilters: number | null): void;
}

const clipping = (clip: number) => (clip > 0 ? { clipValue: clip } : {});

export type GanRecipeName = 'keras' | 'dcgan' | 'sngan' | 'clustered';

// pytorch/examples' dcgan: Adam (beta1 0.5), and the halves scored apart, so that batch norm
// never mixes real and generated statistics.
const DCGAN: GanRecipe = {
  conditional: true,
  generator: (m) => new DcganGenerator(m),
  discriminator: (m) => new DcganDiscriminator(m),
  optimizer: (ps, lr, clip) => new Adam(ps, { lr, beta1: 0.5, beta2: 0.999, ...clipping(clip) }),
  discriminatorLoss: (d, fake, fakeLabels, real, realLabels, targets) => {
    const b = fake.size(0);
    return binaryCrossEntropyWithLogits(d.forward(fake, fakeLabels), targets.narrow(0, 0, b))
      .add(binaryCrossEntropyWithLogits(d.forward(real, realLabels), targets.narrow(0, b, b)))
      .div(2);
  },
  validate: () => {},
};

export const RECIPES: Record<GanRecipeName, GanRecipe> = {
  // The book's Keras recipe: its networks, RMSprop with clipvalue, and both halves scored in one batch.
  keras: {
    conditional: false,
    generator: (m) => new Generator(m),
    discriminator: (m) => new Discriminator(m),
    // Keras' RMSprop: rho 0.9 and epsilon 1e-7, with clipvalue.
    optimizer: (ps, lr, clip) => new RMSprop(ps, { lr, alpha: 0.9, eps: 1e-7, ...clipping(clip) }),
    discriminatorLoss: (d, fake, _fl, real, _rl, targets) =>
      binaryCrossEntropyWithLogits(d.forward(T.cat([fake, real], 0)), targets),
    validate: (gFilters) => {
      if (gFilters !== null && gFilters % 2)
        throw new Error(`--g-filters must be even for the keras recipe's generator, got ${gFilters}`);
    },
  },
  dcgan: DCGAN,
  // Miyato et al.'s spectrally normalised discriminator with the hinge loss and the dcgan
  // generator. The discriminator's scores for the hinge loss are its negated logits (high = real).
  sngan: {
    conditional: false,
    generator: (m) => new DcganGenerator(m),
    discriminator: (m) => new SnDiscriminator(m),
    optimizer: (ps, lr, clip) => new Adam(ps, { lr, beta1: 0.5, beta2: 0.999, ...clipping(clip) }),
    discriminatorLoss: (d, fake, _fl, real) => {
      const b = fake.size(0);
      const scores = d.forward(T.cat([fake, real], 0)).neg();
      return hingeDiscriminatorLoss(scores.narrow(0, b, b), scores.narrow(0, 0, b));
    },
    generatorLoss: (d, fake) => hingeGeneratorLoss(d.forward(fake).neg()),
    validate: () => {},
  },
  // For unlabelled data: dcgan's networks, conditioned on clusters of the images (their
  // labels, if any, unused); the trainer forms the clusters.
  clustered: { ...DCGAN, conditional: false, clustered: true },
};
