// Dream's settings, declared once: the config type, its defaults, its checks, the CLI's
// options and help and the studio's form all come from DREAM_OPTIONS.
import type { Tensor } from '../../torch/index.js';
import type { Backbone } from '../../vision/weights.js';
import { INCEPTION_KERAS_NAMES } from '../../vision/inception.js';
import { PRECISION_OPTION, SEED_OPTION, checkOptions, defaultsOf, type ConfigOf } from '../options.js';
import { parseChannels, parseLayerOctaves, parseLayers, splitKey, type ChannelChoice } from './layers.js';

/** More octaves than this only add images smaller than the network can see. */
export const DREAM_MAX_OCTAVES = 32;

export const DREAM_OPTIONS = {
  layers: {
    type: 'string',
    default: 'mixed2=0.2,mixed3=3,mixed4=2,mixed5=1.5',
    meta: 'L[:C]=W[@O],...',
    help: 'layers and weights; mixed3=1@1-2 dreams mixed3 in octaves 1 to 2 only (1: the smallest)',
    studio: 'word',
    picks: Object.keys(INCEPTION_KERAS_NAMES),
  },
  channels: {
    type: 'string',
    default: 'all',
    meta: 'all|strong|weak',
    help: "for layers given without a channel: all, or the photo's strong[:N] or weak[:N] (its most or least active N channels, 4 unless given)",
    studio: 'word',
  },
  guide: {
    type: 'string',
    default: null,
    meta: 'IMAGE',
    help: "dream toward this image's features (a file or builtin:NAME) instead of exciting the layers",
    studio: 'guide',
  },
  lapLevels: {
    type: 'int',
    default: 0,
    min: 0,
    help: 'normalise the gradient per band of a Laplacian pyramid of this many levels: larger, smoother patterns (0: off)',
    studio: true,
  },
  octaves: { type: 'int', default: 3, min: 1, max: DREAM_MAX_OCTAVES, help: 'scales, smallest first', studio: true },
  octaveScale: { type: 'number', default: 1.4, positive: true, help: 'size ratio between octaves', studio: true },
  steps: { type: 'int', default: 20, min: 0, help: 'gradient steps per octave', studio: true },
  stepSize: {
    type: 'number',
    default: 0.01,
    positive: true,
    help: 'step along the normalised gradient (image in [-1, 1])',
    studio: true,
  },
  maxLoss: {
    type: 'number',
    default: 15,
    atLeast: 0,
    off: 0,
    help: 'end an octave once the loss passes this (0: never)',
    studio: true,
  },
  jitter: {
    type: 'int',
    default: 32,
    min: 0,
    help: 'largest random shift before each step, in pixels (0: off)',
    studio: true,
  },
  tile: {
    type: 'int',
    default: 512,
    min: 0,
    help: 'largest tile side; larger images are dreamed in tiles (0: one piece)',
  },
  precision: PRECISION_OPTION,
  seed: { ...SEED_OPTION, studio: true },
} as const;

type DreamSettings = ConfigOf<typeof DREAM_OPTIONS>;

/**
 * A dream's settings, as the table declares them, with the layer and channel specs read:
 * `layers` maps a layer (or "layer:channel") to its weight, `layerOctaves` the octaves a layer
 * key takes part in (1: the smallest; a layer not listed dreams in all), and `guide` is the
 * image (RGB [1, 3, h, w] in [0, 1]) to dream toward, or null.
 */
export type DreamConfig = Omit<DreamSettings, 'layers' | 'channels' | 'guide'> & {
  layers: Record<string, number>;
  layerOctaves: Record<string, [number, number]>;
  channels: ChannelChoice;
  guide: Tensor | null;
};

/** The config from the table's settings (as the CLI gives them) and the guide image, if any. */
export function dreamConfig(s: DreamSettings, guide: Tensor | null): DreamConfig {
  return {
    ...s,
    layers: parseLayers(s.layers),
    layerOctaves: parseLayerOctaves(s.layers),
    channels: parseChannels(s.channels),
    guide,
  };
}

export const DREAM_DEFAULTS: DreamConfig = dreamConfig(defaultsOf(DREAM_OPTIONS), null);

export function checkDreamConfig(c: DreamConfig, backbone: Backbone): void {
  // The table's checks; the specs it reads as strings (layers, channels, guide) it leaves alone.
  checkOptions(DREAM_OPTIONS, c as unknown as DreamSettings);
  if (c.octaveScale <= 1 && c.octaves > 1) throw new Error(`--octave-scale must be above 1, got ${c.octaveScale}`);
  if (c.tile > 0 && c.tile < 96) throw new Error(`--tile must be 0 (off) or at least 96 pixels, got ${c.tile}`);
  for (const [k, [a, b]] of Object.entries(c.layerOctaves ?? {})) {
    if (b > c.octaves) throw new Error(`${k}@${a}-${b} names octave ${b}, but there are ${c.octaves} (--octaves)`);
  }
  if (c.guide && (c.guide.shape.length !== 4 || c.guide.shape[1] !== 3))
    throw new Error(`the guide must be one RGB image [1, 3, H, W], got [${c.guide.shape}]`);
  const net = backbone.net;
  for (const name of Object.keys(c.layers).map((k) => splitKey(k)[0])) {
    if (!net.hasEndpoint(name)) {
      throw new Error(`unknown layer "${name}" for ${net.arch}; valid layers: ${net.endpointNames.join(', ')}`);
    }
  }
}
