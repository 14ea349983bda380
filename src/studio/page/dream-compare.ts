// A finished dream over the picture it started from, and a slider that wipes from one to the other.
import { $, el, optional } from './dom.js';
import { jobs, onJobDone } from './job-view.js';

/** The picture the latest dream started from (the form's choice when start was pressed). */
let started: string | null = null;
$('dream-start').addEventListener('click', () => {
  started = (optional('dream-image') as HTMLSelectElement | null)?.value || null;
});

function compare(box: HTMLElement, dream: HTMLImageElement, from: string): void {
  const before = el('img', 'before');
  before.src = '/api/images/file?name=' + encodeURIComponent(from);
  before.alt = 'the picture before the dream';
  const after = el('img', 'after');
  after.src = dream.src;
  after.alt = 'the dream';
  const pair = el('div', 'pair');
  pair.style.width = dream.naturalWidth + 'px';
  pair.append(before, after);
  const wipe = el('input');
  [wipe.type, wipe.min, wipe.max, wipe.value] = ['range', '0', '100', '50'];
  wipe.setAttribute('aria-label', 'how much of the dream shows, from the left');
  const show = () => (after.style.clipPath = `inset(0 ${100 - Number(wipe.value)}% 0 0)`);
  wipe.oninput = show;
  show();
  const label = el('label', '', 'before ');
  label.append(wipe, ' the dream');
  const fig = el('figure', 'compare');
  fig.append(pair, label);
  box.prepend(fig);
}

onJobDone(() => {
  const box = optional('dream-images');
  if (jobs.get('dream')?.status !== 'done' || !started || !box || box.querySelector('.compare')) return;
  const from = started;
  started = null;
  // The dream's last picture may arrive just after the job's end.
  const ready = () => {
    const dream = box.querySelector<HTMLImageElement>(':scope > a img');
    if (!dream) return false;
    if (dream.complete && dream.naturalWidth) compare(box, dream, from);
    else dream.addEventListener('load', () => compare(box, dream, from), { once: true });
    return true;
  };
  if (ready()) return;
  const watch = new MutationObserver(() => ready() && watch.disconnect());
  watch.observe(box, { childList: true });
});
