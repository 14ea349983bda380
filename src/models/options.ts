// One option table per system: each setting's type, default, bounds, help and how the studio
// may set it. The config type, its defaults, its checks, the CLI's options and help, the
// studio's whitelist and the demo's settings line are all derived from it, so a setting is
// declared once (as nanoGPT's configurator keeps defaults in one place).
import { inRange, positiveNumber, wholeNumber } from './checks.js';

/** How the studio's form offers a setting: its own widget kinds beyond plain values. */
export type StudioKind = 'int' | 'number' | 'word' | 'bool' | 'image' | 'corpus' | 'data' | 'guide';

interface Common {
  help: string;
  /** The CLI's spelling, when it is not the key in kebab case. */
  flag?: string;
  /** Shown in --help instead of the type. */
  meta?: string;
  /** Offered in the studio's form (true: the kind the type implies). */
  studio?: StudioKind | true;
  /** Names the studio's form offers to add to a list value (a dream's layers): each toggles NAME=1. */
  picks?: readonly string[];
  /** Declared by the CLI's shared options (--seed) rather than the command's own. */
  shared?: boolean;
  /**
   * Defaults that differ per variant (a backbone, a model, a recipe), by its name, where the
   * table's default is null (unset); variantDefaults gives one variant's, help names them all.
   */
  byVariant?: Readonly<Record<string, unknown>>;
}
export type OptionDef = Common &
  (
    | { type: 'int'; default: number | null; min: number; max?: number }
    | {
        type: 'number';
        default: number | null;
        positive?: boolean;
        atLeast?: number;
        range?: readonly [number, number];
        /** The CLI value that turns the setting off: the config holds null for it. */
        off?: number;
      }
    | { type: 'string'; default: string | null }
    | {
        type: 'choice';
        default: string | number | null;
        choices: readonly (string | number)[];
        parse?: 'int';
        /**
         * Former spellings, each with the choice it now names: still taken on the command line
         * and in saved runs' configs (canonicalConfig), never offered in help.
         */
        aliases?: Readonly<Record<string, string | number>>;
      }
    /** `words`: the CLI takes a value, the first word for true and the second for false. */
    | { type: 'bool'; default: boolean | null; words?: readonly [string, string] }
    | { type: 'numbers'; default: readonly number[] }
    /** Comma-separated words; an empty list is unset (null) where the default is. */
    | { type: 'strings'; default: readonly string[] | null }
  );
export type OptionTable = Record<string, OptionDef>;

type ValueOf<O> = O extends { type: 'choice'; choices: readonly (infer V)[] }
  ? V
  : O extends { type: 'int' | 'number' }
    ? number
    : O extends { type: 'string' }
      ? string
      : O extends { type: 'bool' }
        ? boolean
        : O extends { type: 'numbers' }
          ? number[]
          : O extends { type: 'strings' }
            ? string[]
            : never;
type NullOf<O> = O extends { default: null } | { off: number } ? null : never;

/** The config a table describes: a value per key, null where the default is null (unset). */
export type ConfigOf<T extends OptionTable> = { -readonly [K in keyof T]: ValueOf<T[K]> | NullOf<T[K]> };

/** Settings every trainer has, declared once and spread into each table. */
export const MINUTES_OPTION = {
  type: 'number',
  default: null,
  positive: true,
  help: 'stop after this many minutes (with a checkpoint)',
  studio: true,
} as const;
export const PRECISION_OPTION = {
  type: 'choice',
  default: 'fp32',
  choices: ['fp32', 'bf16', 'auto'],
  help: "bf16: matrix products and convolutions in bfloat16 (PyTorch's CPU autocast), everything else (weights, images, optimizer state, losses) in float32; needs a CPU with bf16 units (AVX-512 BF16 or AMX); auto: bf16 where such a CPU runs the run's matrix product faster in it, else fp32",
} as const;
export const SEED_OPTION = {
  type: 'int',
  default: 0,
  min: 0,
  help: 'seed for every random number generator',
  shared: true,
} as const;

export const kebab = (key: string): string => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
const camel = (s: string): string => s.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
export const flagOf = (key: string, def: OptionDef): string => def.flag ?? kebab(key);

const copy = (v: unknown): unknown => (Array.isArray(v) ? [...(v as unknown[])] : v);

export function defaultsOf<T extends OptionTable>(table: T): ConfigOf<T> {
  const out: Record<string, unknown> = {};
  for (const [k, d] of Object.entries(table)) out[k] = copy(d.default);
  return out as ConfigOf<T>;
}

/** One variant's own defaults (byVariant), by key: for fillUnset. */
export function variantDefaults(table: OptionTable, variant: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, d] of Object.entries(table))
    if (d.byVariant && Object.hasOwn(d.byVariant, variant)) out[k] = copy(d.byVariant[variant]);
  return out;
}

/** A value as the CLI spells it: lists comma-separated, switches by their words. */
function spelled(d: OptionDef, v: unknown): string {
  if (Array.isArray(v)) return v.join(',');
  if (d.type === 'bool' && d.words && typeof v === 'boolean') return d.words[v ? 0 : 1];
  return String(v);
}

/**
 * The config with every setting it leaves unset (null) taken from `values`: a recipe's or a
 * model's own defaults, which differ per choice and so cannot be the table's.
 */
export function fillUnset<R>(c: object, values: object): R {
  const out: Record<string, unknown> = { ...c };
  for (const [k, v] of Object.entries(values)) out[k] = out[k] ?? v;
  return out as R;
}

/** Checks every setting against its declaration; each failure is one sentence naming the flag. */
export function checkOptions<T extends OptionTable>(table: T, c: ConfigOf<T>): void {
  for (const [k, d] of Object.entries(table)) {
    const v = (c as Record<string, unknown>)[k];
    const flag = flagOf(k, d);
    if (v === null && (d.default === null || (d.type === 'number' && d.off !== undefined))) continue;
    switch (d.type) {
      case 'int':
        wholeNumber(flag, v as number, d.min);
        if (d.max !== undefined && (v as number) > d.max)
          throw new Error(`--${flag} must be at most ${d.max}, got ${v as number}`);
        break;
      case 'number':
        if (typeof v !== 'number' || Number.isNaN(v)) throw new Error(`--${flag} must be a number, got ${v}`);
        if (d.positive) positiveNumber(flag, v as number);
        if (d.atLeast !== undefined && !((v as number) >= d.atLeast))
          throw new Error(`--${flag} must be a number >= ${d.atLeast}, got ${v}`);
        if (d.range) inRange(flag, v as number, d.range[0], d.range[1]);
        break;
      case 'choice':
        if (!d.choices.includes(v as string | number)) {
          const names = d.choices.map(String);
          const list = names.length > 1 ? `${names.slice(0, -1).join(', ')} or ${names.at(-1)}` : names[0];
          throw new Error(`--${flag} must be ${list}, got ${v}`);
        }
        break;
      case 'bool':
        if (typeof v !== 'boolean')
          throw new Error(`--${flag} must be ${d.words ? d.words.join(' or ') : 'true or false'}, got ${v}`);
        break;
      default:
        break;
    }
  }
}

/** The CLI's option specs for a table (in its order), before the command's own and shared ones. */
type CliType = 'int' | 'number' | 'string' | 'bool' | 'numbers' | 'strings';
export function cliSpecs(
  table: OptionTable,
): Record<string, { type: CliType; help: string; default?: unknown; meta?: string }> {
  const out: Record<string, { type: CliType; help: string; default?: unknown; meta?: string }> = {};
  for (const [k, d] of Object.entries(table)) {
    if (d.shared) continue;
    const words = d.type === 'bool' ? d.words : undefined;
    const type = d.type === 'choice' ? (d.parse === 'int' ? 'int' : 'string') : words ? 'string' : d.type;
    const def =
      d.default === null || (d.type === 'bool' && !words) ? undefined : words ? spelled(d, d.default) : d.default;
    let help = d.type === 'choice' && !d.help.includes(':') ? `${d.help}: ${d.choices.join(', ')}` : d.help;
    if (d.byVariant)
      help += ` (default: ${Object.entries(d.byVariant)
        .map(([name, v]) => `${name} ${spelled(d, v)}`)
        .join('; ')})`;
    out[flagOf(k, d)] = { type, help, default: def, meta: d.meta ?? (words ? words.join('|') : undefined) };
  }
  return out;
}

/** A choice's value as the table now names it: a former spelling (`aliases`) becomes its choice. */
function canonical(d: OptionDef, v: unknown): unknown {
  return d.type === 'choice' &&
    d.aliases &&
    (typeof v === 'string' || typeof v === 'number') &&
    Object.hasOwn(d.aliases, v)
    ? d.aliases[v]
    : v;
}

/**
 * The config with every former spelling of a choice (`aliases`) replaced by the choice it now
 * names: for configs that were written before a rename, such as a saved run's, read back.
 * Keys the table does not declare pass through.
 */
export function canonicalConfig<C extends object>(table: OptionTable, c: C): C {
  const out: Record<string, unknown> = { ...(c as Record<string, unknown>) };
  for (const [k, d] of Object.entries(table)) if (Object.hasOwn(out, k)) out[k] = canonical(d, out[k]);
  return out as C;
}

/** The config from parsed CLI values (keys in camel case), with the table's defaults for the rest. */
export function configFromCli<T extends OptionTable>(table: T, values: Record<string, unknown>): ConfigOf<T> {
  const out: Record<string, unknown> = {};
  for (const [k, d] of Object.entries(table)) {
    let v = values[camel(flagOf(k, d))];
    if (d.type === 'bool' && d.words && typeof v === 'string')
      v = v === d.words[0] ? true : v === d.words[1] ? false : v; // anything else: checkOptions names it
    if (d.type === 'number' && d.off !== undefined && v === d.off) v = null;
    if (d.type === 'strings' && Array.isArray(v) && v.length === 0 && d.default === null) v = null;
    out[k] = v === undefined ? copy(d.default) : canonical(d, v);
  }
  return out as ConfigOf<T>;
}

/** The settings the studio's form may send, by CLI flag, with the widget kind of each. */
export function studioOptions(table: OptionTable): Record<string, StudioKind> {
  const out: Record<string, StudioKind> = {};
  for (const [k, d] of Object.entries(table)) {
    if (!d.studio) continue;
    const kind: StudioKind =
      d.studio !== true
        ? d.studio
        : d.type === 'int' || d.type === 'number' || d.type === 'bool'
          ? d.type
          : d.type === 'choice' && d.parse === 'int'
            ? 'int'
            : 'word';
    out[flagOf(k, d)] = kind;
  }
  return out;
}

/** "units 128, maxlen 60, lr 0.01": the named settings of a config, for logs and the demo page. */
export function describeSettings<T extends OptionTable>(table: T, c: ConfigOf<T>, keys: (keyof T & string)[]): string {
  return keys
    .map((k) => {
      const v = (c as Record<string, unknown>)[k];
      return `${flagOf(k, table[k])} ${Array.isArray(v) ? v.join(',') : String(v)}`;
    })
    .join(', ');
}
