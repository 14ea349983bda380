// The studio's page: forms that start jobs on the server (built from the systems' option
// tables), their logs, charts and pictures over server-sent events, and the playgrounds (text
// generation, the VAE's latent plane, GAN seeds, models run in the page). Compiled for the
// browser by src/studio/page/tsconfig.json; the studio serves each module under /page/.
import { $, api, el, fileUrl } from './dom.js';
import { buildForms } from './forms.js';
import { listen, onJobDone } from './job-view.js';
import { refreshImages, refreshRuns, type RunInfo } from './pickers.js';
import './playgrounds.js';
import './in-page.js';

function show(tab: string): void {
  for (const b of document.querySelectorAll<HTMLButtonElement>('nav button'))
    b.classList.toggle('on', b.dataset.tab === tab);
  for (const s of document.querySelectorAll('main section')) s.classList.toggle('on', s.id === 'tab-' + tab);
  if (tab === 'runs') void loadRuns();
}

async function loadRuns(): Promise<void> {
  const runs = await api<RunInfo[]>('GET', '/api/runs');
  const list = $('runs-list');
  list.textContent = runs.length ? '' : 'no runs yet: the runs that jobs write appear here';
  for (const r of runs.reverse()) {
    const last = r.metrics[r.metrics.length - 1];
    const summary = last
      ? ': ' +
        Object.entries(last)
          .filter(([, v]) => typeof v === 'number' || typeof v === 'string')
          .slice(0, 5)
          .map(([k, v]) => k.replace(/_/g, ' ') + ' ' + (typeof v === 'number' ? +v.toPrecision(4) : String(v)))
          .join(', ')
      : '';
    const box = el('div', 'imgs');
    for (const f of r.images.slice(-6)) {
      const i = el('img');
      i.src = fileUrl(f);
      box.append(i);
    }
    const d = el('div');
    d.append(el('h3', '', r.name), el('div', '', r.system + summary), box);
    list.append(d);
  }
}

async function start(): Promise<void> {
  try {
    await buildForms();
  } catch (e) {
    for (const box of document.querySelectorAll('.opts'))
      box.textContent = 'the studio did not say what this form offers: ' + (e as Error).message;
  }
  for (const b of document.querySelectorAll<HTMLButtonElement>('nav button'))
    b.onclick = () => show(b.dataset.tab ?? '');
  listen();
  onJobDone(() => void refreshRuns());
  await Promise.all([refreshImages(), refreshRuns()]);
}
void start();
