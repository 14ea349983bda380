// Characters (Unicode code points) <-> indices, sorted as the seed sorts them.

export class Vocab {
  readonly chars: string[];
  private readonly index: Map<string, number>;

  constructor(chars: string[]) {
    this.chars = chars;
    this.index = new Map(chars.map((c, i) => [c, i]));
  }

  /** The sorted set of code points in the text. */
  static fromText(text: string): Vocab {
    return new Vocab([...new Set(text)].sort((a, b) => a.codePointAt(0)! - b.codePointAt(0)!));
  }

  get size(): number {
    return this.chars.length;
  }

  /** Code points that the vocabulary lacks, in order of first appearance. */
  unknown(text: string): string[] {
    return [...new Set([...text].filter((c) => !this.index.has(c)))];
  }

  encode(text: string): Int32Array {
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

  decode(ids: ArrayLike<number>): string {
    let s = '';
    for (let i = 0; i < ids.length; i++) s += this.chars[ids[i]];
    return s;
  }
}
