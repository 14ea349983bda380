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
import './dream-compare.js';

const tabList = document.querySelector<HTMLElement>('[role=tablist]')!;
const tabs = (): HTMLButtonElement[] => [...tabList.querySelectorAll<HTMLButtonElement>('[role=tab]')];

/**
 * Shows a tab's panel. The tabs follow the ARIA tabs pattern: each names its panel, and only
 * the chosen one is in the Tab order (the arrow keys move between them).
 */
function show(tab: string, focus = false): void {
  for (const b of tabs()) {
    const on = b.dataset.tab === tab;
    b.id = 'tab-button-' + b.dataset.tab;
    b.setAttribute('aria-controls', 'tab-' + b.dataset.tab);
    document.getElementById('tab-' + b.dataset.tab)?.setAttribute('aria-labelledby', b.id);
    b.classList.toggle('on', on);
    b.setAttribute('aria-selected', String(on));
    b.tabIndex = on ? 0 : -1;
    if (on && focus) b.focus();
  }
  for (const s of document.querySelectorAll('main section')) s.classList.toggle('on', s.id === 'tab-' + tab);
  watchRuns(tab === 'runs');
}
const chosen = (): string => tabs().find((b) => b.classList.contains('on'))?.dataset.tab ?? 'text';

// Delegated, so that the tabs of plugins' systems (added with their forms) work too.
tabList.addEventListener('click', (e) => {
  const b = (e.target as HTMLElement).closest<HTMLButtonElement>('[role=tab]');
  if (b) show(b.dataset.tab ?? '');
});
tabList.addEventListener('keydown', (e) => {
  const all = tabs();
  const at = all.findIndex((b) => b === document.activeElement);
  if (at < 0) return;
  const to = { ArrowRight: at + 1, ArrowLeft: at - 1, Home: 0, End: all.length - 1 }[e.key];
  if (to === undefined) return;
  e.preventDefault();
  show(all[(to + all.length) % all.length].dataset.tab ?? '', true);
});
show(chosen());

async function start(): Promise<void> {
  try {
    await buildForms();
  } catch (e) {
    for (const box of document.querySelectorAll('.opts'))
      box.textContent = 'the studio did not say what this form offers: ' + (e as Error).message;
  }
  show(chosen());
  listen();
  onJobDone(() => void loadRuns(true));
  await Promise.all([refreshImages(), refreshRuns()]);
}
void start();
