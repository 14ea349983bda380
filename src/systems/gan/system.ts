// The GAN as the registry knows it.
import { GAN_OPTIONS, loadGenerator } from '../../models/gan/index.js';
import { studioOptions } from '../../models/options.js';
import type { System } from '../system.js';
import { ganTrainer } from './trainer.js';

export const ganSystem: System = {
  name: 'gan',
  title: 'GAN',
  usage: [
    ['gan train', 'train a DCGAN, conditional on the classes where the data has them (MNIST by default)'],
    ['gan sample|walk', 'sample a grid, or an animated walk, from a trained GAN'],
  ],
  cli: async (args) => (await import('./cli.js')).ganCommand(args),
  options: { 'gan train': GAN_OPTIONS },
  trainer: ganTrainer,
  jobs: { gan: { verb: ['gan', 'train'], out: 'folder', options: studioOptions(GAN_OPTIONS), dataParallel: true } },
  export: {
    what: 'GAN',
    recognises: (ck) => ck.tensors.has('module.generator.fc.weight'),
    graph: (source) => {
      using g = loadGenerator(source);
      return g.exportGraph();
    },
  },
  demo: {
    budget: { share: 2 / 8 },
    files: ['gan-samples.png', 'gan-losses.png'],
    run: async (ctx, minutes) => (await import('./demo.js')).ganDemo(ctx, minutes),
  },
};
