// The VAE as the registry knows it.
import { VAE_OPTIONS, loadVae } from '../../models/vae/index.js';
import { studioOptions } from '../../models/options.js';
import { vaeDecoderGraph, vaeEncoderGraph } from '../../export/onnx-models.js';
import type { System } from '../system.js';
import { vaeTrainer } from './trainer.js';

export const vaeSystem: System = {
  name: 'vae',
  title: 'VAE',
  usage: [
    ['vae train', 'train a convolutional VAE (MNIST by default)'],
    ['vae grid|sample|interpolate|concept|scatter|eval', "explore a trained VAE's latent space"],
  ],
  cli: async (args) => (await import('./cli.js')).vaeCommand(args),
  options: { 'vae train': VAE_OPTIONS },
  trainer: vaeTrainer,
  jobs: { vae: { verb: ['vae', 'train'], out: 'folder', options: studioOptions(VAE_OPTIONS), dataParallel: true } },
  export: {
    what: 'VAE',
    parts: ['decoder', 'encoder'],
    recognises: (ck) => ck.tensors.has('module.model.dec_fc.weight'),
    graph: (source, part) => {
      using m = loadVae(source).model;
      return part === 'encoder' ? vaeEncoderGraph(m) : vaeDecoderGraph(m);
    },
  },
  demo: {
    budget: { share: 3 / 8 },
    files: ['vae-grid.png', 'vae-samples.png', 'vae-curves.png'],
    run: async (ctx, minutes) => (await import('./demo.js')).vaeDemo(ctx, minutes),
  },
};
