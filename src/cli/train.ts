// `loom <system> train`: one verb over every system's Trainer (parse, help, checks, progress,
// Ctrl-C, --json), so a system's CLI keeps only what is its own.
import { checkOptions, cliSpecs, configFromCli } from '../models/options.js';
import type { System, Trainer } from '../systems/system.js';
import { COMMON, helpText, parseOptions, type OptSpecs } from './args.js';
import { applyCommon, noteOnStderr, onInterrupt } from './common.js';
import { UserError } from './errors.js';
import { Progress } from './progress.js';

/** The options of a trainer's command: its table, the run folder, resume and force, then the shared ones. */
export function trainSpecs(t: Trainer): OptSpecs {
  return {
    ...cliSpecs(t.options),
    out: {
      type: 'string',
      help: 'run folder (config.json, metrics.jsonl, samples/, checkpoints)',
      default: t.out,
      meta: 'DIR',
    },
    resume: { type: 'bool', help: 'continue the run in --out exactly where its checkpoint left it' },
    force: { type: 'bool', help: 'replace a run already in --out' },
    ...(t.extraOptions as OptSpecs | undefined),
    ...COMMON,
  };
}

export async function trainCommand(system: System, args: string[]): Promise<void> {
  const t = system.trainer;
  if (!t) throw new UserError(`${system.name} has no train command`);
  const specs = trainSpecs(t);
  const { values: o, positionals, given } = parseOptions(args, specs);
  if (o.help) return void console.log(helpText(`loom ${t.usage}`, t.about(), specs));
  if (positionals.length) throw new UserError(`unexpected argument '${positionals[0]}'; ${t.dataHint}`);
  if (o.device !== 'cpu') throw new UserError(`${system.name} training runs on the CPU only for now (--device cpu)`);
  applyCommon(o);
  const cfg = configFromCli(t.options, o);
  checkOptions(t.options, cfg);
  const refused = t.refuse?.(cfg, given, Boolean(o.resume));
  if (refused) throw new UserError(refused);
  const out = o.out as string;
  const progress = new Progress(process.stderr, (cfg as { minutes?: number | null }).minutes ?? null);
  const stop = onInterrupt(() =>
    progress.line(
      'loom: stopping after this step; a checkpoint will be saved (Ctrl-C again to quit now)',
      process.stderr,
    ),
  );
  const total = (cfg as { steps?: number | null }).steps ?? null;
  const extra = Object.fromEntries(Object.keys(t.extraOptions ?? {}).map((k) => [k, o[camel(k)]]));
  const result = await t.train(
    cfg,
    out,
    { resume: o.resume, force: o.force, given },
    { shouldStop: stop, onNote: noteOnStderr },
    (e) => {
      // --json: the records on stdout; notes meant for stderr still go there.
      if (o.json) {
        const line = t.json(e);
        if (line !== undefined) console.log(JSON.stringify(line));
      }
      const shown = t.show(e, cfg, out);
      if (!shown || (o.json && !shown.stderr)) return;
      if (shown.step !== undefined) progress.update(shown.step, total, shown.text);
      else progress.line(shown.text, shown.stderr ? process.stderr : undefined);
    },
    extra,
  );
  progress.clear();
  const closing = await t.finish(result, cfg, out);
  if (!o.json) console.log(closing);
}

const camel = (s: string): string => s.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
