// Option checks shared by the systems' configs: each failure is one sentence naming the
// option as the CLI spells it.

export function wholeNumber(name: string, v: number, min: number): void {
  if (!(Number.isInteger(v) && v >= min)) throw new Error(`--${name} must be a whole number >= ${min}, got ${v}`);
}

/** Tensors are float32: a larger number cannot reach them (libtorch says 'overflow'). */
const FLOAT32_MAX = 3.4028234663852886e38;

export function positiveNumber(name: string, v: number): void {
  if (!(v > 0)) throw new Error(`--${name} must be a number > 0, got ${v}`);
  if (v > FLOAT32_MAX)
    throw new Error(`--${name} must be at most ${FLOAT32_MAX.toPrecision(3)} (float32's largest), got ${v}`);
}

/** A value in [lo, hi). */
export function inRange(name: string, v: number, lo: number, hi: number): void {
  if (!(v >= lo && v < hi)) throw new Error(`--${name} must be in [${lo}, ${hi}), got ${v}`);
}
