// A trained model read back from a run folder or a checkpoint file.
import { RunFolder } from '../io/run-folder.js';
import { loadCheckpoint, restoreCheckpoint, type Checkpoint, type CheckpointParts } from '../io/checkpoint.js';

/**
 * A trained module from a run folder or a checkpoint file: `build` checks that the checkpoint
 * is the kind asked for (one sentence if not) and makes the modules its state goes into.
 */
export function loadFromRun<M, C extends object>(
  source: string,
  build: (ck: Checkpoint<Partial<C>>, file: string) => { value: M; modules: CheckpointParts['modules'] },
): M {
  const file = RunFolder.checkpointOf(source);
  using ck = loadCheckpoint<Partial<C>>(file);
  const { value, modules } = build(ck, file);
  try {
    restoreCheckpoint(ck, { modules }, { rng: false });
  } catch (e) {
    for (const m of Object.values(modules)) m.dispose();
    throw e;
  }
  return value;
}
