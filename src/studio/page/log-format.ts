// A job's JSON log record as a line for people: "step 120  loss 1.234  107 ms/step", figures
// rounded to four significant digits, rates and times with their units after them.

type Value = unknown;

/** Fields shown as a figure and a unit: "107 ms/step". */
const UNITS: Record<string, string> = {
  ms_per_step: 'ms/step',
  ms_per_eval: 'ms/eval',
  ms_per_image: 'ms/image',
  ms_per_frame: 'ms/frame',
  ms: 'ms',
  seconds: 's',
  chars_per_sec: 'chars/s',
  images_per_sec: 'images/s',
  collective_ms_per_step: 'ms/step in collectives',
};
/** Counters the records start at 0 that people count from 1. */
const FROM_ONE = new Set(['octave', 'iteration']);
/** The longest text shown for one field. */
const TEXT_LIMIT = 120;

/** A figure for people: whole numbers as they are, others to four significant digits (no exponent below 1e21). */
export function figure(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (Number.isInteger(v)) return String(v);
  if (Math.abs(v) >= 1000) return String(Math.round(v));
  return String(Number(v.toPrecision(4)));
}

const words = (key: string): string => key.replace(/_/g, ' ');
const clip = (s: string): string => (s.length > TEXT_LIMIT ? s.slice(0, TEXT_LIMIT - 3) + '...' : s);

function part(key: string, v: Value): string | null {
  if (v === null || v === undefined || v === false) return null;
  if (v === true) return words(key);
  if (typeof v === 'number') {
    if (Object.hasOwn(UNITS, key)) return `${v >= 10 ? Math.round(v).toLocaleString('en') : figure(v)} ${UNITS[key]}`;
    return `${words(key)} ${figure(FROM_ONE.has(key) ? v + 1 : v)}`;
  }
  if (typeof v === 'string') return `${words(key)} ${JSON.stringify(clip(v.replace(/\s+/g, ' ')))}`;
  if (Array.isArray(v) && v.every((x) => typeof x === 'number'))
    return `${words(key)} ${v.map((x) => (key.startsWith('rank_ms') ? Math.round(x) : figure(x))).join(', ')}`;
  return null;
}

/** The record's line, then a line for each object in a list it holds (an epoch's samples), indented. */
export function formatRecord(r: Record<string, Value>): string {
  const parts: string[] = [];
  const more: string[] = [];
  if (typeof r.frame === 'number' && typeof r.frames === 'number') parts.push(`frame ${r.frame} of ${r.frames}`);
  for (const [k, v] of Object.entries(r)) {
    if ((k === 'frame' || k === 'frames') && typeof r.frames === 'number') continue;
    const p = part(k, v);
    if (p !== null) parts.push(p);
    else if (Array.isArray(v))
      for (const x of v)
        if (x && typeof x === 'object' && !Array.isArray(x)) more.push('  ' + formatRecord(x as Record<string, Value>));
  }
  return [parts.join('  '), ...more].join('\n');
}
