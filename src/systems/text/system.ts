// Text as the registry knows it: the CLI's commands, the option table, the trainer, the
// studio's job and the export.
import { TEXT_KINDS, TEXT_OPTIONS } from '../../models/text/index.js';
import { studioOptions } from '../../models/options.js';
import type { System } from '../system.js';
import { textRunGraph } from './export.js';
import { textTrainer } from './trainer.js';

export const textSystem: System = {
  name: 'text',
  title: 'Text',
  usage: [
    ['text train', 'train a character-level transformer (or --model lstm) on a text (builtin:sotu by default)'],
    ['text generate', 'sample text from a trained model, with temperature, top-k, top-p'],
  ],
  cli: async (args) => (await import('./cli.js')).textCommand(args),
  options: { 'text train': TEXT_OPTIONS },
  trainer: textTrainer,
  variants: {
    option: 'model',
    settings: Object.fromEntries(Object.entries(TEXT_KINDS).map(([model, kind]) => [model, kind.settings])),
  },
  jobs: { text: { verb: ['text', 'train'], out: 'folder', options: studioOptions(TEXT_OPTIONS), dataParallel: true } },
  export: {
    what: 'text',
    recognises: (ck) => Array.isArray(ck.extra.vocab),
    graph: (source) => textRunGraph(source),
  },
  demo: {
    budget: { share: 3 / 8 },
    files: ['text-curves.png'],
    run: async (ctx, minutes) => (await import('./demo.js')).textDemo(ctx, minutes),
  },
};
