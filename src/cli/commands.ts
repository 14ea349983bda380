// The commands of `loom`, as one table: `loom --help` and the dispatch both read it, so a
// command is one entry here and a module of its own.
import { COMMON, parseOptions } from './args.js';
import { UserError } from './errors.js';

/** A command of `loom`: its usage lines, and the module that runs it (loaded only when run). */
export interface Command {
  name: string;
  /** Each line: the command's form, then what it does. */
  lines: [string, string][];
  run(args: string[]): Promise<void>;
}

/** Every command, in the order `loom --help` lists them; usage and dispatch both read this. */
export const COMMANDS: Command[] = [
  {
    name: 'demo',
    lines: [['demo', 'every system briefly on built-in data; a gallery with index.html']],
    run: async (a) => (await import('./demo.js')).demoCommand(a),
  },
  {
    name: 'text',
    lines: [
      ['text train', 'train a character-level transformer (or --model lstm) on a text (builtin:sotu by default)'],
      ['text generate', 'sample text from a trained model, with temperature, top-k, top-p'],
    ],
    run: async (a) => (await import('./text.js')).textCommand(a),
  },
  {
    name: 'dream',
    lines: [['dream <image>', 'DeepDream a photo (builtin:dog, builtin:scream, ... or a file)']],
    run: async (a) => (await import('./dream.js')).dreamCommand(a),
  },
  {
    name: 'style',
    lines: [['style <content> <style>', 'neural style transfer (Gatys, L-BFGS); style train|apply: fast style nets']],
    run: async (a) => (await import('./style.js')).styleCommand(a),
  },
  {
    name: 'weights',
    lines: [['weights import|list', 'import pretrained backbones (nsfwjs, torchvision .pth, Keras .h5)']],
    run: async (a) => (await import('./weights.js')).weightsCommand(a),
  },
  {
    name: 'vae',
    lines: [
      ['vae train', 'train a convolutional VAE (MNIST by default)'],
      ['vae grid|sample|interpolate|concept|scatter|eval', "explore a trained VAE's latent space"],
    ],
    run: async (a) => (await import('./vae.js')).vaeCommand(a),
  },
  {
    name: 'gan',
    lines: [
      ['gan train', 'train a DCGAN, conditional on the classes where the data has them (MNIST by default)'],
      ['gan sample|walk', 'sample a grid, or an animated walk, from a trained GAN'],
    ],
    run: async (a) => (await import('./gan.js')).ganCommand(a),
  },
  {
    name: 'export',
    lines: [['export <run>', 'write a trained run as ONNX (fast style, VAE, GAN generator, text model)']],
    run: async (a) => (await import('./export.js')).exportCommand(a),
  },
  {
    name: 'launch',
    lines: [['launch -- <cmd>', 'run a training command data-parallel on several processes (c10d, Gloo)']],
    run: async (a) => (await import('./launch.js')).launchCommand(a),
  },
  {
    name: 'studio',
    lines: [['studio', 'a local web page to train, watch and explore every system']],
    run: async (a) => (await import('./studio.js')).studioCommand(a),
  },
  {
    name: 'info',
    lines: [['info [--json]', "Loom's version, the libtorch in use, threads, BLAS and devices"]],
    run: infoCommand,
  },
];

/** `loom --help`: each command's lines, the form padded to one column (a long form on a line of its own). */
export function usage(commands: Command[] = COMMANDS): string {
  const width = 18;
  const lines = commands.flatMap((c) =>
    c.lines.map(([form, what]) =>
      form.length < width ? `  ${form.padEnd(width)}${what}` : `  ${form}\n  ${' '.repeat(width)}${what}`,
    ),
  );
  return `usage: loom <command> [options]\n\ncommands:\n${lines.join('\n')}\n\nRun \`loom <command> --help\` for a command's options.`;
}

export async function infoCommand(rest: string[]): Promise<void> {
  const { values, positionals } = parseOptions(rest, { json: COMMON.json, help: COMMON.help });
  if (positionals.length) throw new UserError(`unexpected argument '${positionals[0]}'`);
  if (values.help) {
    console.log(
      "usage: loom info [--json]\n\nPrints Loom's version, the libtorch found (version, path), threads, BLAS in use and devices.",
    );
    return;
  }
  await import('../torch/index.js');
  const { info, formatInfo } = await import('./info.js');
  const i = info();
  console.log(values.json ? JSON.stringify(i) : formatInfo(i));
}
