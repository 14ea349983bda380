// The page's pickers: images and videos (built-in and uploaded), trained runs, and uploads.
import { api, isVideo } from './dom.js';

/** A run as GET /api/runs lists it (src/studio/runs.ts). */
export interface RunInfo {
  /** As the studio names it: its folder's name under runs/, or <folder>/<name> in another folder of runs. */
  name: string;
  folder: string;
  system: string;
  config: Record<string, unknown>;
  checkpoint: boolean;
  state: 'training' | 'stopped' | 'done' | 'failed';
  step: number | null;
  headline: { field: string; label: string; unit: string; value: number }[];
  age_s: number;
  /** When it started (ms since the epoch), by the studio's clock. */
  started: number;
  thumbnail: string | null;
}
/** Each run's settings, from the runs list (the VAE's latent size, for decoding in the page). */
export const runConfigs = new Map<string, Record<string, unknown>>();
/** What to do once the run lists are filled (draw the chosen run's pictures). */
const whenRuns: (() => void)[] = [];
export const onRuns = (f: () => void): void => void whenRuns.push(f);

/**
 * Replaces a select's options with `names` (as text, never as markup), keeping a still-listed
 * choice; an optional pick (data-optional="none") starts with an empty choice of that label.
 * With nothing to list, the select says what would be listed (data-none).
 */
export function fillSelect(sel: HTMLSelectElement, names: string[], keep: string | undefined): void {
  const none = sel.dataset.optional;
  const nothing = none === undefined && !names.length && sel.dataset.none ? [new Option(sel.dataset.none, '')] : [];
  sel.replaceChildren(
    ...(none === undefined ? [] : [new Option(none, '')]),
    ...nothing,
    ...names.map((n) => new Option(n, n)),
  );
  if (keep && names.includes(keep)) sel.value = keep;
}

export async function refreshImages(): Promise<void> {
  const list = await api<string[]>('GET', '/api/images');
  for (const sel of document.querySelectorAll<HTMLSelectElement>('select.image-pick')) {
    // data-video: "also" lists videos beside images, "only" videos alone; unset, images alone.
    const names = list.filter((n) =>
      sel.dataset.video === 'only' ? isVideo(n) : sel.dataset.video === 'also' || !isVideo(n),
    );
    fillSelect(sel, names, sel.value || sel.dataset.default);
  }
}

/** Fills every run picker (select.run-pick) with its system's runs that have a checkpoint, newest chosen. */
export async function refreshRuns(given?: RunInfo[]): Promise<void> {
  const runs = given ?? (await api<RunInfo[]>('GET', '/api/runs'));
  for (const sel of document.querySelectorAll<HTMLSelectElement>('select.run-pick')) {
    const keep = sel.value;
    const names = runs.filter((r) => r.system === sel.dataset.system && r.checkpoint).map((r) => r.name);
    fillSelect(sel, names, names.includes(keep) ? keep : names[names.length - 1]);
  }
  for (const r of runs) runConfigs.set(r.name, r.config);
  for (const f of whenRuns) f();
}

/** An upload input: the file goes to the studio, and its id into the field `target` names. */
export function wireUpload(
  up: HTMLInputElement,
  target: HTMLInputElement | HTMLSelectElement,
  say: (s: string) => void,
) {
  up.onchange = async () => {
    const f = up.files?.[0];
    if (!f) return;
    const type = up.accept.startsWith('.txt') ? 'text/plain' : f.type;
    const r = await fetch('/api/upload', { method: 'POST', headers: { 'content-type': type }, body: f });
    const data = await r.json().catch(() => ({ error: r.statusText }));
    if (!r.ok) return say(data.error);
    await refreshImages();
    if (target instanceof HTMLSelectElement && ![...target.options].some((o) => o.value === data.id))
      target.append(new Option(data.id, data.id)); // an uploaded text is no picture: listed here only
    target.value = data.id;
  };
}
