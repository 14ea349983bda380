// Scopes free, in one go, every tensor made inside them except those returned or kept.
// The GC does not free native tensors in time (DESIGN.md), so training loops rely on this.

interface Owned {
  dispose(): void;
}

type Scope = Set<Owned>;
const stack: Scope[] = [];
const owner = new WeakMap<Owned, Scope>();

/** Called by every new Tensor: the innermost open scope owns it. */
export function scopeTrack(t: Owned): void {
  const s = stack[stack.length - 1];
  if (s !== undefined) {
    s.add(t);
    owner.set(t, s);
  }
}

/** Called on dispose() and keep(): the tensor leaves its scope. */
export function scopeForget(t: Owned): void {
  const s = owner.get(t);
  if (s !== undefined) {
    s.delete(t);
    owner.delete(t);
  }
}

/** Marks tensors so that no enclosing scope frees them; the caller disposes them later. */
export function keep<T extends Owned | Owned[]>(t: T): T {
  for (const x of Array.isArray(t) ? t : [t]) scopeForget(x);
  return t;
}

function collect(v: unknown, out: Set<Owned>, seen: Set<unknown>): void {
  if (v === null || typeof v !== 'object' || seen.has(v)) return;
  seen.add(v);
  if (owner.has(v as Owned)) {
    out.add(v as Owned);
    return;
  }
  if (Array.isArray(v)) for (const x of v) collect(x, out, seen);
  else if (v instanceof Map) for (const x of v.values()) collect(x, out, seen);
  else if (Object.getPrototypeOf(v) === Object.prototype) for (const x of Object.values(v)) collect(x, out, seen);
}

/**
 * Runs fn; every tensor created inside and still owned by this scope is disposed when it
 * returns, except tensors found in its result (arrays, plain objects and Maps are searched),
 * which move to the enclosing scope. On an exception, everything made inside is freed.
 */
export function tidy<T>(fn: () => T): T {
  const scope: Scope = new Set();
  stack.push(scope);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    stack.pop();
    for (const t of scope) t.dispose();
    throw e;
  }
  stack.pop();
  if (result instanceof Promise) {
    for (const t of scope) t.dispose();
    throw new Error('tidy() takes a synchronous function; await outside it and tidy each step');
  }
  const out = new Set<Owned>();
  collect(result, out, new Set());
  const parent = stack[stack.length - 1];
  for (const t of scope) {
    if (out.has(t)) {
      owner.delete(t);
      if (parent !== undefined) {
        parent.add(t);
        owner.set(t, parent);
      }
    } else {
      t.dispose();
    }
  }
  return result;
}
