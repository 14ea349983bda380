// The studio's page: forms that start jobs on the server, their logs, charts and pictures over
// server-sent events, and the playgrounds (text generation, the VAE's latent plane, GAN seeds).
// Compiled for the browser by src/studio/page/tsconfig.json.

type System = 'text' | 'dream' | 'style' | 'vae' | 'gan' | 'style-video';
interface Job {
  id: string;
  system: System;
  status: string;
  error?: string;
}
type LogRecord = Record<string, number | number[] | string | undefined>;
/** Each run's settings, from the runs list (the VAE's latent size, for decoding in the page). */
const runConfigs = new Map<string, Record<string, unknown>>();
type ServerEvent =
  | { type: 'hello' }
  | { type: 'job'; job: Job }
  | { type: 'log'; job: Job; record: LogRecord }
  | { type: 'file'; job: Job; file: string };
interface RunInfo {
  name: string;
  system: string;
  config: Record<string, unknown>;
  checkpoint: boolean;
  metrics: Record<string, unknown>[];
  images: string[];
}

function $<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`the page has no #${id}`);
  return el as T;
}
const field = (id: string): HTMLInputElement => $<HTMLInputElement>(id);
const optional = (id: string): HTMLElement | null => document.getElementById(id);

const jobs: Partial<Record<System, Job>> = {}; // each system's latest job
const plan: Partial<Record<System, { started: number; total: number }>> = {}; // for the time left
const fileUrl = (f: string): string => '/files/' + f.split('/').map(encodeURIComponent).join('/');

for (const b of document.querySelectorAll<HTMLButtonElement>('nav button')) b.onclick = () => show(b.dataset.tab ?? '');
function show(tab: string): void {
  for (const b of document.querySelectorAll<HTMLButtonElement>('nav button'))
    b.classList.toggle('on', b.dataset.tab === tab);
  for (const s of document.querySelectorAll('main section')) s.classList.toggle('on', s.id === 'tab-' + tab);
  if (tab === 'runs') void loadRuns();
}

// The studio's session cookie (HttpOnly, from the link it printed) goes with every same-origin request.
async function api<T>(method: string, url: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = {};
  if (body) headers['content-type'] = 'application/json';
  const r = await fetch(url, { method, headers, body: body ? JSON.stringify(body) : undefined });
  const data = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(data.error || r.statusText);
  return data as T;
}

function setStatus(system: System, text: string, cls = ''): void {
  const el = optional(system + '-status');
  if (!el) return;
  el.textContent = text;
  el.className = 'status ' + cls;
}

for (const fs of document.querySelectorAll<HTMLFieldSetElement>('fieldset[data-system]')) {
  const system = fs.dataset.system as System;
  fs.querySelector<HTMLButtonElement>('.start')!.onclick = async () => {
    const options: Record<string, string | boolean> = {};
    const model = fs.querySelector<HTMLSelectElement>('[data-opt="model"]')?.value;
    for (const el of fs.querySelectorAll<HTMLInputElement>('[data-opt]')) {
      // One model's setting (data-model) is not sent for the other, which would refuse it.
      if (el.dataset.model && el.dataset.model !== model) continue;
      options[el.dataset.opt!] = el.type === 'checkbox' ? el.checked : el.value;
    }
    curves[system] = new Map();
    drawChart(system);
    $(system + '-log').textContent = '';
    const n = (k: string): number => Number(options[k]) || 0;
    const total = {
      text: n('steps'),
      gan: n('steps'),
      dream: n('octaves') * n('steps'),
      style: n('iterations'),
      vae: n('epochs'),
      'style-video': 0, // the job's log says how many frames
    };
    plan[system] = { started: 0, total: total[system] };
    const imgs = optional(system + '-images');
    if (imgs) imgs.textContent = '';
    const bar = optional(system + '-bar') as HTMLProgressElement | null;
    if (bar) bar.hidden = true;
    try {
      jobs[system] = await api<Job>('POST', '/api/jobs', { system, options });
      setStatus(system, 'queued');
    } catch (e) {
      setStatus(system, (e as Error).message, 'failed');
    }
  };
  fs.querySelector<HTMLButtonElement>('.stop')!.onclick = async () => {
    const job = jobs[system];
    if (job) await api('DELETE', '/api/jobs/' + job.id).catch(() => {});
  };
}

// Live charts: the Vega-Lite specification that run folders and the gallery are drawn from
// (src/io/chart-spec.ts, loaded as it is), drawn here by Vega; all from node_modules.
interface Curve {
  name: string;
  x: number[];
  y: number[];
}
type LineChartSpec = (curves: Curve[], o: { x: string; y: string; width?: number; height?: number }) => unknown;
interface Vega {
  vega: {
    parse(spec: unknown): unknown;
    View: new (
      runtime: unknown,
      o: { renderer: 'svg'; container: HTMLElement },
    ) => { runAsync(): Promise<unknown>; finalize(): void };
  };
  vegaLite: { compile(spec: unknown): { spec: unknown } };
}
/** Per system: the x field (its title unless given), the y title, and which log fields are drawn under which names. */
const CHARTS: Record<System, { x: string; xTitle?: string; y: string; curves: [string, string][] }> = {
  text: {
    x: 'step',
    y: 'bits per character',
    curves: [
      ['bpc', 'training'],
      ['val_bpc', 'held-out'],
    ],
  },
  vae: {
    x: 'step',
    y: 'nats per image',
    curves: [
      ['loss', 'training loss'],
      ['test_elbo_nats', 'test -ELBO'],
    ],
  },
  gan: {
    x: 'step',
    y: 'loss (binary cross-entropy)',
    curves: [
      ['d_loss', 'discriminator'],
      ['a_loss', 'generator'],
    ],
  },
  dream: { x: '', xTitle: 'step (all octaves)', y: 'loss', curves: [['loss', 'loss']] },
  style: { x: 'iteration', y: 'loss', curves: [['loss', 'total loss']] },
  'style-video': { x: 'frame', y: '', curves: [] },
};
const curves: Partial<Record<System, Map<string, Curve>>> = {};
const CHART_SPEC_URL = '/chart-spec.js';
let chartKit: Promise<{ v: Vega; lineChartSpec: LineChartSpec }> | null = null;
function loadChartKit(): Promise<{ v: Vega; lineChartSpec: LineChartSpec }> {
  chartKit ??= (async () => {
    await loadScript('/vendor/vega/vega.min.js');
    await loadScript('/vendor/vega-lite/vega-lite.min.js');
    const { lineChartSpec } = (await import(CHART_SPEC_URL)) as { lineChartSpec: LineChartSpec };
    return { v: window as unknown as Vega, lineChartSpec };
  })();
  return chartKit;
}

/** A log record's values onto its system's curves. */
function addPoints(system: System, r: LogRecord): boolean {
  const c = CHARTS[system];
  const m = (curves[system] ??= new Map());
  let added = false;
  for (const [field, name] of c.curves) {
    const y = r[field];
    if (typeof y !== 'number') continue;
    const curve = m.get(name) ?? { name, x: [], y: [] };
    m.set(name, curve);
    const x = r[c.x];
    curve.x.push(typeof x === 'number' ? x : curve.x.length);
    curve.y.push(y);
    added = true;
  }
  return added;
}

const drawn: Partial<Record<System, { finalize(): void }>> = {};
const chartDue: Partial<Record<System, number>> = {};
/** Draws the system's chart at most twice a second. */
function drawChart(system: System): void {
  if (chartDue[system]) return;
  chartDue[system] = window.setTimeout(() => {
    chartDue[system] = 0;
    void drawNow(system);
  }, 500);
}
async function drawNow(system: System): Promise<void> {
  const box = optional(system + '-chart');
  const shown = [...(curves[system]?.values() ?? [])];
  if (!box) return;
  drawn[system]?.finalize();
  box.textContent = '';
  if (!shown.length) return;
  const { v, lineChartSpec } = await loadChartKit();
  const c = CHARTS[system];
  const spec = lineChartSpec(shown, { x: c.xTitle ?? c.x, y: c.y, width: 340, height: 140 });
  const view = new v.vega.View(v.vega.parse(v.vegaLite.compile(spec).spec), { renderer: 'svg', container: box });
  drawn[system] = view;
  await view.runAsync();
}

const events = new EventSource('/api/events');
events.onmessage = (m: MessageEvent<string>) => {
  const e = JSON.parse(m.data) as ServerEvent;
  if (e.type === 'hello') return;
  const system = e.job.system;
  const current = jobs[system];
  if (current && current.id !== e.job.id) return;
  jobs[system] = e.job;
  if (e.type === 'job') {
    setStatus(system, e.job.status + (e.job.error ? ': ' + e.job.error : ''), e.job.status);
    if (e.job.status === 'done') void refreshModels();
  } else if (e.type === 'log') onLog(system, e.record);
  else if (e.type === 'file') onFile(system, e.file);
};

function onLog(system: System, r: LogRecord): void {
  const log = $(system + '-log');
  log.textContent += JSON.stringify(r) + '\n';
  log.scrollTop = log.scrollHeight;
  if (addPoints(system, r)) drawChart(system);
  const num = (k: string): number | undefined => (typeof r[k] === 'number' ? (r[k] as number) : undefined);
  const bits: string[] = [];
  if (r.step !== undefined) bits.push('step ' + r.step);
  const iteration = num('iteration');
  if (iteration !== undefined) bits.push('iteration ' + (iteration + 1));
  const octave = num('octave');
  if (octave !== undefined) bits.push('octave ' + (octave + 1));
  const msStep = num('ms_per_step');
  if (msStep) bits.push(msStep.toFixed(0) + ' ms/step');
  const msEval = num('ms_per_eval');
  if (msEval) bits.push(msEval.toFixed(0) + ' ms/eval');
  const ranks = r.rank_ms_per_step;
  if (Array.isArray(ranks)) bits.push(ranksNote(r, ranks));
  const frame = num('frame');
  const frames = num('frames');
  if (frame !== undefined) bits.push('frame ' + frame + (frames ? ' of ' + frames : ''));
  const bar = optional(system + '-bar') as HTMLProgressElement | null;
  if (bar && frame !== undefined && frames) {
    // A video: a bar per frame, and the time left from the frames done so far.
    bar.hidden = false;
    [bar.max, bar.value] = [frames, frame];
    const p = (plan[system] ??= { started: 0, total: 0 });
    if (!p.started) p.started = Date.now();
    p.total = 0; // a frame's own steps say nothing of the video's time left
    const sec = (((Date.now() - p.started) / 1000) * (frames - frame)) / frame;
    if (frame < frames)
      bits.push('about ' + (sec < 90 ? Math.round(sec) + ' s' : Math.round(sec / 60) + ' min') + ' left');
  }
  const left = timeLeft(system, r);
  if (left) bits.push(left);
  if (bits.length) setStatus(system, 'running: ' + bits.join(', '), 'running');
}

/**
 * A data-parallel job in a few words: its processes, each rank's time per step (a slow rank
 * holds the others back), the time in collectives, the global batch and throughput.
 */
function ranksNote(r: LogRecord, ranks: number[]): string {
  const per = ranks.map((ms, i) => `rank ${i} ${ms.toFixed(0)}`).join(', ');
  const n = (k: string): number => (typeof r[k] === 'number' ? (r[k] as number) : 0);
  const rate = n('chars_per_sec')
    ? Math.round(n('chars_per_sec')).toLocaleString('en') + ' chars/s'
    : Math.round(n('images_per_sec') || (n('global_batch') * 1000) / n('ms_per_step')) + ' images/s';
  return `${ranks.length} processes (ms/step: ${per}; collectives ${n('collective_ms_per_step').toFixed(0)}), global batch ${n('global_batch')}, ${rate}`;
}

/** A file the studio stores as video (its uploads and outputs). */
const isVideo = (file: string): boolean => /\.(mp4|webm|mov|mkv)$/i.test(file);

function onFile(system: System, file: string): void {
  const box = optional(system + '-images');
  if (!box) return;
  const a = document.createElement('a');
  a.href = fileUrl(file);
  a.download = file.split('/').pop() ?? file;
  a.title = 'download ' + a.download;
  if (isVideo(file)) {
    // A video plays in the page; the link under it downloads it.
    const v = document.createElement('video');
    [v.src, v.controls, v.loop] = [fileUrl(file), true, true];
    a.textContent = 'download ' + a.download;
    const fig = document.createElement('figure');
    fig.append(v, a);
    box.prepend(fig);
    return;
  }
  const img = document.createElement('img');
  img.src = fileUrl(file);
  a.append(img);
  box.prepend(a);
  while (box.children.length > 8) box.lastElementChild?.remove();
}

// Time left from the elapsed time and the fraction done (steps, octave steps, iterations or epochs).
function timeLeft(system: System, r: LogRecord): string {
  const p = plan[system];
  if (!p || !p.total) return '';
  if (!p.started) p.started = Date.now();
  const n = (k: string): number | undefined => (typeof r[k] === 'number' ? (r[k] as number) : undefined);
  const step = n('step');
  const octave = n('octave');
  const iteration = n('iteration');
  const octaves = Number(field('dream-octaves').value || 1);
  const done = {
    text: step,
    gan: step,
    dream: octave !== undefined && step !== undefined ? octave * (p.total / octaves) + step + 1 : undefined,
    style: iteration !== undefined ? iteration + 1 : undefined,
    vae: n('epoch'),
    'style-video': undefined, // by frames, in onLog
  }[system];
  if (done === undefined || !(done > 0) || done >= p.total) return '';
  const sec = (((Date.now() - p.started) / 1000) * (p.total - done)) / done;
  return 'about ' + (sec < 90 ? Math.round(sec) + ' s' : Math.round(sec / 60) + ' min') + ' left';
}

/**
 * Replaces a select's options with `names` (as text, never as markup), keeping a still-listed
 * choice; an optional pick (data-optional="none") starts with an empty choice of that label.
 */
function fillSelect(sel: HTMLSelectElement, names: string[], keep: string | undefined): void {
  const none = sel.dataset.optional;
  sel.replaceChildren(...(none === undefined ? [] : [new Option(none, '')]), ...names.map((n) => new Option(n, n)));
  if (keep && names.includes(keep)) sel.value = keep;
}

async function refreshImages(): Promise<void> {
  const list = await api<string[]>('GET', '/api/images');
  for (const sel of document.querySelectorAll<HTMLSelectElement>('select.image-pick')) {
    // data-video: "also" lists videos beside images, "only" videos alone; unset, images alone.
    const names = list.filter((n) =>
      sel.dataset.video === 'only' ? isVideo(n) : sel.dataset.video === 'also' || !isVideo(n),
    );
    fillSelect(sel, names, sel.value || sel.dataset.default);
  }
}
for (const up of document.querySelectorAll<HTMLInputElement>('input.upload')) {
  up.onchange = async () => {
    const f = up.files?.[0];
    if (!f) return;
    const type = up.accept.startsWith('.txt') ? 'text/plain' : f.type;
    const r = await fetch('/api/upload', {
      method: 'POST',
      headers: { 'content-type': type },
      body: f,
    });
    const data = await r.json();
    if (!r.ok) {
      alert(data.error);
      return;
    }
    await refreshImages();
    field(up.dataset.target!).value = data.id;
  };
}

async function refreshModels(): Promise<void> {
  const runs = await api<RunInfo[]>('GET', '/api/runs');
  const fill = (id: string, system: string): void => {
    const sel = $<HTMLSelectElement>(id);
    const keep = sel.value;
    const names = runs.filter((r) => r.system === system && r.checkpoint).map((r) => r.name);
    fillSelect(sel, names, names.includes(keep) ? keep : names[names.length - 1]);
  };
  fill('gen-run', 'text');
  fill('vae-run', 'vae');
  fill('gan-run', 'gan');
  fill('fast-run', 'style'); // a style run with a checkpoint is a fast style net
  fill('style-video-run', 'style');
  for (const r of runs) runConfigs.set(r.name, r.config);
  drawPlane();
  ganSample();
}

// text playground: the answer streams in as the model samples it
field('gen-temp').oninput = () => ($('gen-temp-v').textContent = field('gen-temp').value);
$('gen-go').onclick = async () => {
  const out = $('gen-out');
  out.textContent = ''; // the stream starts with the prime
  const r = await fetch('/api/text/generate', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      run: $<HTMLSelectElement>('gen-run').value,
      prime: field('gen-prime').value,
      temperature: Number(field('gen-temp').value),
      topK: Number(field('gen-topk').value),
      topP: Number(field('gen-topp').value),
      length: Number(field('gen-length').value),
    }),
  });
  if (!r.ok || !r.body) {
    out.textContent = (await r.json()).error;
    return;
  }
  const reader = r.body.getReader();
  const dec = new TextDecoder();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    out.textContent += dec.decode(value, { stream: true });
  }
};

// VAE latent plane: [-3, 3] on both axes; the image follows the pointer while it is down
const plane = $<HTMLCanvasElement>('vae-plane');
let dragging = false;
let pending: [number, number] | null = null;
let busy = false;
function drawPlane(pt?: [number, number]): void {
  const g = plane.getContext('2d');
  if (!g) return;
  g.clearRect(0, 0, 300, 300);
  g.strokeStyle = '#ccc';
  for (let i = 0; i <= 6; i++) {
    const p = i * 50;
    g.beginPath();
    g.moveTo(p, 0);
    g.lineTo(p, 300);
    g.moveTo(0, p);
    g.lineTo(300, p);
    g.stroke();
  }
  if (pt) {
    g.fillStyle = '#c33';
    g.beginPath();
    g.arc(pt[0], pt[1], 5, 0, 7);
    g.fill();
  }
}
async function decodeAt(px: number, py: number): Promise<void> {
  pending = [px, py];
  const run = $<HTMLSelectElement>('vae-run').value;
  if (busy || !run) return;
  busy = true;
  while (pending) {
    const [x, y] = pending;
    pending = null;
    const zx = (x / 300) * 6 - 3;
    const zy = 3 - (y / 300) * 6;
    $('vae-z').textContent = 'z = (' + zx.toFixed(2) + ', ' + zy.toFixed(2) + ')';
    drawPlane([x, y]);
    const img = $<HTMLImageElement>('vae-img');
    if (field('vae-inpage').checked) {
      img.src = await decodeInPage(run, zx, zy).catch((e: Error) => {
        $('vae-z').textContent = e.message;
        return img.src;
      });
      continue;
    }
    const url = '/api/vae/decode?run=' + encodeURIComponent(run) + '&x=' + zx + '&y=' + zy;
    const blob = await (await fetch(url)).blob();
    const old = img.src;
    img.src = URL.createObjectURL(blob);
    if (old.startsWith('blob:')) URL.revokeObjectURL(old);
  }
  busy = false;
}
const at = (e: PointerEvent): [number, number] => {
  const r = plane.getBoundingClientRect();
  return [e.clientX - r.left, e.clientY - r.top];
};
plane.onpointerdown = (e) => {
  dragging = true;
  void decodeAt(...at(e));
};
plane.onpointermove = (e) => {
  if (dragging) void decodeAt(...at(e));
};
window.onpointerup = () => (dragging = false);
// A form with a model choice shows only that model's settings (data-model), the ones it sends.
for (const pick of document.querySelectorAll<HTMLSelectElement>('select[data-opt="model"]')) {
  const showModel = () => {
    for (const el of pick.closest('fieldset')!.querySelectorAll<HTMLElement>('[data-model]'))
      (el.closest('label') ?? el).hidden = el.dataset.model !== pick.value;
  };
  pick.addEventListener('change', showModel);
  showModel();
}

$('vae-run').onchange = () => void decodeAt(150, 150);

$('vae-walk').onclick = () => {
  const run = $<HTMLSelectElement>('vae-run').value;
  if (!run) return;
  const a = field('vae-a').value;
  const b = field('vae-b').value;
  $<HTMLImageElement>('vae-strip').src = '/api/vae/interpolate?run=' + encodeURIComponent(run) + '&a=' + a + '&b=' + b;
};

// GAN: each seed is a grid of 16 latent points
field('gan-seed').oninput = () => {
  $('gan-seed-v').textContent = field('gan-seed').value;
  ganSample();
};
$('gan-run').onchange = ganSample;
field('gan-label').onchange = ganSample;
function ganSample(): void {
  const run = $<HTMLSelectElement>('gan-run').value;
  const label = field('gan-label').value;
  if (run) {
    $<HTMLImageElement>('gan-img').src =
      '/api/gan/sample?run=' +
      encodeURIComponent(run) +
      '&seed=' +
      field('gan-seed').value +
      (label === '' ? '' : '&label=' + encodeURIComponent(label));
  }
}

async function loadRuns(): Promise<void> {
  const runs = await api<RunInfo[]>('GET', '/api/runs');
  const list = $('runs-list');
  list.textContent = runs.length ? '' : 'no runs yet';
  for (const r of runs.reverse()) {
    const d = document.createElement('div');
    const last = r.metrics[r.metrics.length - 1];
    const summary = last
      ? ': ' +
        Object.entries(last)
          .slice(0, 5)
          .map(([k, v]) => k + ' ' + (typeof v === 'number' ? +v.toPrecision(4) : String(v)))
          .join(', ')
      : '';
    const title = document.createElement('h3');
    title.textContent = r.name;
    const info = document.createElement('div');
    info.textContent = r.system + summary;
    const box = document.createElement('div');
    box.className = 'imgs';
    for (const f of r.images.slice(-6)) {
      const i = document.createElement('img');
      i.src = fileUrl(f);
      box.append(i);
    }
    d.append(title, info, box);
    list.append(d);
  }
}

drawPlane();
void refreshImages();
void refreshModels();

// ---- exported models run in this page: onnxruntime-web, served by the studio from node_modules ----

interface OrtTensor {
  data: Float32Array;
  dims: readonly number[];
}
interface OrtSession {
  run(feeds: Record<string, OrtTensor>): Promise<Record<string, OrtTensor>>;
}
interface Ort {
  env: { wasm: { wasmPaths: string; numThreads: number } };
  Tensor: new (type: 'float32', data: Float32Array, dims: number[]) => OrtTensor;
  InferenceSession: { create(model: Uint8Array): Promise<OrtSession> };
}

const ORT_PATH = '/vendor/onnxruntime-web/';

/** A script of the studio's, run once; resolves when it has run. */
function loadScript(src: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const script = document.createElement('script');
    script.src = src;
    script.onload = () => resolve();
    script.onerror = () => reject(new Error(`could not load ${src} from the studio`));
    document.head.append(script);
  });
}
let ortLoaded: Promise<Ort> | null = null;
/** onnxruntime-web's WebAssembly build, loaded once, on first use. */
function loadOrt(): Promise<Ort> {
  ortLoaded ??= loadScript(ORT_PATH + 'ort.wasm.min.js').then(
    () => {
      const ort = (window as unknown as { ort: Ort }).ort;
      ort.env.wasm.wasmPaths = ORT_PATH;
      ort.env.wasm.numThreads = 1; // threads need a cross-origin-isolated page
      return ort;
    },
    (e: Error) => {
      ortLoaded = null;
      throw e;
    },
  );
  return ortLoaded;
}

const sessions = new Map<string, Promise<OrtSession>>();
/** A run exported by the studio as ONNX, in an inference session of this page (kept per run). */
function sessionOf(run: string, part = ''): Promise<OrtSession> {
  const key = run + '|' + part;
  let s = sessions.get(key);
  if (!s) {
    s = (async () => {
      const ort = await loadOrt();
      const r = await fetch('/api/export?run=' + encodeURIComponent(run) + (part ? '&part=' + part : ''));
      if (!r.ok) throw new Error((await r.json()).error);
      return ort.InferenceSession.create(new Uint8Array(await r.arrayBuffer()));
    })();
    s.catch(() => sessions.delete(key)); // a later try starts afresh
    sessions.set(key, s);
  }
  return s;
}

/** An image [1, C, H, W] in [0, 1] as a PNG data URL, each pixel `scale` x `scale`. */
function imageUrl(t: OrtTensor, scale = 1): string {
  const [, c, h, w] = t.dims;
  const small = document.createElement('canvas');
  [small.width, small.height] = [w, h];
  const pixels = new ImageData(w, h);
  for (let i = 0; i < h * w; i++) {
    for (let k = 0; k < 3; k++) pixels.data[4 * i + k] = Math.round(255 * t.data[(c === 1 ? 0 : k) * h * w + i]);
    pixels.data[4 * i + 3] = 255;
  }
  small.getContext('2d')!.putImageData(pixels, 0, 0);
  if (scale === 1) return small.toDataURL();
  const big = document.createElement('canvas');
  [big.width, big.height] = [w * scale, h * scale];
  const g = big.getContext('2d')!;
  g.imageSmoothingEnabled = false;
  g.drawImage(small, 0, 0, big.width, big.height);
  return big.toDataURL();
}

/** The VAE's decoder at (x, y) of the plane, computed in this page. */
async function decodeInPage(run: string, x: number, y: number): Promise<string> {
  const ort = await loadOrt();
  const session = await sessionOf(run, 'decoder');
  const latent = Number(runConfigs.get(run)?.latent) || 2;
  const z = new Float32Array(latent);
  z[0] = x;
  if (latent > 1) z[1] = y;
  const { image } = await session.run({ z: new ort.Tensor('float32', z, [1, latent]) });
  return imageUrl(image, 6);
}

// A fast style net on a photo chosen here: the photo is read and stylised in the page.
$('fast-go').onclick = async () => {
  const status = $('fast-status');
  const run = $<HTMLSelectElement>('fast-run').value;
  const file = field('fast-photo').files?.[0];
  if (!run || !file) {
    status.textContent = 'choose a trained style net and a photo';
    return;
  }
  status.textContent = 'stylising in this page...';
  try {
    const [ort, session, photo] = await Promise.all([loadOrt(), sessionOf(run), createImageBitmap(file)]);
    // The net halves the sides twice: multiples of 4 keep it exact.
    const scale = Math.min(1, (Number(field('fast-side').value) || 256) / Math.max(photo.width, photo.height));
    const [w, h] = [photo.width, photo.height].map((s) => Math.max(4, Math.round((s * scale) / 4) * 4));
    const canvas = document.createElement('canvas');
    [canvas.width, canvas.height] = [w, h];
    const g = canvas.getContext('2d')!;
    g.drawImage(photo, 0, 0, w, h);
    const rgba = g.getImageData(0, 0, w, h).data;
    const x = new Float32Array(3 * h * w);
    for (let i = 0; i < h * w; i++) for (let k = 0; k < 3; k++) x[k * h * w + i] = rgba[4 * i + k] / 255;
    const t0 = performance.now();
    const { stylised } = await session.run({ image: new ort.Tensor('float32', x, [1, 3, h, w]) });
    $<HTMLImageElement>('fast-out').src = imageUrl(stylised);
    status.textContent = `${w}x${h} in ${Math.round(performance.now() - t0)} ms, in this page`;
  } catch (e) {
    status.textContent = (e as Error).message;
  }
};
