// --precision for a training loop: the setting settled once (auto by a probe of the run's
// largest matrix product), each step's forward and loss run in it, and the choice recorded
// in the run's run.json. The backward follows the graph's dtypes, so weights, gradients,
// optimizer state and checkpoints stay float32.
import * as T from '../torch/index.js';

export interface StepPrecision {
  /** What the steps compute in. */
  used: 'fp32' | 'bf16';
  /** For run.json's config: the precision used and, for auto, the probe's timings. */
  record: { precisionUsed: 'fp32' | 'bf16'; precisionProbe?: T.PrecisionChoice['probe'] };
  /** Runs a step's forward and loss in the settled precision. */
  run<R>(fn: () => R): R;
}

/** What a run computes in, as a sentence: for --precision auto, with the probe's timings. */
export function precisionNote(p: StepPrecision): string {
  const probe = p.record.precisionProbe;
  const timed =
    typeof probe === 'object'
      ? ` (a product of the run's size took ${probe.bf16Ms.toFixed(1)} ms in bf16, ${probe.fp32Ms.toFixed(1)} ms in fp32)`
      : probe
        ? ` (${probe})`
        : '';
  return `--precision auto: ${p.used}${timed}`;
}

/**
 * Settles `setting` for a run whose largest matrix product is [m, k] x [k, n]. `startedIn` is
 * what a resumed run computed in: auto keeps it rather than probing again, since a probe that
 * timing noise tips the other way would change the run's numbers midway (unless the run
 * started in bf16 on a CPU that had the units and this one has none).
 */
export function stepPrecision(
  setting: T.PrecisionSetting,
  probe: [number, number, number],
  startedIn?: 'fp32' | 'bf16',
): StepPrecision {
  const kept = setting === 'auto' && startedIn && (startedIn === 'fp32' || T.bf16Supported());
  const choice: T.PrecisionChoice = kept
    ? { precision: startedIn, probe: 'as this run started' }
    : T.resolvePrecision(setting, probe);
  return {
    used: choice.precision,
    record: { precisionUsed: choice.precision, ...(choice.probe ? { precisionProbe: choice.probe } : {}) },
    run: (fn) => (choice.precision === 'bf16' ? T.autocast('bfloat16', fn) : fn()),
  };
}
