// A system's part of `loom demo`: what it makes on built-in data within its minutes, as an
// entry of the gallery. The demo command (src/cli/demo.ts) runs every registered part.
import type { Backbone } from '../vision/weights.js';

/** One section of the gallery. */
export interface DemoEntry {
  system: string;
  title: string;
  settings: string;
  seconds: number;
  /** Files in the gallery folder. */
  images: string[];
  texts: { label: string; text: string }[];
  note: string;
}

/** What every part of the demo is given. */
export interface DemoContext {
  /** The gallery folder. */
  out: string;
  /** The folder for the parts' run folders (runs/<system>). */
  runs: string;
  seed: number;
  /** The whole demo's budget. */
  minutes: number;
  /** Ctrl-C: the running part stops early and keeps what it made. */
  stop: () => boolean;
  say: (line: string) => void;
  /** The built-in InceptionV3, loaded once for every part that reads images with it. */
  backbone: () => Backbone;
}

export interface DemoPart {
  /**
   * A capped part runs first, under `cap` of the whole budget (it rarely needs it all); a
   * training takes `share` of what the capped parts leave, and uses every minute of it.
   */
  budget: { cap: number } | { share: number };
  /** The files and folders it writes in the gallery, which --force may replace. */
  files: readonly string[];
  /** Its entry, or null when stopped before it made anything. */
  run(ctx: DemoContext, minutes: number): Promise<DemoEntry | null>;
}

/** Stops at Ctrl-C or when `minutes` have passed. */
export function deadline(ctx: DemoContext, minutes: number): () => boolean {
  const end = Date.now() + minutes * 60_000;
  return () => ctx.stop() || Date.now() > end;
}
