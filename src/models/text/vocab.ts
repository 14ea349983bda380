// A text's units <-> indices: its characters (Unicode code points, sorted as the book sorts
// them), optionally followed by subword units learned as byte-pair merges (Sennrich et al.
// 2016): each merge joins the most frequent adjacent pair of units into a new one, so common
// pieces of words become single units and a model reads more characters per step.

/** Learning merges reads at most this many characters of the text, so it takes seconds on any corpus. */
export const MERGE_LEARNING_LIMIT = 4_000_000;
/** The most merges a vocabulary may have (learning makes one pass over the text per merge). */
export const MAX_MERGES = 2000;

export class Vocab {
  /** The characters, sorted by code point: units 0 .. chars.length - 1. */
  readonly chars: string[];
  /** Merge k makes unit chars.length + k from the pair [a, b]; applied in order. */
  readonly merges: [number, number][];
  /** Every unit's text: the characters, then each merge's two units joined. */
  readonly tokens: string[];
  /** Characters (code points) in each unit. */
  readonly lengths: Int32Array;
  private readonly index: Map<string, number>;

  constructor(chars: string[], merges: [number, number][] = []) {
    this.chars = chars;
    this.merges = merges;
    this.tokens = [...chars];
    this.lengths = new Int32Array(chars.length + merges.length).fill(1, 0, chars.length);
    const known = (u: number) => Number.isInteger(u) && u >= 0 && u < this.tokens.length;
    for (const [a, b] of merges) {
      if (!known(a) || !known(b)) throw new Error(`merge [${a}, ${b}] names a unit that does not exist yet`);
      this.lengths[this.tokens.length] = this.lengths[a] + this.lengths[b];
      this.tokens.push(this.tokens[a] + this.tokens[b]);
    }
    this.index = new Map(chars.map((c, i) => [c, i]));
  }

  /** The sorted set of code points in the text. */
  static fromText(text: string): Vocab {
    return new Vocab([...new Set(text)].sort((a, b) => a.codePointAt(0)! - b.codePointAt(0)!));
  }

  /**
   * Learns `count` merges from character indices (of this vocabulary's characters): each the
   * most frequent adjacent pair at that point (ties to the lowest indices), stopping early when
   * no pair occurs twice.
   */
  learnMerges(charIds: Int32Array, count: number): Vocab {
    if (!(Number.isInteger(count) && count >= 0 && count <= MAX_MERGES))
      throw new Error(`the number of merges must be a whole number from 0 to ${MAX_MERGES}, got ${count}`);
    const size = this.chars.length + count;
    let ids: Int32Array = charIds.slice(0, MERGE_LEARNING_LIMIT);
    const counter = new PairCounter(size * size, ids.length);
    const merges: [number, number][] = [];
    for (let k = 0; k < count; k++) {
      for (let i = 0; i + 1 < ids.length; i++) counter.add(ids[i] * size + ids[i + 1]);
      const [best, bestCount] = counter.takeMost();
      if (bestCount < 2) break;
      const pair: [number, number] = [Math.floor(best / size), best % size];
      merges.push(pair);
      ids = applyMerge(ids, pair, this.chars.length + k);
    }
    return new Vocab(this.chars, merges);
  }

  /** Units: characters and merged pieces. */
  get size(): number {
    return this.tokens.length;
  }

  /** Code points that the vocabulary lacks, in order of first appearance. */
  unknown(text: string): string[] {
    return [...new Set([...text].filter((c) => !this.index.has(c)))];
  }

  /** The text as character indices (no merges). */
  encodeChars(text: string): Int32Array {
    const out = new Int32Array(text.length); // code points <= UTF-16 units
    let n = 0;
    for (const c of text) {
      const k = this.index.get(c);
      if (k === undefined) {
        const bad = this.unknown(text)
          .map((u) => JSON.stringify(u))
          .join(', ');
        throw new Error(`the text has characters the model never saw: ${bad}`);
      }
      out[n++] = k;
    }
    return out.subarray(0, n);
  }

  /** Character indices joined into units by the merges, in the order they were learned. */
  merge(charIds: Int32Array): Int32Array {
    let ids: Int32Array = this.merges.length ? charIds.slice() : charIds;
    this.merges.forEach((pair, k) => {
      ids = applyMerge(ids, pair, this.chars.length + k);
    });
    return ids;
  }

  encode(text: string): Int32Array {
    return this.merge(this.encodeChars(text));
  }

  decode(ids: ArrayLike<number>): string {
    let s = '';
    for (let i = 0; i < ids.length; i++) s += this.tokens[ids[i]];
    return s;
  }

  /** Characters (code points) in the units. */
  charsOf(ids: ArrayLike<number>): number {
    let n = 0;
    for (let i = 0; i < ids.length; i++) n += this.lengths[ids[i]];
    return n;
  }
}

/**
 * Counts of pairs (as a * size + b): a dense table while it is small (a few hundred units),
 * else a map (texts with thousands of characters, as Chinese). takeMost() returns the most
 * frequent, ties to the lowest key, and starts the count again.
 */
export class PairCounter {
  private readonly dense: Int32Array | null;
  private readonly seen: Int32Array | null;
  private distinct = 0;
  private readonly sparse = new Map<number, number>();

  constructor(keys: number, length: number, denseLimit = 1 << 24) {
    const small = keys <= denseLimit;
    this.dense = small ? new Int32Array(keys) : null;
    this.seen = small ? new Int32Array(Math.max(1, Math.min(keys, length))) : null;
  }

  add(key: number): void {
    if (this.dense) {
      if (this.dense[key]++ === 0) this.seen![this.distinct++] = key;
    } else this.sparse.set(key, (this.sparse.get(key) ?? 0) + 1);
  }

  takeMost(): [key: number, count: number] {
    let best = -1;
    let most = 0;
    const consider = (key: number, n: number) => {
      if (n > most || (n === most && key < best)) [best, most] = [key, n];
    };
    if (this.dense) {
      for (let j = 0; j < this.distinct; j++) consider(this.seen![j], this.dense[this.seen![j]]);
      for (let j = 0; j < this.distinct; j++) this.dense[this.seen![j]] = 0;
      this.distinct = 0;
    } else {
      for (const [key, n] of this.sparse) consider(key, n);
      this.sparse.clear();
    }
    return [best, most];
  }
}

/** Replaces each non-overlapping occurrence of `pair`, left to right, by `unit` in place; returns the shorter view. */
function applyMerge(ids: Int32Array, [a, b]: [number, number], unit: number): Int32Array {
  let w = 0;
  for (let r = 0; r < ids.length; r++) {
    if (ids[r] === a && r + 1 < ids.length && ids[r + 1] === b) {
      ids[w++] = unit;
      r++;
    } else ids[w++] = ids[r];
  }
  return ids.subarray(0, w);
}
