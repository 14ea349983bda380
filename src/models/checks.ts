// Option checks shared by the systems' configs: each failure is one sentence naming the
// option as the CLI spells it.

export function wholeNumber(name: string, v: number, min: number): void {
  if (!(Number.isInteger(v) && v >= min)) throw new Error(`--${name} must be a whole number >= ${min}, got ${v}`);
}

export function positiveNumber(name: string, v: number): void {
  if (!(v > 0)) throw new Error(`--${name} must be a number > 0, got ${v}`);
}

/** A value in [lo, hi). */
export function inRange(name: string, v: number, lo: number, hi: number): void {
  if (!(v >= lo && v < hi)) throw new Error(`--${name} must be in [${lo}, ${hi}), got ${v}`);
}
