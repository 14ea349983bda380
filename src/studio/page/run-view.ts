// One run's view, opened from the runs list: its charts from the gallery's specification
// (training beside held-out, every other term it logs) with a smoothing slider and a log
// scale, how far it is and the time left, its pictures by step and the text of each
// evaluation, and stop or resume. Asked for again with the list's poll, so a run the CLI or
// `loom launch` writes is live here too.
import { api, el, fileUrl, leftWords, secondsWords, $ } from './dom.js';
import { drawCurves } from './charts.js';
import { figure } from './log-format.js';
import { smooth } from './smoothing.js';
import type { RunView, Sample } from './api-types.js';

let shown: RunView | null = null;
/** What each chart box last drew (its data, smoothing and scale), so a poll that brings nothing new draws nothing. */
const drawnKeys = new WeakMap<HTMLElement, string>();
/** The text sample in the box, so it is fetched once. */
let textShown = '';

const say = (text: string, cls = ''): void => {
  const s = $('run-status');
  s.textContent = text;
  s.className = 'status ' + cls;
};

/** "step 120", "epoch 3 (step 120)", "real images". */
function sampleWords(s: Sample): string {
  if (s.epoch !== null) return `epoch ${s.epoch}` + (s.step !== null ? ` (step ${s.step})` : '');
  if (s.step !== null) return `step ${s.step}`;
  return s.kind === 'real' ? 'real images' : (s.kind ?? 'picture');
}

function drawProgress(v: RunView): void {
  const p = v.progress;
  const bar = $<HTMLProgressElement>('run-bar');
  bar.hidden = p.fraction === null;
  if (p.fraction !== null) bar.value = p.fraction;
  const parts: string[] = [];
  if (p.step !== null) parts.push(`step ${p.step}`);
  if (p.unit && p.done !== null && p.total !== null) {
    const done = p.unit === 'steps' ? String(p.done) : figure(p.done);
    parts.push(`${done} of ${figure(p.total)} ${p.unit} (${Math.round((p.fraction ?? 0) * 100)}%)`);
  } else if (p.step !== null) parts.push('its settings set no end');
  if (p.trained_s !== null) parts.push(secondsWords(p.trained_s) + ' trained');
  if (v.state === 'training' && p.left_s !== null) parts.push(leftWords(p.left_s));
  $('run-progress').textContent = parts.length
    ? `${v.state}: ${parts.join(' · ')}`
    : v.system === null
      ? `${v.state}: a folder of pictures (a dream's, a style transfer's), which logs no steps`
      : `${v.state}: nothing logged yet; its progress appears here as it logs`;
}

/** A chart box per chart of the view, kept across polls; drawn again only when something changed. */
function drawCharts(v: RunView): void {
  const box = $('run-charts');
  const weight = Number($<HTMLInputElement>('run-smooth').value);
  const log = $<HTMLInputElement>('run-log').checked;
  while (box.children.length > v.charts.length) box.lastElementChild!.remove();
  v.charts.forEach((c, i) => {
    let chart = box.children[i] as HTMLElement | undefined;
    if (!chart) {
      chart = el('div', 'chart');
      chart.dataset.empty = 'drawing the chart...';
      box.append(chart);
    }
    // A log scale only where every value is above 0.
    const positive = c.curves.every((x) => x.y.every((y) => y > 0));
    const key = JSON.stringify([
      v.name,
      c.y,
      c.curves.map((x) => [x.name, x.y.length, x.y[x.y.length - 1]]),
      weight,
      log,
    ]);
    if (drawnKeys.get(chart) === key) return;
    drawnKeys.set(chart, key);
    void drawCurves(
      chart,
      c.curves.map((x) => ({ name: x.name, x: x.step, y: x.y, smoothed: smooth(x.y, weight) })),
      {
        x: 'step',
        y: c.y + (log && !positive ? ' (linear: not every value is above 0)' : ''),
        log: log && positive,
        width: 340,
        height: 160,
      },
    );
  });
  const empty = $('run-charts-empty');
  empty.hidden = v.charts.length > 0;
  empty.textContent =
    v.system === null ? 'a folder of pictures has no curves' : 'its curves appear here once it logs a step';
}

/** The pictures of one step (a VAE's grid, reconstructions and samples together), the slider choosing the step. */
function drawImages(v: RunView): void {
  const groups = new Map<string, Sample[]>();
  for (const s of v.samples.images) {
    const k = sampleWords(s);
    groups.set(k, [...(groups.get(k) ?? []), s]);
  }
  const names = [...groups.keys()];
  const slider = $<HTMLInputElement>('run-image-step');
  // At the newest (or new to the view), it follows the newest as the run writes more.
  const atEnd = slider.value === slider.max || shown?.name !== v.name;
  slider.max = String(Math.max(0, names.length - 1));
  if (atEnd) slider.value = slider.max;
  $('run-image-pick').hidden = names.length < 2;
  const name = names[Number(slider.value)];
  $('run-image-step-v').textContent = name ? `${name}, ${Number(slider.value) + 1} of ${names.length}` : '';
  // A text run writes texts, not pictures: its section shows only if it has some.
  $('run-pictures').hidden = !names.length && v.system === 'text';
  const box = $('run-images');
  const want = (name ? groups.get(name)! : []).map((s) => fileUrl(s.file));
  const have = [...box.querySelectorAll('img')].map((i) => i.getAttribute('src'));
  if (JSON.stringify(want) === JSON.stringify(have)) return;
  box.replaceChildren(
    ...(name ? groups.get(name)! : []).map((s) => {
      const fig = el('figure');
      const img = el('img');
      img.src = fileUrl(s.file);
      img.alt = `${v.name}: ${[sampleWords(s), s.kind].filter(Boolean).join(', ')}`;
      fig.append(img, el('figcaption', '', s.kind && s.kind !== 'real' ? `${name}, ${s.kind}` : name));
      return fig;
    }),
  );
}

/** The evaluations' texts, newest first; the chosen one's text fetched once. */
async function drawTexts(v: RunView): Promise<void> {
  const pick = $<HTMLSelectElement>('run-text-pick');
  const texts = [...v.samples.texts].reverse();
  const keep = shown?.name === v.name ? pick.value : '';
  const wasNewest = !keep || keep === pick.options[0]?.value;
  pick.replaceChildren(...texts.map((s) => new Option(sampleWords(s), s.file)));
  if (!texts.length) pick.append(new Option('no texts yet', ''));
  pick.disabled = !texts.length;
  if (keep && !wasNewest && texts.some((s) => s.file === keep)) pick.value = keep;
  const out = $('run-text');
  // The other systems write pictures, not texts.
  $('run-texts').hidden = !texts.length && v.system !== 'text';
  const file = pick.value;
  if (file === textShown) return;
  textShown = file;
  if (!file) return void (out.textContent = '');
  const r = await fetch(fileUrl(file));
  if (textShown === file) out.textContent = r.ok ? await r.text() : `the studio did not send ${file}`;
}

function drawButtons(v: RunView): void {
  const stop = $<HTMLButtonElement>('run-stop');
  const resume = $<HTMLButtonElement>('run-resume');
  stop.hidden = v.state !== 'training' && v.job === null;
  resume.hidden = !v.resumable;
  $('run-outside').hidden = !(v.state === 'training' && v.job === null);
}

function draw(v: RunView): void {
  $('run-title').textContent = `${v.name} (${v.system ?? 'no system'})`;
  drawProgress(v);
  drawCharts(v);
  drawImages(v);
  void drawTexts(v);
  drawButtons(v);
  shown = v;
}

/** Asks for the open run again (the runs list's poll calls it); nothing while no run is open. */
export async function refreshRun(): Promise<void> {
  if (!shown) return;
  const name = shown.name;
  try {
    const v = await api<RunView>('GET', '/api/runs/view?run=' + encodeURIComponent(name));
    if (shown?.name === name) draw(v);
  } catch (e) {
    say((e as Error).message, 'failed');
  }
}

/** Opens a run's view. */
export async function showRun(name: string): Promise<void> {
  let v: RunView;
  try {
    v = await api<RunView>('GET', '/api/runs/view?run=' + encodeURIComponent(name));
  } catch (e) {
    $('runs-status').textContent = (e as Error).message;
    return;
  }
  if (shown?.name !== v.name) {
    // The gallery draws some charts (a style net's loss) on a log scale: the view starts as it does.
    $<HTMLInputElement>('run-log').checked = v.charts.some((c) => c.log);
    textShown = '';
    $('run-text').textContent = '';
    say('');
  }
  const fresh = shown?.name !== v.name;
  $('run-view').hidden = false;
  draw(v);
  // From the keyboard, the next Tab goes on into the view just opened.
  if (fresh) $('run-view').focus();
  $('run-view').scrollIntoView({ block: 'nearest' });
}

$('run-smooth').addEventListener('input', () => {
  $('run-smooth-v').textContent = $<HTMLInputElement>('run-smooth').value;
  if (shown) drawCharts(shown);
});
$('run-log').addEventListener('input', () => shown && drawCharts(shown));
$('run-image-step').addEventListener('input', () => shown && drawImages(shown));
$('run-text-pick').addEventListener('input', () => shown && void drawTexts(shown));
$('run-close').onclick = () => {
  shown = null;
  $('run-view').hidden = true;
};
$('run-stop').onclick = async () => {
  if (!shown) return;
  try {
    // The studio's own job, or a run trained elsewhere (the CLI, loom launch), by its lock.
    await api('POST', '/api/runs/stop', { run: shown.name });
    say('stopping: it saves a checkpoint first', 'running');
  } catch (e) {
    say((e as Error).message, 'failed');
  }
  await refreshRun();
};
$('run-resume').onclick = async () => {
  if (!shown) return;
  try {
    await api('POST', '/api/runs/resume', { run: shown.name });
    say('resumed: it goes on from its checkpoint', 'running');
  } catch (e) {
    say((e as Error).message, 'failed');
  }
  await refreshRun();
};
