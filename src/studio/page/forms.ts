// The job forms, built from the studio's answer to GET /api/systems (the systems' option
// tables): a widget per option with its default, bounds and help; values are checked here
// before a job is asked for, and only settings that differ from their defaults are sent.
import { $, api, el, optional, setStatus } from './dom.js';
import { jobs, startView, type Job, type Plan } from './job-view.js';
import { wireUpload } from './pickers.js';
import type { FormOption, JobInfo, SystemInfo } from './api-types.js';

export type { FormOption, JobInfo, SystemInfo } from './api-types.js';

/** Pickers of files: what an upload may be, and which of the studio's images and videos are listed. */
const PICKS: Record<string, { accept: string; video?: 'also' | 'only'; optional?: string; what: string }> = {
  image: { accept: 'image/*', what: 'an image' },
  media: { accept: 'image/*,video/*', video: 'also', what: 'an image or a video' },
  video: { accept: 'video/*', video: 'only', what: 'a video' },
  mask: { accept: 'image/*', optional: 'everywhere', what: 'a mask (white for the style)' },
  guide: { accept: 'image/*', optional: 'none', what: 'a guide image' },
};
/** Kinds that are the CLI's positional arguments: always sent, and required unless optional. */
const POSITIONAL = new Set(['image', 'media', 'video', 'run', 'mask']);

type Widget = HTMLInputElement | HTMLSelectElement;
interface Field {
  o: FormOption;
  input: Widget;
  label: HTMLLabelElement;
}

/** A value as the CLI spells it: lists comma-separated. */
const spell = (v: unknown): string => (Array.isArray(v) ? v.join(',') : String(v));
const words = (name: string): string => name.replace(/-/g, ' ');

/** What an unset option comes to: each variant's default ("vgg19 20, inception 10"), or the command's. */
function unsetHint(o: FormOption): string {
  if (!o.byVariant) return 'default';
  return Object.entries(o.byVariant)
    .map(([v, d]) => `${v} ${spell(d)}`)
    .join(', ');
}

/** The bounds of a number as words: " from 1 to 32", " of at least 0", " above 0". */
function bounds(o: FormOption): string {
  if (o.min !== undefined && o.max !== undefined) return ` from ${o.min} to ${o.max}`;
  if (o.min !== undefined) return ` of at least ${o.min}`;
  if (o.max !== undefined) return ` of at most ${o.max}`;
  return o.positive ? ' above 0' : '';
}

/** One sentence saying what is wrong with a field's value, or null when the studio may send it. */
export function problem(o: FormOption, value: string, picked: boolean): string | null {
  const label = words(o.name);
  if (POSITIONAL.has(o.kind) && o.kind !== 'mask' && !value)
    return o.kind === 'run'
      ? `there is no trained run to choose for ${label} yet`
      : `choose ${PICKS[o.kind].what} for ${label}${o.kind === 'video' ? ' (upload one first)' : ''}`;
  if (value === '' || picked) return null;
  if (o.kind === 'int' || o.kind === 'number') {
    const n = Number(value);
    const whole = o.kind === 'int';
    const ok =
      value.trim() !== '' &&
      Number.isFinite(n) &&
      (!whole || Number.isInteger(n)) &&
      (o.min === undefined || n >= o.min) &&
      (o.max === undefined || n <= o.max) &&
      (!o.positive || n > 0);
    return ok ? null : `${label} must be ${whole ? 'a whole number' : 'a number'}${bounds(o)}`;
  }
  if (o.kind === 'word' && !(/^[A-Za-z0-9_.:,=+@-]{1,200}$/.test(value) && !/^-|\.\.|\//.test(value)))
    return `${label} may hold only letters, digits and _ . : , = + @ - (not starting with -)`;
  return null;
}

function widget(system: SystemInfo, o: FormOption, id: string): Widget {
  const pick = Object.hasOwn(PICKS, o.kind) ? PICKS[o.kind] : undefined;
  const choices = o.choices ?? [];
  if (pick || o.kind === 'run' || choices.length) {
    const sel = el('select');
    if (pick) {
      sel.className = 'image-pick';
      if (pick.video) sel.dataset.video = pick.video;
      if (pick.optional) sel.dataset.optional = pick.optional;
      if (pick.video === 'only') sel.dataset.none = 'no video uploaded yet';
      if (typeof o.default === 'string') sel.dataset.default = o.default;
    } else if (o.kind === 'run') {
      sel.className = 'run-pick';
      sel.dataset.system = system.name;
      sel.dataset.none = `no trained ${system.name} run yet`;
    } else {
      if (o.default === null || o.default === undefined) sel.append(new Option(unsetHint(o), ''));
      sel.append(...choices.map((c) => new Option(String(c), String(c))));
      if (o.default !== null && o.default !== undefined) sel.value = String(o.default);
    }
    sel.id = id;
    return sel;
  }
  const input = el('input');
  input.id = id;
  if (o.kind === 'bool') {
    input.type = 'checkbox';
    input.checked = o.default === true;
    return input;
  }
  if (o.kind === 'int' || o.kind === 'number') {
    input.type = 'number';
    input.step = o.kind === 'int' ? '1' : 'any';
    if (o.min !== undefined) input.min = String(o.min);
    if (o.max !== undefined) input.max = String(o.max);
  }
  if (o.default !== null && o.default !== undefined) input.value = spell(o.default);
  else input.placeholder = unsetHint(o);
  if (input.placeholder.length > 8) input.classList.add('wide');
  if (o.kind === 'word' && input.value.length > 8) input.size = Math.min(40, input.value.length + 2);
  return input;
}

/**
 * Buttons that add or take out each name in a list value such as "mixed3=1,mixed5=0.5" (a
 * name with its weight, channel or octaves), pressed while the list holds the name.
 */
function pickButtons(option: string, picks: readonly string[], input: HTMLInputElement): HTMLElement {
  const row = el('div', 'picks');
  row.setAttribute('role', 'group');
  row.setAttribute('aria-label', `${words(option)}: add or remove`);
  const entries = () => input.value.split(',').filter(Boolean);
  const nameOf = (entry: string) => entry.split(/[=:@]/)[0];
  const buttons = picks.map((name) => {
    const b = el('button', '', name);
    b.type = 'button';
    b.onclick = () => {
      const now = entries();
      const kept = now.filter((e) => nameOf(e) !== name);
      input.value = (kept.length < now.length ? kept : [...now, `${name}=1`]).join(',');
      input.dispatchEvent(new Event('input'));
    };
    return b;
  });
  const show = () => {
    const held = new Set(entries().map(nameOf));
    for (const b of buttons) b.setAttribute('aria-pressed', String(held.has(b.textContent!)));
  };
  input.addEventListener('input', show);
  show();
  row.append(...buttons);
  return row;
}

/** The fieldset of a job the page has no place for (a plugin's): in a tab of its own system. */
function placeFor(system: SystemInfo, job: JobInfo): HTMLFieldSetElement {
  let section = optional('tab-' + system.name);
  if (!section) {
    section = el('section');
    section.id = 'tab-' + system.name;
    section.setAttribute('role', 'tabpanel');
    $('main').prepend(section);
    const b = el('button', '', system.name);
    b.dataset.tab = system.name;
    b.setAttribute('role', 'tab');
    const list = document.querySelector('[role=tablist]')!;
    list.insertBefore(b, list.querySelector('[data-tab="runs"]'));
  }
  const fs = el('fieldset');
  fs.dataset.system = job.name;
  fs.append(el('legend', '', `${system.title}: ${job.verb.join(' ')}`), el('div', 'opts'));
  const start = el('button', 'start', 'start');
  const stop = el('button', 'stop', 'stop');
  const status = el('span', 'status');
  status.setAttribute('role', 'status');
  [start.id, stop.id, status.id] = ['start', 'stop', 'status'].map((s) => `${job.name}-${s}`);
  const row = el('div', 'row');
  const chart = el('div', 'chart');
  const log = el('pre', 'log');
  [chart.id, log.id] = [`${job.name}-chart`, `${job.name}-log`];
  chart.dataset.empty = 'the loss curve appears here once the job logs';
  log.dataset.empty = "the job's progress appears here";
  row.append(chart, log);
  const imgs = el('div', 'imgs');
  imgs.id = `${job.name}-images`;
  imgs.dataset.empty = 'its pictures appear here';
  fs.append(start, stop, status, row, imgs);
  section.append(fs);
  return fs;
}

/** Builds a job's form into its fieldset and wires its start and stop buttons. */
function buildForm(system: SystemInfo, job: JobInfo): void {
  const fs =
    document.querySelector<HTMLFieldSetElement>(`fieldset[data-system="${CSS.escape(job.name)}"]`) ??
    placeFor(system, job);
  const box = fs.querySelector<HTMLElement>('.opts')!;
  box.textContent = '';
  const fields = new Map<string, Field>();
  // A setting that picks a variant comes before the settings of one variant.
  const pickers = new Set(job.options.flatMap((o) => (o.only ? [o.only.option] : [])));
  const ordered = [
    ...job.options.filter((o) => pickers.has(o.name)),
    ...job.options.filter((o) => !pickers.has(o.name)),
  ];
  for (const o of ordered) {
    const id = `${job.name}-${o.name}`;
    const input = widget(system, o, id);
    input.dataset.opt = o.name;
    const label = el('label');
    if (o.help) label.title = o.help;
    label.append(words(o.name) + ' ', input);
    box.append(label);
    if (o.picks && input instanceof HTMLInputElement) box.append(pickButtons(o.name, o.picks, input));
    fields.set(o.name, { o, input, label });
    const pick = Object.hasOwn(PICKS, o.kind)
      ? PICKS[o.kind]
      : o.kind === 'corpus'
        ? { accept: '.txt,text/plain' }
        : null;
    if (pick) {
      const up = el('input', 'upload');
      [up.type, up.accept, up.id] = ['file', pick.accept, `${id}-upload`];
      const upLabel = el('label', '', `upload ${o.kind === 'corpus' ? 'a text' : (PICKS[o.kind]?.what ?? '')} `);
      upLabel.append(up);
      box.append(upLabel);
      wireUpload(up, input, (s) => setStatus(job.name, s, 'failed'));
    }
  }
  // A form with a variant choice shows only that variant's settings, the ones it sends.
  const sent = (f: Field): boolean => !f.o.only || fields.get(f.o.only.option)?.input.value === f.o.only.value;
  const showVariant = (): void => {
    for (const f of fields.values()) f.label.hidden = !sent(f);
  };
  for (const name of pickers) fields.get(name)?.input.addEventListener('change', showVariant);
  showVariant();

  /** A setting's number as the job will take it: the field's, else the default (0: unknown). */
  const effective = (name: string): number => {
    const f = fields.get(name);
    if (!f) return 0;
    return Number(f.input.value || (typeof f.o.default === 'number' ? f.o.default : 0)) || 0;
  };
  fs.querySelector<HTMLButtonElement>('.start')!.onclick = async () => {
    const options: Record<string, string | boolean> = {};
    for (const f of fields.values()) {
      if (!sent(f)) continue;
      const { o, input } = f;
      const value = input instanceof HTMLInputElement && input.type === 'checkbox' ? '' : input.value;
      const wrong = problem(o, value, input instanceof HTMLSelectElement && o.kind !== 'word');
      if (wrong) return setStatus(job.name, wrong, 'failed');
      if (input instanceof HTMLInputElement && input.type === 'checkbox') {
        if (input.checked && o.default !== true) options[o.name] = true;
      } else if (POSITIONAL.has(o.kind) ? value !== '' : value !== '' && value !== spell(o.default ?? '')) {
        options[o.name] = value;
      }
    }
    const octaves = effective('octaves');
    const plan: Plan =
      octaves && fields.has('steps')
        ? { unit: 'octave-step', total: octaves * effective('steps'), octaves }
        : (['steps', 'iterations', 'epochs']
            .map((k) => ({ unit: k.replace(/s$/, ''), total: effective(k), octaves: 1 }))
            .find((p) => p.total > 0) ?? { unit: 'step', total: 0, octaves: 1 });
    startView(job.name, plan);
    try {
      jobs.set(job.name, await api<Job>('POST', '/api/jobs', { system: job.name, options }));
      setStatus(job.name, 'queued');
    } catch (e) {
      setStatus(job.name, (e as Error).message, 'failed');
    }
  };
  fs.querySelector<HTMLButtonElement>('.stop')!.onclick = async () => {
    const current = jobs.get(job.name);
    if (current) await api('DELETE', '/api/jobs/' + current.id).catch(() => {});
  };
}

/** Asks the studio for its systems and builds every job's form. */
export async function buildForms(): Promise<SystemInfo[]> {
  const systems = await api<SystemInfo[]>('GET', '/api/systems');
  for (const s of systems) for (const job of s.jobs) buildForm(s, job);
  return systems;
}
