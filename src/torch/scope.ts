// Scopes free, in one go, every tensor made inside them except those returned or kept.
// The GC does not free native tensors in time (a finalizer runs when the JS heap is full, not
// when native memory is), so training loops rely on this.

export interface Owned {
  dispose(): void;
  /** The scope that will free it, if any (a field, not a WeakMap: this is on every op's path). */
  scope: Set<Owned> | null;
  /**
   * Called when it lives on with no scope to free it: only dispose() or the GC will. A scope's
   * tensors are out of the GC's reach until the scope closes, so only these count toward its
   * collections.
   */
  unscoped?(): void;
}

type Scope = Set<Owned>;
const stack: Scope[] = [];

/** Called by every new Tensor: the innermost open scope owns it. */
export function scopeTrack(t: Owned): void {
  const s = stack[stack.length - 1];
  if (s !== undefined) {
    s.add(t);
    t.scope = s;
  } else {
    t.unscoped?.();
  }
}

/** Called on dispose() and keep(): the tensor leaves its scope. */
export function scopeForget(t: Owned): void {
  const s = t.scope;
  if (s !== null) {
    s.delete(t);
    t.scope = null;
  }
}

/** Marks tensors so that no enclosing scope frees them; the caller disposes them later. */
export function keep<T extends Owned | Owned[]>(t: T): T {
  for (const x of Array.isArray(t) ? t : [t]) {
    if (x.scope === null) continue;
    scopeForget(x);
    x.unscoped?.();
  }
  return t;
}

function collect(v: unknown, out: Set<Owned>, seen: Set<unknown>): void {
  if (v === null || typeof v !== 'object' || seen.has(v)) return;
  seen.add(v);
  if ('scope' in v && typeof (v as Owned).dispose === 'function') {
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
      t.scope = null;
      if (parent !== undefined) {
        parent.add(t);
        t.scope = parent;
      } else {
        t.unscoped?.();
      }
    } else {
      t.dispose();
    }
  }
  return result;
}

/**
 * A scope held by a variable rather than a callback (TorchSharp's DisposeScope): every tensor
 * made while it is open is freed when it is disposed, at the end of the `using` block,
 * except those passed to moveToOuter(). Scopes close in the order `using` guarantees.
 */
export class DisposeScope implements Disposable {
  private readonly scope: Scope = new Set();
  constructor() {
    stack.push(this.scope);
  }
  /** Hands tensors to the enclosing scope (or to the caller, if there is none). */
  moveToOuter<T extends Owned | Owned[]>(t: T): T {
    const parent = stack[stack.indexOf(this.scope) - 1];
    for (const x of Array.isArray(t) ? t : [t]) {
      const owned = x.scope !== null;
      scopeForget(x);
      if (parent !== undefined) {
        parent.add(x);
        x.scope = parent;
      } else if (owned) {
        x.unscoped?.();
      }
    }
    return t;
  }
  [Symbol.dispose](): void {
    const i = stack.lastIndexOf(this.scope);
    if (i !== stack.length - 1) throw new Error('dispose scopes must close innermost first');
    stack.pop();
    for (const t of this.scope) t.dispose();
  }
}

export function disposeScope(): DisposeScope {
  return new DisposeScope();
}
