// Option parsing shared by every verb: typed options with defaults, generated --help, and
// one clear sentence (a UserError, exit 2) for anything malformed.
import { cudaAvailable } from '../torch/index.js';
import { UserError } from './errors.js';

export type OptType = 'int' | 'number' | 'string' | 'bool' | 'numbers' | 'strings';

export interface OptSpec {
  type: OptType;
  help: string;
  default?: unknown;
  /** Shown in help instead of the type. */
  meta?: string;
  /** Accepted but left out of help (asked when help is shown). */
  hidden?: () => boolean;
  /** Refuses a value the option's type allows but this machine cannot take (one sentence). */
  check?: (value: unknown) => void;
}

export type OptSpecs = Record<string, OptSpec>;

/** Options every command takes. */
export const COMMON: OptSpecs = {
  seed: { type: 'int', help: 'seed for every random number generator' },
  threads: {
    type: 'string',
    meta: 'N|auto',
    help: 'CPU threads for libtorch (default: all cores, fixed, so results repeat; auto: fit to the cores other processes leave free)',
  },
  // Listed only where libtorch has CUDA; `--device cpu` is taken silently everywhere, for scripts.
  device: {
    type: 'string',
    help: 'cpu, cuda or cuda:N',
    default: 'cpu',
    hidden: () => !cudaAvailable(),
    check: (v) => {
      if (/^cuda(:\d+)?$/.test(String(v)) && !cudaAvailable())
        throw new UserError(`--device ${String(v)}: this libtorch has no CUDA; leave --device out to run on the CPU`);
    },
  },
  json: { type: 'bool', help: 'print one JSON object per line instead of text' },
  help: { type: 'bool', help: 'show this help' },
};

const camel = (s: string) => s.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

export interface Parsed {
  values: Record<string, any>;
  positionals: string[];
  /** The options the command line names (camel case), as against those left at their defaults. */
  given: Set<string>;
}

export function parseOptions(args: string[], specs: OptSpecs): Parsed {
  const values: Record<string, any> = Object.create(null);
  for (const [name, spec] of Object.entries(specs)) if (spec.default !== undefined) values[camel(name)] = spec.default;
  const positionals: string[] = [];
  const given = new Set<string>();
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--') {
      positionals.push(...args.slice(i + 1));
      break;
    }
    if (!a.startsWith('--') || a === '-') {
      if (a === '-h') values.help = true;
      else positionals.push(a);
      continue;
    }
    const [flag, inline] = a.slice(2).split(/=(.*)/s, 2) as [string, string | undefined];
    let name = flag;
    let negate = false;
    // Own properties only: `--toString` or `--__proto__` must not find Object.prototype's.
    const own = (n: string) => (Object.hasOwn(specs, n) ? specs[n] : undefined);
    if (!own(name) && name.startsWith('no-') && own(name.slice(3))?.type === 'bool') {
      name = name.slice(3);
      negate = true;
    }
    const spec = own(name);
    if (!spec) throw new UserError(`unknown option --${name}; see --help`);
    given.add(camel(name));
    if (spec.type === 'bool') {
      if (inline !== undefined) throw new UserError(`--${name} takes no value`);
      values[camel(name)] = !negate;
      continue;
    }
    const raw = inline ?? args[++i];
    if (raw === undefined) throw new UserError(`--${name} needs a value`);
    values[camel(name)] = convert(name, spec.type, raw);
    spec.check?.(values[camel(name)]);
  }
  return { values, positionals, given };
}

function convert(name: string, type: OptType, raw: string): unknown {
  const num = (s: string) => {
    const v = Number(s);
    if (s.trim() === '' || !Number.isFinite(v)) throw new UserError(`--${name} needs a number, got '${s}'`);
    return v;
  };
  switch (type) {
    case 'int': {
      const v = num(raw);
      if (!Number.isInteger(v)) throw new UserError(`--${name} needs a whole number, got '${raw}'`);
      return v;
    }
    case 'number':
      return num(raw);
    case 'numbers':
      return raw.split(',').map((s) => num(s));
    case 'strings':
      return raw
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
    default:
      return raw;
  }
}

export function helpText(usage: string, about: string, specs: OptSpecs): string {
  const shown = Object.entries(specs).filter(([, s]) => !s.hidden?.());
  const rows = shown.map(([name, s]) => {
    const meta =
      s.type === 'bool'
        ? ''
        : ` ${s.meta ?? (s.type === 'numbers' ? 'A,B,..' : s.type === 'strings' ? 'A,B,..' : s.type === 'string' ? 'TEXT' : 'N')}`;
    const def =
      s.default !== undefined && s.type !== 'bool'
        ? ` (default ${Array.isArray(s.default) ? s.default.join(',') : s.default})`
        : '';
    return [`  --${name}${meta}`, `${s.help}${def}`];
  });
  const w = Math.max(...rows.map((r) => r[0].length)) + 2;
  return `usage: ${usage}\n\n${about}\n\noptions:\n${rows.map(([a, b]) => a.padEnd(w) + b).join('\n')}`;
}

/** What a command says about itself in its --help. */
export interface CommandHelp {
  usage: string;
  about: string;
  options: OptSpecs;
}

/** Parses a command's arguments; for --help, prints its help and returns null (the command is done). */
export function parseCommand(args: string[], c: CommandHelp): Parsed | null {
  const parsed = parseOptions(args, c.options);
  if (!parsed.values.help) return parsed;
  console.log(helpText(c.usage, c.about, c.options));
  return null;
}
