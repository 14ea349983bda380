// Style as the registry knows it: Gatys transfer (`loom style`), fast style nets (train, apply).
import { FAST_OPTIONS, STYLE_OPTIONS, loadStyleNet } from '../../models/style/index.js';
import { studioOptions } from '../../models/options.js';
import { styleNetGraph } from '../../export/onnx-models.js';
import type { System } from '../system.js';
import { fastStyleTrainer } from './trainer.js';

export const styleSystem: System = {
  name: 'style',
  title: 'Style',
  usage: [['style <content> <style>', 'neural style transfer (Gatys, L-BFGS); style train|apply: fast style nets']],
  cli: async (args) => (await import('./cli.js')).styleCommand(args),
  options: { style: STYLE_OPTIONS, 'style train': FAST_OPTIONS },
  trainer: fastStyleTrainer,
  jobs: {
    style: {
      verb: ['style'],
      out: 'file',
      options: { content: 'image', style: 'image', mask: 'mask', ...studioOptions(STYLE_OPTIONS) },
      extraArgs: () => ['--save-every', '1'],
    },
    // A fast style net over a video, frame by frame (the page runs nets on photos itself).
    'style-video': {
      verb: ['style', 'apply'],
      out: 'file',
      options: { run: 'run', video: 'video', 'color-match': 'word' },
    },
  },
  export: {
    what: 'fast style',
    kind: 'fast-style',
    recognises: (ck) => ck.tensors.has('module.net.layers.0.conv.weight'),
    graph: (source) => {
      using net = loadStyleNet(source);
      return styleNetGraph(net);
    },
  },
  demo: {
    budget: { cap: 0.2 },
    files: ['style-painting.png', 'style.png', 'style-losses.png'],
    run: async (ctx, minutes) => (await import('./demo.js')).styleDemo(ctx, minutes),
  },
};
