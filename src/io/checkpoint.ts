// Checkpoints: one safetensors file with every module's state, every optimizer's state, the
// RNG state, the step and the run's config; written atomically, so a kill mid-write leaves
// the previous checkpoint whole.
import { getRngState, isFloating, setRngState, tidy, type Tensor } from '../torch/index.js';
import type { Module } from '../nn/index.js';
import type { Optimizer, OptimizerState } from '../optim/index.js';
import { decodeSafetensors, encodeSafetensors } from './safetensors.js';
import { writeFileAtomic } from './files.js';
import { readFileSync } from 'node:fs';

const FORMAT = 'loom-checkpoint';

export interface CheckpointParts {
  modules: Record<string, Module>;
  optimizers?: Record<string, Optimizer>;
}

export interface Checkpoint<C extends object = Record<string, unknown>> extends Disposable {
  step: number;
  /** The run's settings, as the trainer saved them. */
  config: C;
  extra: Record<string, unknown>;
  /** All tensors by key; call dispose() when done. */
  tensors: Map<string, Tensor>;
  optimizerHyper: Record<string, Record<string, number | boolean>>;
  /** The thread setting the run trained with (null in checkpoints that predate it). */
  threads: number | 'auto' | null;
  dispose(): void;
}

export function saveCheckpoint(
  path: string,
  parts: CheckpointParts,
  info: { step: number; config: object; extra?: Record<string, unknown>; threads?: number | 'auto' },
): void {
  tidy(() => {
    const tensors = new Map<string, Tensor>();
    for (const [m, mod] of Object.entries(parts.modules))
      for (const [k, t] of mod.stateDict()) tensors.set(`module.${m}.${k}`, t);
    const hyper: Record<string, unknown> = {};
    for (const [o, opt] of Object.entries(parts.optimizers ?? {})) {
      const sd = opt.stateDict();
      hyper[o] = sd.hyper;
      for (const [k, t] of sd.tensors) tensors.set(`optim.${o}.${k}`, t);
    }
    tensors.set('rng', getRngState());
    writeFileAtomic(
      path,
      encodeSafetensors(tensors, {
        format: FORMAT,
        version: '1',
        step: String(info.step),
        config: JSON.stringify(info.config),
        extra: JSON.stringify(info.extra ?? {}),
        optimizers: JSON.stringify(hyper),
        ...(info.threads === undefined ? {} : { threads: String(info.threads) }),
      }),
    );
  });
}

/** Reads a checkpoint; a missing, truncated or foreign file gets one clear sentence. */
export function loadCheckpoint<C extends object = Record<string, unknown>>(path: string): Checkpoint<C> {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(
      `cannot read checkpoint ${path}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a folder' : (e as Error).message}`,
      { cause: e },
    );
  }
  let st;
  try {
    st = decodeSafetensors(buf, path);
  } catch (e) {
    throw new Error(`${path} is not a readable Loom checkpoint (${(e as Error).message.replace(/^.*?: /, '')})`, {
      cause: e,
    });
  }
  const m = st.metadata;
  if (m.format !== FORMAT) {
    for (const t of st.tensors.values()) t.dispose();
    throw new Error(`${path} is a safetensors file but not a Loom checkpoint`);
  }
  const tensors = st.tensors;
  // A header that parses over damaged bytes would give garbage silently: weights must be finite.
  for (const [k, t] of tensors) {
    if (k === 'rng' || !isFloating(t.dtype)) continue;
    // x - x is NaN exactly where x is not finite (a plain sum could overflow instead).
    const finite = Number.isFinite(
      tidy(() => {
        const x = t.float();
        return x.sub(x).sum().item();
      }),
    );
    if (!finite) {
      for (const x of tensors.values()) x.dispose();
      throw new Error(`${path} is damaged: ${k} holds values that are not finite numbers`);
    }
  }
  return {
    step: Number(m.step),
    config: JSON.parse(m.config ?? '{}'),
    extra: JSON.parse(m.extra ?? '{}'),
    optimizerHyper: JSON.parse(m.optimizers ?? '{}'),
    threads: m.threads === 'auto' ? 'auto' : /^\d+$/.test(m.threads ?? '') ? Number(m.threads) : null,
    tensors,
    dispose: () => {
      for (const t of tensors.values()) t.dispose();
    },
    [Symbol.dispose]() {
      this.dispose();
    },
  };
}

/** Puts a checkpoint's state into live modules and optimizers, and restores the RNG. */
export function restoreCheckpoint(ck: Checkpoint<object>, parts: CheckpointParts, opts: { rng?: boolean } = {}): void {
  for (const [m, mod] of Object.entries(parts.modules)) {
    const prefix = `module.${m}.`;
    const sd = new Map(
      [...ck.tensors].filter(([k]) => k.startsWith(prefix)).map(([k, t]) => [k.slice(prefix.length), t]),
    );
    if (sd.size === 0) throw new Error(`the checkpoint has no state for '${m}'`);
    mod.loadStateDict(sd);
  }
  for (const [o, opt] of Object.entries(parts.optimizers ?? {})) {
    const prefix = `optim.${o}.`;
    const hyper = ck.optimizerHyper[o];
    if (!hyper) throw new Error(`the checkpoint has no optimizer state for '${o}'`);
    const state: OptimizerState = {
      hyper,
      tensors: new Map(
        [...ck.tensors].filter(([k]) => k.startsWith(prefix)).map(([k, t]) => [k.slice(prefix.length), t]),
      ),
    };
    opt.loadStateDict(state);
  }
  const rng = ck.tensors.get('rng');
  if (rng && (opts.rng ?? true)) {
    try {
      setRngState(rng);
    } catch {
      throw new Error('the checkpoint is damaged: its random-number state cannot be restored');
    }
  }
}
