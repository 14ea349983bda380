// What the studio's page learns about the systems (`GET /api/systems`), from the registry: each
// job the page may start, with each option's widget, type, default, bounds and help, so that
// the page builds its forms from the option tables rather than repeating them.
import { flagOf, type OptionDef } from '../models/options.js';
import { SYSTEMS } from '../systems/registry.js';
import type { JobOptionKind, StudioJob, System } from '../systems/system.js';

/** One option of a job's form. */
export interface FormOption {
  /** The CLI flag, which the page sends as the option's name. */
  name: string;
  kind: JobOptionKind;
  help?: string;
  type?: OptionDef['type'];
  default?: unknown;
  /** Defaults per variant (a model, a recipe, a backbone), where the plain default is unset. */
  byVariant?: Readonly<Record<string, unknown>>;
  min?: number;
  max?: number;
  choices?: readonly (string | number)[];
}

export interface JobInfo {
  name: string;
  verb: readonly string[];
  out: 'folder' | 'file';
  dataParallel: boolean;
  options: FormOption[];
}

export interface SystemInfo {
  name: string;
  title: string;
  /** The CLI's usage lines: form, then what it does. */
  usage: readonly (readonly [string, string])[];
  jobs: JobInfo[];
  exports: boolean;
}

/** The declaration of a job option in the system's tables, by its flag (none for positionals and extras). */
function declared(system: System, flag: string): OptionDef | undefined {
  for (const table of Object.values(system.options))
    for (const [key, d] of Object.entries(table)) if (flagOf(key, d) === flag) return d;
  return undefined;
}

function formOption(system: System, name: string, kind: JobOptionKind): FormOption {
  const d = declared(system, name);
  if (!d) return { name, kind };
  const o: FormOption = { name, kind, help: d.help, type: d.type, default: d.default };
  if (d.byVariant) o.byVariant = d.byVariant;
  if (d.type === 'int') Object.assign(o, { min: d.min, max: d.max });
  if (d.type === 'number' && d.range) Object.assign(o, { min: d.range[0], max: d.range[1] });
  if (d.type === 'number' && d.atLeast !== undefined) o.min = d.atLeast;
  if (d.type === 'choice') o.choices = d.choices;
  return o;
}

export function systemsAnswer(): SystemInfo[] {
  return SYSTEMS.map((s) => ({
    name: s.name,
    title: s.title,
    usage: s.usage,
    exports: s.export !== undefined,
    jobs: Object.entries(s.jobs ?? {}).map(([name, j]) => ({
      name,
      verb: j.verb,
      out: j.out,
      dataParallel: Boolean(j.dataParallel),
      options: Object.entries(j.options).map(([flag, kind]) => formOption(s, flag, kind)),
    })),
  }));
}

/** The studio job of that name, from whichever system declares it. */
export function jobNamed(name: string): StudioJob | undefined {
  for (const s of SYSTEMS) if (s.jobs && Object.hasOwn(s.jobs, name)) return s.jobs[name];
  return undefined;
}

/** Every job's name, for a refusal. */
export const jobNames = (): string[] => SYSTEMS.flatMap((s) => Object.keys(s.jobs ?? {}));
