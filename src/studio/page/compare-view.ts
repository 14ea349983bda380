// The compare view: two or more runs of one system, one logged curve of each overlaid (by
// step, or by training time where every run's log carries it), smoothed (as a run's view
// does) or on a log scale as asked, and their settings side by side with the ones that differ marked.
import { api, el, $ } from './dom.js';
import { drawCurves, type Curve } from './charts.js';
import { figure } from './log-format.js';
import { smooth } from './smoothing.js';

/** GET /api/runs/compare's answer (src/studio/compare.ts). */
interface CompareAnswer {
  system: string;
  fields: string[];
  runs: {
    name: string;
    state: string;
    curves: { field: string; step: number[]; time: number[] | null; y: number[] }[];
  }[];
  settings: { name: string; values: unknown[]; differs: boolean }[];
}

let shown: CompareAnswer | null = null;

const picked = (id: string): string => $<HTMLSelectElement>(id).value;

/** A setting's value as people read it: numbers rounded, lists with commas, unset as a dash. */
function valueWords(v: unknown): string {
  if (v === null || v === undefined) return '—';
  if (typeof v === 'number') return figure(v);
  if (Array.isArray(v)) return v.map(valueWords).join(', ');
  return typeof v === 'object' ? JSON.stringify(v) : String(v);
}

/** The settings table: a row per setting, a column per run; a differing row is marked. */
function drawSettings(a: CompareAnswer): void {
  const table = $('compare-settings');
  const only = $<HTMLInputElement>('compare-only').checked;
  const head = el('tr');
  head.append(el('th', '', 'setting'), ...a.runs.map((r) => el('th', '', r.name)));
  const body = a.settings
    .filter((s) => s.differs || !only)
    .map((s) => {
      const tr = el('tr', s.differs ? 'differs' : '');
      tr.dataset.setting = s.name;
      const name = el('th', '', s.name);
      if (s.differs) name.append(el('span', 'mark', 'differs'));
      tr.append(name, ...s.values.map((v) => el('td', '', valueWords(v))));
      return tr;
    });
  const differ = a.settings.filter((s) => s.differs).length;
  $('compare-summary').textContent =
    differ === 0
      ? 'their settings are the same'
      : `${differ} of ${a.settings.length} settings differ` + (only ? '; the same ones are hidden' : '');
  table.replaceChildren(head, ...body);
}

/** The chosen curve of each run, by step or by time. */
async function drawChart(a: CompareAnswer): Promise<void> {
  const field = picked('compare-field');
  const byTime = picked('compare-x') === 'time';
  const weight = Number(picked('compare-smooth'));
  const curves: Curve[] = [];
  for (const r of a.runs) {
    const c = r.curves.find((x) => x.field === field);
    const x = c && (byTime ? c.time : c.step);
    if (c && x) curves.push({ name: r.name, x, y: c.y, smoothed: smooth(c.y, weight) });
  }
  const missing = a.runs.length - curves.length;
  $('compare-note').textContent = missing
    ? `${missing} of the runs log no ${field.replace(/_/g, ' ')}${byTime ? ' with a time' : ''}`
    : '';
  await drawCurves($('compare-chart'), curves, {
    x: byTime ? 'training time, seconds (summed from ms per step)' : 'step',
    y: field.replace(/_/g, ' '),
    log: $<HTMLInputElement>('compare-log').checked && curves.every((c) => c.y.every((y) => y > 0)),
    width: 560,
    height: 260,
  });
}

function redraw(): void {
  if (!shown) return;
  drawSettings(shown);
  void drawChart(shown);
}

/** Asks the studio for the runs' curves and settings and shows them. */
export async function showCompare(names: string[]): Promise<void> {
  const box = $('compare');
  const status = $('runs-status');
  const query = names.map((n) => 'run=' + encodeURIComponent(n)).join('&');
  let a: CompareAnswer;
  try {
    a = await api<CompareAnswer>('GET', '/api/runs/compare?' + query);
  } catch (e) {
    status.textContent = (e as Error).message;
    return;
  }
  shown = a;
  box.hidden = false;
  $('compare-title').textContent = `${a.runs.length} ${a.system} runs`;
  const fields = $<HTMLSelectElement>('compare-field');
  const keep = fields.value;
  fields.replaceChildren(...a.fields.map((f) => new Option(f.replace(/_/g, ' '), f)));
  if (a.fields.includes(keep)) fields.value = keep;
  // By time only where every run's log says how long its steps took.
  const timed = a.runs.every((r) => r.curves.every((c) => c.time !== null));
  const byTime = $<HTMLSelectElement>('compare-x').querySelector<HTMLOptionElement>('option[value=time]')!;
  byTime.disabled = !timed;
  byTime.textContent = timed ? 'training time' : 'training time (not every run logs it)';
  if (!timed) $<HTMLSelectElement>('compare-x').value = 'step';
  redraw();
  box.scrollIntoView({ block: 'nearest' });
}

for (const id of ['compare-field', 'compare-x', 'compare-smooth', 'compare-log'])
  $(id).addEventListener('input', () => {
    $('compare-smooth-v').textContent = picked('compare-smooth');
    if (shown) void drawChart(shown);
  });
$('compare-only').addEventListener('input', () => shown && drawSettings(shown));
$('compare-close').onclick = () => {
  shown = null;
  $('compare').hidden = true;
};
