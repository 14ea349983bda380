// What the studio's page learns about the systems (`GET /api/systems`), from the registry: each
// job the page may start, with each option's widget, type, default, bounds and help, so that
// the page builds its forms from the option tables rather than repeating them.
import os from 'node:os';
import { BUILTIN_CORPORA } from '../io/corpus.js';
import { flagOf, type OptionDef } from '../models/options.js';
import { SYSTEMS } from '../systems/registry.js';
import type { JobOptionKind, StudioJob, System } from '../systems/system.js';
import type { FormOption, JobInfo, SystemInfo } from './page/api-types.js';

export type { FormOption, JobInfo, SystemInfo };

/** The data sets a studio job may train on (the server refuses any other). */
export const BUILTIN_DATA = ['builtin:mnist', 'builtin:fashion-mnist'] as const;

/** The declaration of a job option in the system's tables, by its flag (none for positionals and extras). */
function declared(system: System, job: StudioJob, flag: string): OptionDef | undefined {
  if (job.declared && Object.hasOwn(job.declared, flag)) return job.declared[flag];
  for (const table of Object.values(system.options))
    for (const [key, d] of Object.entries(table)) if (flagOf(key, d) === flag) return d;
  return undefined;
}

/** The variant a setting belongs to, where it belongs to one. */
function onlyFor(system: System, flag: string): FormOption['only'] {
  const v = system.variants;
  for (const [value, keys] of Object.entries(v?.settings ?? {}))
    for (const table of Object.values(system.options))
      for (const k of keys)
        if (Object.hasOwn(table, k) && flagOf(k, table[k]) === flag) return { option: v!.option, value };
  return undefined;
}

function formOption(system: System, job: StudioJob, name: string, kind: JobOptionKind): FormOption {
  const d = declared(system, job, name);
  if (!d) return { name, kind };
  const o: FormOption = { name, kind, help: d.help, type: d.type, default: d.default };
  const only = onlyFor(system, name);
  if (only) o.only = only;
  // What the server takes for these kinds: the page offers them as choices.
  if (kind === 'data') o.choices = BUILTIN_DATA;
  if (kind === 'corpus') o.choices = BUILTIN_CORPORA;
  if (d.byVariant) o.byVariant = d.byVariant;
  if (d.type === 'int') Object.assign(o, { min: d.min, max: d.max });
  if (d.type === 'number' && d.range) Object.assign(o, { min: d.range[0], max: d.range[1] });
  if (d.type === 'number' && d.atLeast !== undefined) o.min = d.atLeast;
  if (d.type === 'number' && d.positive) o.positive = true;
  if (d.type === 'choice') o.choices = d.choices;
  if (d.picks) o.picks = d.picks;
  return o;
}

/** The most processes a data-parallel job may run as: one per core, and at least 2. */
export const mostProcesses = (): number => Math.max(2, os.availableParallelism());

/** A data-parallel job's processes (`loom launch`), which the studio adds to the job's own options. */
const processes = (): FormOption => ({
  name: 'processes',
  kind: 'int',
  type: 'int',
  default: 1,
  min: 1,
  max: mostProcesses(),
  help: 'data-parallel processes on this machine (loom launch); the batch is per process',
});

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
      options: [
        ...Object.entries(j.options).map(([flag, kind]) => formOption(s, j, flag, kind)),
        ...(j.dataParallel ? [processes()] : []),
      ],
    })),
  }));
}

/** The studio job of that name, from whichever system declares it. */
export function jobNamed(name: string): StudioJob | undefined {
  for (const s of SYSTEMS) if (s.jobs && Object.hasOwn(s.jobs, name)) return s.jobs[name];
  return undefined;
}

/** The job that trains a system's runs into a folder (its `train` verb), which a resume goes on with. */
export function trainJob(system: string): StudioJob | undefined {
  const job = jobNamed(system);
  return job?.out === 'folder' && job.verb[job.verb.length - 1] === 'train' ? job : undefined;
}

/** Whether a system's train command takes a setting (a key of its trainer's option table). */
export function trainerTakes(system: string, key: string): boolean {
  const options = SYSTEMS.find((s) => s.name === system)?.trainer?.options;
  return options !== undefined && Object.hasOwn(options, key);
}

/** Every job's name, for a refusal. */
export const jobNames = (): string[] => SYSTEMS.flatMap((s) => Object.keys(s.jobs ?? {}));
