// The commands of `loom`, as one table: `loom --help` and the dispatch both read it. Each
// system in the registry is a command of its own; the rest are entries here.
import { SYSTEMS } from '../systems/registry.js';
import type { System } from '../systems/system.js';
import { COMMON, parseOptions } from './args.js';
import { UserError } from './errors.js';

/** A command of `loom`: its usage lines, and the module that runs it (loaded only when run). */
export interface Command {
  name: string;
  /** Each line: the command's form, then what it does. */
  lines: [string, string][];
  run(args: string[]): Promise<void>;
}

/** A system's command: its usage lines and its CLI. */
const systemCommand = (s: System): Command => ({ name: s.name, lines: s.usage.map(([f, w]) => [f, w]), run: s.cli });

/** The commands beside the systems': the demo first, then the tools. */
const TOOLS: Command[] = [
  {
    name: 'demo',
    lines: [['demo', 'every system briefly on built-in data; a gallery with index.html']],
    run: async (a) => (await import('./demo.js')).demoCommand(a),
  },
  {
    name: 'weights',
    lines: [['weights import|list', 'import pretrained backbones (nsfwjs, torchvision .pth, Keras .h5)']],
    run: async (a) => (await import('./weights.js')).weightsCommand(a),
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

/**
 * Every command, in the order `loom --help` lists them (the demo, the systems, the tools); read
 * when asked, so that a system registered later is one too.
 */
export function commands(): Command[] {
  const taken = new Set(TOOLS.map((c) => c.name));
  return [TOOLS[0], ...SYSTEMS.filter((s) => !taken.has(s.name)).map(systemCommand), ...TOOLS.slice(1)];
}

/** `loom --help`: each command's lines, the form padded to one column (a long form on a line of its own). */
export function usage(list: Command[] = commands()): string {
  const width = 18;
  const lines = list.flatMap((c) =>
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
