// The runs tab's list: every run in the folders the studio lists (its own runs/, the demo's
// gallery, folders given with --runs), each with its system, state, headline figure, age and
// newest sample; it polls while shown, so runs that the CLI or `loom launch` start appear too.
// A run's name opens its view (live with the same poll); ticked runs of one system go to the
// compare view.
import { api, el, fileUrl, $ } from './dom.js';
import { figure } from './log-format.js';
import { showCompare } from './compare-view.js';
import { refreshRun, showRun } from './run-view.js';
import { refreshRuns, type RunInfo } from './pickers.js';

/** How often the list asks again while the runs tab is shown. */
const POLL_MS = 3000;

/** The runs ticked for comparing, by name, in the order they were ticked (the compare view's columns). */
const ticked = new Set<string>();
/** Each listed run's row, by name, kept across polls so its picture is not fetched again. */
const rows = new Map<string, HTMLTableRowElement>();
let listed: RunInfo[] = [];
/** The runs the pickers were last filled from (name and checkpoint), to refill them only on a change. */
let pickersKey = '';

/** "40 s ago", "3 min ago", "5 h ago", "2 days ago". */
export function ageWords(s: number): string {
  if (s < 90) return `${Math.round(s)} s ago`;
  if (s < 90 * 60) return `${Math.round(s / 60)} min ago`;
  if (s < 36 * 3600) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} days ago`;
}

/** The headline as a few words: "held-out 1.234 bits per character", "judge's share 42%". */
function headlineWords(r: RunInfo): string {
  if (!r.headline.length) return r.state === 'training' ? 'no figure yet' : '';
  return r.headline
    .map((h) => {
      const value = h.field === 'confident' ? Math.round(h.value * 100) + '%' : figure(h.value);
      return [h.label, value, h.unit].filter(Boolean).join(' ');
    })
    .join(', ');
}

function newRow(r: RunInfo): HTMLTableRowElement {
  const tr = el('tr');
  tr.dataset.run = r.name;
  const box = el('input');
  box.type = 'checkbox';
  box.setAttribute('aria-label', `compare ${r.name}`);
  box.onchange = () => {
    if (box.checked) ticked.add(r.name);
    else ticked.delete(r.name);
    updateCompareButton();
  };
  const pick = el('td');
  pick.append(box);
  const thumb = el('td', 'thumb');
  const img = el('img');
  img.alt = `the newest sample of ${r.name}`;
  thumb.append(img, el('span', 'empty', 'no picture yet'));
  const name = el('td', 'name');
  const open = el('button', 'link', r.name);
  open.title = `open ${r.name}: its charts, progress and samples`;
  open.onclick = () => void showRun(r.name);
  name.append(open);
  tr.append(pick, thumb, name, el('td', 'system'), el('td', 'state'), el('td', 'headline'), el('td', 'age'));
  return tr;
}

/** Fills a run's row with what the list says now; its picture is fetched only when it has changed. */
function fillRow(tr: HTMLTableRowElement, r: RunInfo): void {
  const cell = (cls: string) => tr.querySelector<HTMLElement>('td.' + cls)!;
  cell('system').textContent = r.system;
  const state = cell('state');
  state.textContent = r.state;
  state.className = `state ${r.state}`;
  state.title = r.step === null ? '' : `step ${r.step}`;
  cell('headline').textContent = headlineWords(r);
  cell('age').textContent = ageWords(r.age_s);
  const img = tr.querySelector('img')!;
  const want = r.thumbnail ? fileUrl(r.thumbnail) : '';
  if (want && img.getAttribute('src') !== want) img.src = want;
  else if (!want) img.removeAttribute('src');
}

/** The ticked runs still listed, in the order they were ticked. */
const chosenRuns = (): RunInfo[] =>
  [...ticked].map((n) => listed.find((r) => r.name === n)).filter((r): r is RunInfo => r !== undefined);

function updateCompareButton(): void {
  const chosen = chosenRuns();
  const systems = [...new Set(chosen.map((r) => r.system))];
  const button = $<HTMLButtonElement>('runs-compare');
  const status = $('runs-status');
  button.disabled = chosen.length < 2 || systems.length > 1;
  status.textContent =
    systems.length > 1
      ? `only runs of one system compare; these are ${systems.join(' and ')}`
      : chosen.length < 2
        ? 'tick two or more runs of one system to compare them'
        : '';
}

/** Shows the runs in `runs`, the latest started first, keeping each row (and its ticks) that is still there. */
function render(runs: RunInfo[]): void {
  listed = runs;
  const body = $('runs-list');
  const names = new Set(runs.map((r) => r.name));
  for (const [name, tr] of rows)
    if (!names.has(name)) {
      tr.remove();
      rows.delete(name);
      ticked.delete(name);
    }
  const order = [...runs].sort((a, b) => b.started - a.started || a.name.localeCompare(b.name));
  order.forEach((r, i) => {
    let tr = rows.get(r.name);
    if (!tr) rows.set(r.name, (tr = newRow(r)));
    fillRow(tr, r);
    // A row moves only when its place changed (a row being clicked is not taken out and put back).
    if (body.children[i] !== tr) body.insertBefore(tr, body.children[i] ?? null);
  });
  $('runs-empty').hidden = runs.length > 0;
  $('runs-table').hidden = runs.length === 0;
  updateCompareButton();
}

/**
 * Asks for the list and shows it; the run pickers are refilled when a run came, went or got a
 * checkpoint, or always with `refill` (a job ended: its run's checkpoint is new).
 */
export async function loadRuns(refill = false): Promise<void> {
  let runs: RunInfo[];
  try {
    runs = await api<RunInfo[]>('GET', '/api/runs');
  } catch (e) {
    $('runs-status').textContent = 'the studio did not list its runs: ' + (e as Error).message;
    return;
  }
  render(runs);
  const key = runs.map((r) => `${r.name}:${r.checkpoint}`).join('\n');
  if (refill || key !== pickersKey) {
    pickersKey = key;
    await refreshRuns(runs);
  }
}

let timer = 0;
/** Polls the list while the runs tab is shown and the page is visible; stops otherwise. */
export function watchRuns(shown: boolean): void {
  window.clearInterval(timer);
  timer = 0;
  if (!shown) return;
  void loadRuns();
  timer = window.setInterval(() => {
    if (document.visibilityState === 'visible') void loadRuns().then(refreshRun);
  }, POLL_MS);
}

$('runs-compare').onclick = () => {
  void showCompare(chosenRuns().map((r) => r.name));
};
