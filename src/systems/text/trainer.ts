// Text's training as the CLI and the library both run it: the trainer's hooks as one stream of
// events, and how the terminal shows each.
import {
  TEXT_KINDS,
  TEXT_MODELS,
  TEXT_OPTIONS,
  foreignSetting,
  trainText,
  writeTextCurves,
  type EpochLog,
  type StepLog,
  type TextStartLog,
  type TextTrainConfig,
  type TextTrainResult,
} from '../../models/text/index.js';
import { kebab } from '../../models/options.js';
import { distributedNote } from '../../cli/progress.js';
import type { Trainer } from '../system.js';

/** What a training reports as it goes: its start, step log lines, held-out scores and epoch ends. */
export type Progress =
  | { type: 'start'; start: TextStartLog }
  | { type: 'step'; step: StepLog }
  | { type: 'eval'; eval: { step: number; val_bpc: number | null } }
  | { type: 'epoch'; epoch: EpochLog };

/** The --help lines that say what each model sets when the user does not. */
function modelDefaults(): string {
  return Object.entries(TEXT_MODELS)
    .map(
      ([name, d]) =>
        `  ${name}: ` +
        Object.entries(d)
          .filter(([, v]) => v !== null)
          .map(([k, v]) => `--${kebab(k)} ${v}`)
          .join(' '),
    )
    .join('\n');
}

/** One line on what the run reads: the model, the text and its units (characters or merges). */
export function describeStart(corpus: string, s: TextStartLog): string {
  const n = (x: number) => x.toLocaleString('en');
  const model = TEXT_KINDS[s.model].title;
  const units =
    s.merges === 0
      ? `as ${n(s.vocabSize)} distinct characters`
      : `as ${n(s.vocabSize)} units (${n(s.merges)} byte-pair merges, ${(s.trainChars / s.trainUnits).toFixed(2)} characters a unit)`;
  return `${s.resumed ? 'resuming' : 'training'} ${model} (${n(s.parameters)} parameters) on ${n(s.trainChars)} characters of ${corpus} ${units}; ${n(s.heldOutChars)} held out`;
}

function showEpoch(e: EpochLog): string {
  const sampled =
    e.val_chars < e.val_total
      ? ` on the first ${e.val_chars.toLocaleString('en')} of ${e.val_total.toLocaleString('en')} characters`
      : '';
  const val =
    e.val_bpc === null
      ? 'no held-out text'
      : `held-out ${e.val_bpc.toFixed(3)} bpc${sampled}${e.best ? ' (best so far)' : ''}`;
  const samples = e.samples.map((s) => `\n--- temperature ${s.temperature} ---\n${s.prime}${s.text}\n`).join('');
  return `epoch ${Number(e.epoch.toFixed(3))} (step ${e.step}): train ${e.train_bpc.toFixed(3)} bpc, ${val}${samples}`;
}

export const textTrainer: Trainer<typeof TEXT_OPTIONS, Progress, TextTrainResult> = {
  options: TEXT_OPTIONS,
  usage: 'text train [options]',
  about: () =>
    "Trains a character-level language model: a decoder-only transformer by default, or with --model lstm the book's LSTM(128). Unset settings take the model's defaults:\n" +
    modelDefaults(),
  out: 'runs/text',
  dataHint: 'the corpus goes in --corpus',
  // Another model's settings: the LSTM's width and sequence length have defaults of their own,
  // so only the command line can tell that the user meant them (they would do nothing).
  refuse: (cfg, given, resume) => (resume ? null : foreignSetting(cfg.model, (k) => given.has(k))),
  train: (cfg: TextTrainConfig, out, mode, control, report) => {
    // Neither steps, epochs nor minutes: one epoch.
    const c = cfg.epochs === null && cfg.steps === null && cfg.minutes === null ? { ...cfg, epochs: 1 } : cfg;
    return trainText(c, out, mode, {
      ...control,
      onStart: (start) => report({ type: 'start', start }),
      onStep: (step) => report({ type: 'step', step }),
      onEval: (e) => report({ type: 'eval', eval: e }),
      onEpoch: (epoch) => report({ type: 'epoch', epoch }),
    });
  },
  show: (e, cfg) => {
    switch (e.type) {
      case 'start':
        return { text: describeStart(cfg.corpus, e.start) };
      case 'step': {
        const l = e.step;
        return {
          step: l.step,
          text: `epoch ${l.epoch.toFixed(2)}  loss ${l.loss.toFixed(4)}  ${l.bpc.toFixed(3)} bpc  ${l.ms_per_step.toFixed(1)} ms/step  ${Math.round(l.chars_per_sec).toLocaleString('en')} chars/s${distributedNote(l)}`,
        };
      }
      case 'eval':
        return {
          text: `step ${e.eval.step}: held-out ${e.eval.val_bpc === null ? 'n/a' : e.eval.val_bpc.toFixed(3) + ' bpc'}`,
        };
      case 'epoch':
        return { text: showEpoch(e.epoch) };
    }
  },
  json: (e) => {
    if (e.type === 'step') return e.step;
    if (e.type === 'eval') return e.eval;
    if (e.type === 'epoch') {
      const { epoch, step, train_bpc, val_bpc, val_chars, val_total, best, samples } = e.epoch;
      return { epoch, step, train_bpc, val_bpc, val_chars, val_total, best, samples };
    }
    return undefined;
  },
  finish: async (r, _cfg, out) => {
    // Rank 0 alone writes the run's files in a data-parallel run.
    const curves = (Number(process.env.RANK) || 0) === 0 && (await writeTextCurves(out));
    return (
      `${r.stoppedEarly ? 'stopped' : 'done'} after ${r.steps} steps; checkpoint in ${out}/checkpoint.safetensors` +
      (r.bestValBpc !== null ? `, best held-out ${r.bestValBpc.toFixed(3)} bpc in ${out}/best.safetensors` : '') +
      (curves ? `; learning curve in ${out}/curves.png` : '')
    );
  },
};
