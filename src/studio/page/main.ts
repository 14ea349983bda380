// The studio's page: forms that start jobs on the server (built from the systems' option
// tables), their logs, charts and pictures over server-sent events, and the playgrounds (text
// generation, the VAE's latent plane, GAN seeds, models run in the page), and the runs tab
// (every run listed, runs of one system compared). Compiled for the browser by
// src/studio/page/tsconfig.json; the studio serves each module under /page/.
import { buildForms } from './forms.js';
import { listen, onJobDone } from './job-view.js';
import { refreshImages, refreshRuns } from './pickers.js';
import { loadRuns, watchRuns } from './runs-view.js';
import './playgrounds.js';
import './in-page.js';

function show(tab: string): void {
  for (const b of document.querySelectorAll<HTMLButtonElement>('nav button'))
    b.classList.toggle('on', b.dataset.tab === tab);
  for (const s of document.querySelectorAll('main section')) s.classList.toggle('on', s.id === 'tab-' + tab);
  watchRuns(tab === 'runs');
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
  onJobDone(() => void loadRuns(true));
  await Promise.all([refreshImages(), refreshRuns()]);
}
void start();
