// DeepDream as the registry knows it.
import { DREAM_OPTIONS } from '../../models/dream/index.js';
import { studioOptions, type OptionDef } from '../../models/options.js';
import type { System } from '../system.js';

/** The command's own option beside the table: the studio's form and the CLI both read this. */
export const MAX_SIDE: Readonly<Record<string, OptionDef>> = {
  'max-side': {
    type: 'int',
    default: 0,
    min: 0,
    help: 'shrink the input so its longer side is at most this (0: keep)',
  },
};

export const dreamSystem: System = {
  name: 'dream',
  title: 'DeepDream',
  usage: [['dream <image>', 'DeepDream a photo (builtin:dog, builtin:scream, ... or a file)']],
  cli: async (args) => (await import('./cli.js')).dreamCommand(args),
  options: { dream: DREAM_OPTIONS },
  jobs: {
    dream: {
      verb: ['dream'],
      out: 'file',
      options: { image: 'media', ...studioOptions(DREAM_OPTIONS), 'max-side': 'int' },
      declared: MAX_SIDE,
      extraArgs: (video) => (video ? [] : ['--save-octaves']),
    },
  },
  demo: {
    budget: { cap: 0.1 },
    files: ['dream-original.png', 'dream.png'],
    run: async (ctx, minutes) => (await import('./demo.js')).dreamDemo(ctx, minutes),
  },
};
