// Style transfer's settings, declared once: the config type, its defaults (the table's, and
// each backbone's where they differ), its checks, the CLI's options and help and the studio's
// form all come from STYLE_OPTIONS.
import { minInputSide, type Backbone } from '../../vision/weights.js';
import { PRECISION_OPTION, SEED_OPTION, checkOptions, defaultsOf, variantDefaults, type ConfigOf } from '../options.js';
import { COLOUR_MATCHES } from './colour-match.js';
import type { StyleImage } from './gatys.js';

/** The longest side a stylised image may have: beyond it the backbone's activations outgrow memory. */
export const STYLE_MAX_SIDE = 4096;

/**
 * Per backbone (byVariant), VGG19: the book's layers, weights and method. The built-in
 * InceptionV3 (nsfwjs): chosen by measurement with judges the method does not see (`npm run
 * bench -- style-quality`; the sweep is in docs/benchmarks.md). Its Gram matrices are flat (those
 * of its early layers pull the image to a pink wash), so style is matched as whole distributions
 * of features, by sliced Wasserstein losses, which carry the painting's strokes from the early
 * layers as well as the mixed ones; each layer's loss is relative to its target so none is 0.1%
 * of the total; the palette comes from a colour-statistics loss and a start from the photo
 * recoloured to the painting's colours.
 */
export const STYLE_OPTIONS = {
  height: {
    type: 'int',
    default: 400,
    min: 32,
    max: STYLE_MAX_SIDE,
    help: 'output height (width follows the content)',
    studio: true,
  },
  iterations: {
    type: 'int',
    default: null,
    min: 1,
    help: 'L-BFGS iterations (Adam: steps = iterations x max-evals)',
    // Inception's 10: within 2 minutes at height 256 and 5 at 400 on 2 cores.
    byVariant: { vgg19: 20, inception: 10 },
    studio: true,
  },
  maxEvals: {
    type: 'int',
    default: 20,
    min: 1,
    help: "loss evaluations per L-BFGS iteration (the book's maxfun)",
    studio: true,
  },
  optimizer: {
    type: 'choice',
    default: 'lbfgs',
    choices: ['lbfgs', 'adam'],
    help: 'optimiser: lbfgs or adam',
    studio: 'word',
  },
  lr: { type: 'number', default: 5, positive: true, help: "Adam's learning rate (pixel units)" },
  contentWeight: {
    type: 'number',
    default: null,
    atLeast: 0,
    help: 'content loss weight',
    byVariant: { vgg19: 0.025, inception: 1 },
    studio: true,
  },
  styleWeight: {
    type: 'number',
    default: null,
    atLeast: 0,
    help: 'style loss weight',
    byVariant: { vgg19: 1, inception: 1000 },
    studio: true,
  },
  tvWeight: {
    type: 'number',
    default: null,
    atLeast: 0,
    help: 'total-variation weight',
    byVariant: { vgg19: 1e-4, inception: 1e-9 },
  },
  colourWeight: {
    type: 'number',
    default: null,
    atLeast: 0,
    help: "weight of the loss on the style's colour mean and covariance (the first style's)",
    byVariant: { vgg19: 0, inception: 100 },
    studio: true,
  },
  contentLayer: {
    type: 'string',
    default: null,
    help: 'content layer',
    byVariant: { vgg19: 'block5_conv2', inception: 'mixed3' },
  },
  styleLayers: {
    type: 'strings',
    default: null,
    help: 'comma-separated style layers, each name or name=weight, its share of the style term',
    byVariant: {
      vgg19: ['block1_conv1', 'block2_conv1', 'block3_conv1', 'block4_conv1', 'block5_conv1'],
      // Every early layer, at 3 times the mixed ones' share and the deepest two at 0.3: the
      // painting's strokes live in the early layers' feature distributions, and the deep
      // layers' pull towards the painting's layout fights the content term.
      inception: [
        'Conv2d_1a_3x3=3',
        'Conv2d_2a_3x3=3',
        'Conv2d_2b_3x3=3',
        'Conv2d_3b_1x1=3',
        'Conv2d_4a_3x3=3',
        'mixed0',
        'mixed1',
        'mixed2=0.3',
        'mixed4=0.3',
      ],
    },
  },
  init: {
    type: 'choice',
    default: null,
    choices: ['content', 'matched', 'style', 'noise'],
    help: "start image: content, matched (the content in the style's colours), style or noise",
    byVariant: { vgg19: 'content', inception: 'matched' },
    studio: 'word',
  },
  smoothing: {
    type: 'bool',
    default: null,
    words: ['on', 'off'],
    help: 'softmax-smoothed style activations (Wang et al. 2021), each loss relative to its target',
    byVariant: { vgg19: false, inception: false },
  },
  styleLoss: {
    type: 'choice',
    default: null,
    choices: ['gram', 'sliced'],
    help: 'style loss: gram (Gram matrices) or sliced (sliced Wasserstein distances of the activations)',
    byVariant: { vgg19: 'gram', inception: 'sliced' },
  },
  redrawDirections: {
    type: 'bool',
    default: false,
    help: 'sliced losses: new random directions every iteration (the photo stays clearer at the same texture; ~20% slower)',
  },
  directions: {
    type: 'number',
    default: null,
    positive: true,
    help: 'sliced losses: random directions per channel of each style layer (more: finer texture, slower)',
    byVariant: { vgg19: 1, inception: 1 },
  },
  preserveColors: {
    type: 'bool',
    default: false,
    help: "keep the content's colours (style in luminance only; --color-match luminance)",
    studio: true,
  },
  colorMatch: {
    type: 'choice',
    default: null,
    choices: COLOUR_MATCHES,
    meta: 'HOW',
    help: "give the result the photo's colours: luminance (its chroma), meanstd (each channel's mean and spread) or histogram (each channel's values, rank for rank)",
    studio: 'word',
  },
  scales: { type: 'int', default: 1, min: 1, help: 'solve small first, then upscale and refine, over N scales' },
  styleScale: { type: 'number', default: 1, positive: true, help: "the style image's height relative to the output's" },
  precision: PRECISION_OPTION,
  seed: { ...SEED_OPTION, studio: true },
} as const;

/** A transfer's settings; null: the backbone's default (STYLE_OPTIONS' byVariant). */
export type StyleConfig = ConfigOf<typeof STYLE_OPTIONS>;
export const STYLE_DEFAULTS: StyleConfig = defaultsOf(STYLE_OPTIONS);

export type StyleInit = NonNullable<StyleConfig['init']>;
export type StyleLossKind = NonNullable<StyleConfig['styleLoss']>;

export interface StyleWeights {
  content: number;
  style: number;
  tv: number;
  colour: number;
}

export interface StyleDefaults {
  content: string;
  /** `name` or `name=weight`, as --style-layers takes them. */
  style: string[];
  weights: StyleWeights;
  init: StyleInit;
  iterations: number;
  /** 'keras': the book's Keras sums; 'relative': content and each style layer over its target's size. */
  loss: 'keras' | 'relative';
  smoothing: boolean;
  styleLoss: StyleLossKind;
  /** Sliced losses' random directions per channel. */
  directions: number;
}

/** A backbone's defaults for the settings left unset: the table's byVariant, and its loss. */
export function styleDefaults(arch: 'inception' | 'vgg19'): StyleDefaults {
  const d = variantDefaults(STYLE_OPTIONS, arch) as Required<{
    [K in keyof StyleConfig]: NonNullable<StyleConfig[K]>;
  }>;
  return {
    content: d.contentLayer,
    style: d.styleLayers,
    weights: { content: d.contentWeight, style: d.styleWeight, tv: d.tvWeight, colour: d.colourWeight },
    init: d.init,
    iterations: d.iterations,
    loss: arch === 'vgg19' ? 'keras' : 'relative',
    smoothing: d.smoothing,
    styleLoss: d.styleLoss,
    directions: d.directions,
  };
}

export interface ResolvedStyle {
  content: string;
  style: string[];
  /** Each style layer's share of the style term. */
  styleShares: number[];
  weights: StyleWeights;
  init: StyleInit;
  iterations: number;
  smoothing: boolean;
  relative: boolean;
  styleLoss: StyleLossKind;
  directions: number;
}

/** `name` or `name=weight` (a number >= 0, as dream's --layers) → the layer and its share of the style term. */
export function parseStyleLayer(entry: string): { name: string; share: number } {
  const eq = entry.indexOf('=');
  if (eq < 0) return { name: entry.trim(), share: 1 };
  const text = entry.slice(eq + 1).trim();
  const share = Number(text);
  if (text === '' || !(share >= 0) || !Number.isFinite(share))
    throw new Error(`style layer "${entry}": the weight after "=" must be a number >= 0`);
  return { name: entry.slice(0, eq).trim(), share };
}

/** The settings each on its own (the table's checks and the bound on --directions). */
export function checkStyleOptions(c: StyleConfig): void {
  checkOptions(STYLE_OPTIONS, c);
  // Each direction holds a sorted projection of the painting's activations: bound the memory.
  if (c.directions !== null && c.directions > 16)
    throw new Error(`--directions must be at most 16 per channel, got ${c.directions}`);
}

export function checkStyleConfig(c: StyleConfig, styles: StyleImage[], backbone: Backbone): ResolvedStyle {
  checkStyleOptions(c);
  if (!styles.length) throw new Error('give at least one style image');
  for (const s of styles) if (!(s.weight > 0)) throw new Error(`style weights must be > 0, got ${s.weight}`);
  const least = minInputSide(backbone.net.arch);
  if (c.height < least) throw new Error(`--height must be at least ${least} for ${backbone.net.arch}, got ${c.height}`);
  if (c.height / 2 ** (c.scales - 1) < least)
    throw new Error(`--scales ${c.scales} makes the first scale under ${least} pixels high; use fewer scales`);
  const d = styleDefaults(backbone.net.arch);
  const smoothing = c.smoothing ?? d.smoothing;
  const styleLayers = (c.styleLayers ?? d.style).map(parseStyleLayer);
  const r: ResolvedStyle = {
    content: c.contentLayer ?? d.content,
    style: styleLayers.map((l) => l.name),
    styleShares: styleLayers.map((l) => l.share),
    weights: {
      content: c.contentWeight ?? d.weights.content,
      style: c.styleWeight ?? d.weights.style,
      tv: c.tvWeight ?? d.weights.tv,
      colour: c.colourWeight ?? d.weights.colour,
    },
    init: c.init ?? d.init,
    iterations: c.iterations ?? d.iterations,
    smoothing,
    relative: smoothing || d.loss === 'relative',
    styleLoss: c.styleLoss ?? d.styleLoss,
    directions: c.directions ?? d.directions,
  };
  if (!r.style.length) throw new Error('give at least one style layer');
  if (c.redrawDirections && r.styleLoss !== 'sliced') throw new Error('--redraw-directions needs --style-loss sliced');
  if (c.directions !== null && r.styleLoss !== 'sliced') throw new Error('--directions needs --style-loss sliced');
  for (const l of [r.content, ...r.style]) {
    if (!backbone.net.hasEndpoint(l))
      throw new Error(
        `unknown layer "${l}" for ${backbone.net.arch}; valid layers: ${backbone.net.endpointNames.join(', ')}`,
      );
  }
  return r;
}
