// What the studio keeps loaded from runs (models, test sets), per run folder and checkpoint.

/**
 * What the studio loaded from runs (models, test sets), one per run folder, kept under the
 * identity of the run's checkpoint: a run retrained with --force or replaced has another, and
 * the old value is disposed and loaded afresh.
 */
export class RunCache<V> {
  private entries = new Map<string, { id: string; value: V }>();
  constructor(private readonly dispose: (v: V) => void) {}
  private fresh(dir: string, id: string): V | undefined {
    const e = this.entries.get(dir);
    if (e?.id === id) return e.value;
    if (e) this.forget(dir);
    return undefined;
  }
  get(dir: string, id: string, load: () => V): V {
    const had = this.fresh(dir, id);
    if (had !== undefined) return had;
    const value = load();
    this.entries.set(dir, { id, value });
    return value;
  }
  async getAsync(dir: string, id: string, load: () => Promise<V>): Promise<V> {
    const had = this.fresh(dir, id);
    if (had !== undefined) return had;
    const value = await load();
    // Another request may have loaded the same checkpoint meanwhile: keep one.
    const other = this.fresh(dir, id);
    if (other !== undefined) {
      this.dispose(value);
      return other;
    }
    this.entries.set(dir, { id, value });
    return value;
  }
  forget(dir: string): void {
    const e = this.entries.get(dir);
    this.entries.delete(dir);
    if (e) this.dispose(e.value);
  }
  clear(): void {
    for (const dir of [...this.entries.keys()]) this.forget(dir);
  }
}
