import type { KerasWeights } from './keras-weights.js';
export function readH5Weights(file: string): KerasWeights {
  throw new Error(`reading ${file}: not yet`);
}
